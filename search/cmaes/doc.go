// Package cmaes is CMA-ES over a scalarised objective (search.Scalarization),
// as mergekit-evolve uses it, in two variants:
//
//   - Full: gonum's optimize.CmaEsChol (Cholesky-factored full covariance,
//     O(n²) memory and time per sample).
//   - Separable: the diagonal sep-CMA-ES of Ros & Hansen (2008), written
//     here, for high dimensions where a full covariance does not fit: O(n)
//     memory, covariance learning rates scaled by (n+2)/3.
//
// Auto (the default) picks Full up to SeparableAbove dimensions (128) and
// Separable above.
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
// optimize.Minimize with the same source. CmaEsChol samples from N(m, Σ) with
// Σ starting at InitCholesky, so the initial step size σ0 is passed as
// Σ0 = σ0²·I (and as InitStepSize). Measured caveat: gonum's step-size path
// never rescales Σ, so CmaEsChol converges much more slowly than textbook
// CMA-ES above a few dimensions (sphere-10: ≈1 after 3000 evaluations).
//
// # Contract
//
//   - Deterministic: CmaEsChol's Src is rng.NewSource(seed, "search/cmaes",
//     "full", "restart", k); the separable variant samples from rng.New(seed,
//     "search/cmaes", "separable", "restart", k). The same seed and told
//     scores give the same batches whatever the evaluator's concurrency.
//   - Failed candidates cost +Inf, so they rank last in the generation.
//   - On convergence (CmaEsChol's StopLogDet; for the separable variant a
//     step below 1e-12 or a condition number above 1e14) the next Ask
//     restarts from a uniform random mean; budgets are the Run loop's.
//   - Close (called by search.Run) stops the CmaEsChol goroutine.
package cmaes
