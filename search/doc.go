// Package search is pure optimisation over numbers and plain-data genomes.
//
// A search method is an ask/tell state machine (Method): Init receives the
// Problem (space, objective directions, seed), Ask returns the next batch of
// pending candidates, Tell hands them back evaluated. The Run loop owns the
// budget (evaluations, generations, wall time by an injectable clock),
// cancellation and recording, so every method stops the same way and no
// method enforces limits of its own.
//
// # Run
//
// Each round Run asks a batch, gives every candidate its id
// (population.ID of its genome, Settings.EvalSpec and Settings.Version) and
// generation, truncates the batch to the remaining evaluation budget,
// evaluates it, checks the scores (a wrong count or a NaN fails that
// candidate), tells recorders, and tells the method unless the batch was
// truncated or interrupted. It returns a Result with every evaluated
// candidate, the Pareto front of the successful ones, the counts and a
// Status saying why it stopped (evaluation, generation or runtime limit,
// method done, cancelled, failure with Err). Limits are checked before each
// Ask; a batch in flight is finished, except that cancelling the context
// lets the evaluator stop early, and candidates left pending are dropped.
// Methods holding goroutines implement Closer; Run closes them.
//
// # Contract
//
//   - search never imports evaluate, operators, internal/model or
//     internal/tensor.
//     It defines the interfaces it consumes (Evaluator, GradientEvaluator,
//     Recorder) and its callers satisfy them.
//   - Results are matched to candidates by batch index, never by completion
//     order, so a seeded run is identical whatever the evaluator's concurrency
//     (tested for the score-only methods random, nsga2, ga and cmaes with an
//     evaluator that completes in random order; m2n2 and map have their own
//     determinism tests).
//   - Failed candidates never stop a run: they are told to the method as
//     failed, and every method ranks them below successful ones.
//   - Randomness comes only from streams derived by internal/rng from the
//     experiment seed.
//   - Recorders observe only; a recorder error stops the run with
//     StatusFailure and names the recorder.
//   - Methods that need model information receive numbers only: losses and
//     dL/dλ per coefficient (AdaMerging, GradientEvaluator), alignments of
//     pool members with the loss gradient (FW-Merging), per-example scores
//     (M2N2, Candidate.Correct).
//
// Sub-packages hold one method each (random, nsga2, ga, cmaes, m2n2,
// mapmerge, adamerging, fw), each with its Settings and registry entry, and
// searchtest holds synthetic problems.
package search
