// Package search is pure optimisation over numbers and plain-data genomes.
//
// A search method is an ask/tell state machine: Ask returns the next batch of
// candidate genomes, Tell hands back their scores. The Run loop owns the
// budget (evaluations, wall time), cancellation and recording, so every method
// stops the same way and no method enforces limits of its own.
//
// # Contract
//
//   - search never imports evaluate, operators, internal/nn or internal/tensor.
//     It defines the interfaces it consumes (Evaluator, GradientEvaluator,
//     Recorder) and its callers satisfy them.
//   - Results are matched to candidates by batch index, never by completion
//     order, so a seeded run is identical whatever the evaluator's concurrency.
//   - Randomness comes only from streams derived by internal/rng from the
//     experiment seed.
//   - Methods that need model information receive numbers only: losses and
//     dL/dλ per coefficient (AdaMerging), alignments of pool members with the
//     loss gradient (FW-Merging), per-example scores (M2N2).
//
// Sub-packages hold one method each (random, nsga2, ga, cmaes, m2n2,
// mapmerge, fw, adamerging).
package search
