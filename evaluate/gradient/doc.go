// Package gradient holds the gradient-side evaluators of evomerge: what
// AdaMerging and FW-Merging (search/adamerging, search/fw) ask of the model,
// computed with the Go-native backend (internal/model) and handed back as
// numbers.
//
// # Contract
//
//   - TaskVectors are the resident base θ0 and task vectors τk = θk − θ0 of
//     every mergeable tensor (per-task heads excluded, never merged). TIES
//     gives AdaMerging++'s trimmed, sign-elected vectors (⌈keep·n⌉ entries,
//     model-wide as the reference or per tensor; zero sums take the sign of
//     the total trimmed mass). The task-vector and TIES math is the
//     operators package's kernels (TaskVector, AddTaskVector, Trim,
//     ElectSign, DropDisagreeing, MassSign); this package keeps no copy of
//     it. A Layout maps coefficients to (task vector, tensor):
//     task-wise, per tensor (the paper's "layer-wise") or per layer group.
//   - AdaMerging implements search.GradientEvaluator: θ(c) = θ0 + Σk c·τk is
//     written into a working model that keeps every task's head; for each
//     task a batch goes forward and backward through the task's head
//     (model.LossAndGrad, prediction entropy by default), the parameter
//     gradients are summed over tasks, and dL/dc = Σ_{l in c} ⟨dL/dθ[l],
//     τk[l]⟩ exactly (checked against central finite differences in the
//     tests). With the entropy loss it reads unlabelled inputs only; fed
//     test inputs it is test-time adaptation, and callers say so.
//   - FrankWolfe implements search.SoftAlignmentEvaluator: it holds θ0, θt,
//     one gradient and one step direction; pool members are checkpoint
//     files opened (memory-mapped) and read one tensor at a time into a
//     single buffer for every alignment pass and step, so memory is
//     constant in the pool size (measured in the tests and benchmarks with
//     pools of 4 and 24). The alignment of vertex s is cos(g, s − θt) per
//     tensor (or the reference's cos(g, s)); the base θ0 is the null
//     vertex. Steps follow task arithmetic or TIES (the ⌈keep·n⌉ largest
//     entries of the step kept model-wide, operators.Trim). FW-Soft's Adapt
//     loads only the selected members' directions.
//   - Both evaluators take internal/tasks tasks and read their examples of
//     the split their options name (AdaMergingOptions.Split,
//     FWOptions.Split; "" is each task's fitness split): the inputs always,
//     the labels only for a labelled objective (cross-entropy), so an
//     entropy objective cannot read them.
//   - Batch draws come from internal/rng streams of the given seed, so a
//     run is reproducible; the backend's kernels make results independent
//     of the thread count.
//   - Errors name the tensor, task, head or checkpoint and say what to fix.
//     Evaluators are not safe for concurrent use.
package gradient
