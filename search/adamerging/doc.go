// Package adamerging learns merging coefficients with Adam (AdaMerging,
// Yang et al., ICLR 2024), as pure optimisation over numbers.
//
// The coefficients λ weight task vectors: θ(λ) = θ0 + Σ_k clamp(λ_{k,g},
// 0, 1)·τ_k per tensor group g. Task-wise AdaMerging has one coefficient per
// task vector, layer-wise one per task vector and tensor (the paper's
// "layer") or per layer group; AdaMerging++ is the same optimisation over
// TIES-processed task vectors. This package never sees a tensor: a
// search.GradientEvaluator (evaluate/gradient) builds θ(λ), runs the
// backend's forward and backward passes on unlabelled inputs and returns
// the loss (the prediction entropy) and the exact dL/dλ.
//
// # Contract
//
//   - The optimiser is search.OptimizeAdam, which FW-Soft (search/fw) runs
//     too; Optimize adds the test-time adaptation note and the seeding.
//   - Optimize keeps raw coefficients Λ (initialised to Options.Init, 0.3 by
//     default) and hands the evaluator the effective coefficients
//     clamp(Λ, Lower, Upper) ([0, 1] by default). The gradient reaching Λ is
//     the evaluator's dL/dλ where Lower ≤ Λ ≤ Upper and 0 outside, as
//     PyTorch's clamp: a raw value pushed past a bound stays there.
//   - Adam as PyTorch's (β1 0.9, β2 0.999, ε 1e-8, bias correction, no weight
//     decay), learning rate 1e-3, 500 steps by default: one step per
//     LossGrad call. The result holds every step's loss and effective
//     coefficients (the trajectory reports plot).
//   - Test-time adaptation: the paper's objective reads the unlabelled test
//     inputs of every task; Result.Note says so and callers print it.
//   - Deterministic: the optimiser itself draws no random numbers; batch
//     sampling belongs to the evaluator, which seeds it from the experiment
//     seed.
//   - The learned coefficients seed an evolutionary run: Result.Seed maps
//     them, by dimension name, onto a point of any population.Space (for
//     nsga2.Options.Initial or cmaes.Options.Initial).
//   - Method runs AdaMerging inside search.Run: it needs loss gradients
//     (search.NeedLossGradients, Problem.Gradients), takes its Adam steps in
//     its first ask, saves its state through Problem.Checkpoint and, restored
//     (search.Stateful), continues from the saved step, asking what an
//     uninterrupted run asks.
package adamerging
