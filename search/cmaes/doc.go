// Package cmaes is CMA-ES over a scalarised objective (search.Scalarization),
// as mergekit-evolve uses it, in two variants:
//
//   - Full: gonum's optimize.CmaEsChol (Cholesky-factored full covariance,
//     O(n²) memory and time per sample).
//   - Separable: the diagonal sep-CMA-ES of Ros & Hansen (2008), written
//     here: O(n) memory, covariance learning rates scaled by (n+2)/3.
//
// Auto (the default) picks Full up to SeparableAbove dimensions
// (DefaultSeparableAbove = 4) and Separable above, by measurement (below).
//
// # Measured behaviour of gonum's CmaEsChol
//
// CmaEsChol samples from N(m, Σ) and never multiplies the samples by its
// step size σ: σ only divides the evolution paths and the rank-μ update
// (by σ, where the textbook divides by σ²). Cumulative step-size adaptation
// therefore changes learning rates instead of the spread, and Σ can shrink
// by at most the factor 1 − c1 − cμ (O(1/n²)) per generation. Driven by
// optimize.Minimize itself with gonum's recommended settings (default
// InitStepSize, Population and InitCholesky), the 10-dimensional sphere from
// (1, …, 1) is still at 1.1–1.8 after 3000 evaluations, where textbook
// CMA-ES, and the separable variant here, reach below 1e-22
// (TestGonumCmaEschol10). The full variant is kept because it is the only
// one that learns correlations: on rotated ellipsoids and Rosenbrock's
// valley in two to four dimensions it converges where the separable
// variant stalls. Median best value over five seeds after 300 / 1000 / 2000
// / 5000 evaluations, both variants at their defaults in this package
// (EVOMERGE_CMAES_TABLE=1 go test -run ConvergenceTable -v prints all of it):
//
//	sphere-3              full  1.6e-2  1.1e-3  8.9e-6  1.2e-11   separable 8.4e-8  3.1e-17 1.9e-17 2.4e-18
//	rotated-ellipsoid-3   full  40      1.0     1.4e-2  1.1e-8    separable 9.1     3.5     3.3     3.1
//	rosenbrock-3          full  1.3     0.2     1.8e-4  2.5e-10   separable 0.72    0.23    0.12    1.7e-2
//	rotated-ellipsoid-4   full  410     35      0.56    3.1e-5    separable 390     290     230     75
//	sphere-5              full  0.31    0.1     2.1e-2  3.3e-5    separable 9.5e-5  1.9e-14 1.4e-16 8.9e-17
//	rotated-ellipsoid-5   full  1900    280     53      7.8e-3    separable 150     78      38      32
//	rosenbrock-5          full  29      5.7     3.2     1.2e-4    separable 3.0     1.5     0.78    0.17
//	sphere-10             full  3.4     1.8     0.82    0.25      separable 0.19    1.5e-7  1.2e-15 2.2e-16
//	rotated-ellipsoid-10  full  2.8e4   1.4e4   7.6e3   350       separable 3.3e4   5.7e3   1.6e3   480
//
// Up to four dimensions Full solves the non-separable problems by orders of
// magnitude better and still converges on separable ones; from five on the
// separable variant is ahead within 2000 evaluations on every problem
// measured (typical merge-search budgets), so Auto switches there. Longer
// runs on non-separable problems of five to ten dimensions do better with
// Variant Full (and more so with a larger Population); values below 1e-12
// end in a TolFun restart (see Restarts).
//
// Two bridge settings follow from the same measurements. σ0 enters only
// through Σ0 = σ0²·I, with InitStepSize 1: σ stays dimensionless and the
// run is invariant to the scale of the coordinates
// (TestFullEngineScaleInvariant; passing σ0 as InitStepSize as well made a
// σ0 of 0.003 stall at 0.55 on sphere-3). And the full variant's default
// population is max(4 + ⌊3 ln n⌋, 4n): the larger μ_eff raises c_μ, the
// rate that bounds CmaEsChol's convergence, and was faster per evaluation
// from 1000 evaluations on in every case measured (sphere-3 after 2000:
// 9e-4 with λ = 7, 9e-6 with λ = 12).
//
// # Bounds
//
// Both variants search the unbounded plane; each sample is mirrored into the
// unit cube (Reflect: period-2 reflection at 0 and 1) and decoded into the
// space, and the engine is told the cost of the mirrored point. Mirroring
// keeps every genome valid, needs no penalty scale, and leaves optima inside
// the box and on its faces reachable.
//
// # Bridging CmaEsChol to ask/tell
//
// optimize.Minimize calls Problem.Func(x) from worker goroutines that know
// only x, so costs could not be matched to samples by index. Instead the
// method drives CmaEsChol through its optimize.Method protocol: Init(dim, λ)
// and Run on a goroutine with an operations and a results channel. Run
// samples a whole generation (λ tasks with IDs) sequentially from Src, the
// method returns them as one batch in ID order, and Tell sends back one
// FuncEvaluation result per ID, then answers the MajorIteration. Between
// calls the CmaEsChol goroutine is always waiting for a result, so Close
// stops it with PostIteration. A test checks that the samples equal those of
// optimize.Minimize with the same source.
//
// # Restarts
//
// A run restarts from a uniform random mean when its engine converges
// (CmaEsChol's StopLogDet; for the separable variant a step below 1e-12 or
// a condition number above 1e14) or when it stagnates by Hansen's TolFun
// (the generation-best costs of the last 10 + ⌈30n/λ⌉ generations and the
// current generation's costs within 1e-12) or EqualFunValues (the best and
// the max(2, ⌈0.1 + λ/4⌉)-th best cost equal in more than a third of those
// generations). CmaEsChol's own criterion never fires on a plateau, so
// without the last two a full run on a flat or quantised objective would
// never restart. Budgets are the Run loop's.
//
// # Contract
//
//   - Deterministic: CmaEsChol's Src is rng.NewSource(seed, "search/cmaes",
//     "full", "restart", k); the separable variant samples from rng.New(seed,
//     "search/cmaes", "separable", "restart", k). The same seed and told
//     scores give the same batches whatever the evaluator's concurrency.
//   - Failed candidates cost +Inf, so they rank last in the generation.
//   - Close (called by search.Run) stops the CmaEsChol goroutine.
package cmaes
