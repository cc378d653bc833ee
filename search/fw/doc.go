// Package fw is Frank-Wolfe merging (FW-Merging, Chen et al., ICCV 2025) as
// pure optimisation over numbers.
//
// The feasible set is the convex hull of a pool of checkpoints plus the
// base θ0 (the null vertex). Every iteration t asks a
// search.AlignmentEvaluator for the cosine alignment of each vertex's
// direction with the loss gradient at the current merged model θt, per
// tensor; the linear minimisation oracle (LMO) picks the most aligned
// (most negative) vertex, and the evaluator steps toward it by
// γt = η·2/(t+2) under its update rule (task arithmetic or TIES). The
// method never sees a tensor; the evaluator streams pool members from disk
// one at a time, so memory does not grow with the pool.
//
// # Contract
//
//   - Granularity "layer" (default): per tensor ℓ the LMO picks
//     argmin_v align(v, ℓ) over the pool members and the base; when even the
//     best alignment is ≥ 0 no vertex descends for that tensor and it stays
//     (search.VertexStay). Granularity "task": one vertex for the whole
//     model, argmin_v Σ_ℓ align(v, ℓ), or no move when that sum is ≥ 0.
//     Ties go to the lowest vertex index (pool order, base last).
//   - Hard (default): T iterations of one LMO step with scale λ·γt.
//   - Soft: per iteration, one gradient per target task; each task selects
//     the best whole-model vertex among pool members not yet selected in
//     that iteration; AdaMerging (search.OptimizeAdam) then learns per-tensor
//     coefficients of the selected members' directions (θk − θt), started
//     at 0.3 in the first iteration and at AdaInit afterwards, and the
//     evaluator applies them.
//   - Deterministic: no randomness here; the evaluator's gradient and any
//     batch sampling are seeded by the caller.
//   - Result records every iteration: loss, γt, the vertex chosen per
//     tensor and its alignment, and how often each pool member was chosen.
//   - Method runs FW-Merging inside search.Run: it needs the alignment
//     evaluator (search.NeedAlignment, Problem.Alignment), runs its
//     iterations in its first ask with a saved state after each, and,
//     restored (search.Stateful), replays the saved iterations' moves on the
//     evaluator's merged model without computing gradients, then continues.
package fw
