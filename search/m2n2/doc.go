// Package m2n2 implements M2N2, Model Merging of Natural Niches (Abrantes,
// Lange, Tang 2025): a steady-state evolutionary search over whole models
// with resource competition, attraction-based mate selection and split-point
// SLERP crossover.
//
// The method never touches weights. It keeps an archive of at most
// ArchiveSize candidates with their per-example scores on one fixed set of
// fitness examples, and proposes children as recipe genomes that an
// evaluator materialises (evaluate/lineage does it with the operators'
// "m2n2" crossover):
//
//	Recipe{Operator: "m2n2", Parents: [idA, idB],
//	       Params: {split: k, ratio: w, segment: 0|1, sigma: σ, noise: n}}
//
// k ~ UniformInt[0, D) is the cut in the canonical flattened parameter order
// (operators.M2N2Crossover: tensors in checkpoint.SortNames order, row-major
// within a tensor), w ~ U(0, 1) the mixing ratio before the cut (1 − w after
// it), segment selects one SLERP angle per segment instead of the reference
// code's single global angle, σ the standard deviation of the Gaussian
// mutation N(0, σ²) added to every parameter (from-scratch runs; absent when
// 0) and n the seed of the mutation's noise stream. With NoSplit the recipe
// has split = D: whole-model SLERP with t = w.
//
// Seeds (the initial archive) are coefficient-vector genomes of the space
// SeedSpace(n): one integer dimension "seed" whose value i names the i-th
// seed model the evaluator was given. The first Ask proposes every seed once.
//
// # Algorithm
//
// Every step (one child per step by default; BatchSize children proposed
// from the same archive otherwise) with the archive's score matrix s (rows:
// members, columns: fitness examples, values in [0, 1]):
//
//   - fitness F_i = Σ_j c_j s_ij / z_j^α with z_j = Σ_k s_kj
//     (fitness.Competition; α = 0 is the GA ablation, capacities c_j default 1);
//   - parent A ~ F / Σ F (uniform over the archive when every F is 0);
//   - parent B ~ g / Σ g with g_k = Σ_j max(0, f_kj − f_Aj), the attraction of
//     k to A; when every g is 0, B is uniform over the members other than A.
//     With NoAttraction, B ~ F / Σ F independently of A (with replacement,
//     as the reference code);
//   - the child is scored and competes with archive ∪ {child}: the member
//     with the lowest F (ties: lowest index, the child last) is removed. While
//     the archive has free slots a scored child simply enters it (empty slots
//     are filled first).
//
// Per-example scores come from the candidates' Correct bitsets (tasks in
// Config.Tasks order, all tasks in evaluator order when empty) or, for
// continuous metrics, from Config.Scores, whose values must lie in [0, 1]
// (map them with UnitScorer). A candidate with the wrong number of examples
// is an error: the competition is only defined on one fixed example set.
//
// Differences from the reference code, all deliberate fixes: empty slots are
// filled before any member is replaced; attraction falls back to uniform over
// the other members instead of dividing by zero; one PCG stream per run
// (internal/rng "search/m2n2") drawn in a fixed order per child (u_A, u_B, k,
// w, n) instead of four split keys per step.
//
// # Contract
//
//   - Deterministic: same Problem seed and same told scores give the same
//     recipes, whatever the evaluator's concurrency.
//   - Tell must receive exactly the candidates of the last Ask, in order.
//     Failed children are discarded; a failed seed is left out of the archive.
//   - Config.Observer, when set, is told the ids of the archive after every
//     Tell, so that an evaluator can release the weights of models that can
//     no longer be parents.
package m2n2
