// Package mapmerge implements MAP, model merging with amortized Pareto fronts
// (Li et al., ICLR 2025): fit cheap quadratic surrogates of every task metric
// over the task-arithmetic coefficient vector c from a small design of true
// evaluations, take the Pareto front of the surrogates, and serve any
// preference from it; chosen points are evaluated for real.
//
// The method searches a space of real coefficients (one per task vector,
// typically [0, 1]) for Problem.Directions objectives (one per task metric).
// Steps, as an ask/tell method:
//
//  1. Design: the N one-hot vectors plus a Latin hypercube, (N+1)(N+2)
//     points in all by default (twice the (N+1)(N+2)/2 unknowns of a
//     quadratic). Not the reference code's corner grid, which degenerates to
//     {0,1}^N for N ≥ 8 where c² = c makes the fit rank-deficient (Fit
//     refuses such designs).
//  2. Bayesian MAP (Config.Schedule): after the initial design, rounds of
//     error-driven points drawn by AdaptiveSampler (angular bins of c
//     weighted by surrogate residuals, with a floor for empty bins).
//  3. Surrogates: per objective M̃(c) = act(e + bᵀc + ½cᵀAc), fitted by least
//     squares (gonum SVD for the linear start, Levenberg–Marquardt through the
//     activation): sigmoid for accuracies, softplus for losses, identity for
//     plain OLS. Quality: in-sample and leave-one-out R² and RMSE.
//  4. Front: a dense grid (≤ 3 coefficients) or NSGA-II (search/nsga2 run on
//     the surrogates as a synthetic evaluator), restricted to the box the
//     design sampled (the reference searches [−3, 3]^N, where the quadratic
//     extrapolates).
//  5. Choice and re-evaluation: for each preference vector p, the front point
//     maximising (p/‖p‖)·M̃ (minimised objectives negated); these and
//     Reevaluate points spread along the front are evaluated for real. Then
//     the method is done (Ask returns an empty batch).
//
// Nested implements nested MAP for many tasks: a greedy tree of 2-task MAP
// merges, each over (c_a, c_b) of two groups' merged task vectors, expressed
// as coefficient vectors over the original tasks.
//
// # Contract
//
//   - Deterministic: randomness comes from internal/rng streams
//     ("search/mapmerge", ...); the same seed and told scores give the same
//     asks and the same outcome.
//   - Tell must receive exactly the candidates of the last Ask, in order.
//     Failed design points are left out of the fit; a fit needs at least
//     (N+1)(N+2)/2 successful points.
//   - Outcome (MAP) and Merges (nested) expose the surrogates, their quality,
//     the predicted and re-evaluated fronts for reports.
package mapmerge
