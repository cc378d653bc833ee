// Package operators is the merge math of evomerge: operators that combine
// named float32 tensors of a base θ0 (optional) and experts θ1..θN into one
// merged model. τi = θi − θ0 is model i's task vector.
//
// # Contract
//
// An Operator declares its parameters as data (ParamSpec: name, kind, scope
// global or per model, range, default, choices, whether the value may vary per
// layer group or per tensor) and its Requirements (base, number of models,
// statistics, model-wide pass, stochastic). Configs, recipes and search genomes
// are validated against the specs with Resolve, which gives every tensor its
// concrete values with the precedence tensor > layer group > method level >
// spec default. Layer groups are checkpoint.LayerGroup(name) (tensors sharing
// a block index) unless an explicit grouping (group name -> tensor names) is
// given. Errors name the level, the parameter and the allowed values.
//
// Operator.Merge merges one tensor into a caller-provided dst with a
// caller-owned Scratch, so a worker that reuses both merges without allocating
// in steady state (checked with testing.AllocsPerRun for every deterministic
// operator; DARE and DELLA allocate only to derive each tensor's random
// stream). Operators are immutable and safe for concurrent use; each worker
// owns its Scratch. Operators that need statistics over the whole model
// implement Preparer; a Plan runs that pass once, in canonical tensor order,
// and hands the state to every Merge call as Env.State. Data-aware operators
// (fisher, regmean) read per-model statistics through StatsSource, implemented
// outside this package.
//
// Per-task tensors (names under "heads." by default; TaskTensors makes the
// patterns configurable) are never merged: each is copied unchanged from its
// owner, the first expert that has it (else the base). Every other tensor must
// be present, with the same shape, in every expert (and in the base when the
// operator uses one); otherwise the merge fails naming the tensor and model.
//
// A merge reads its inputs through a Source, one tensor at a time: MemSource
// holds them in memory; CheckpointSource converts each tensor of
// checkpoints on disk into reused buffers (StreamMerge, `evomerge merge`);
// MappedSource reads the same checkpoints in place, aliasing F32 tensors of
// the memory maps and converting the others into reused buffers, for
// merges repeated over one pool (a search). Slices a source hands out are
// read-only to everyone.
//
// Registry is an explicit list built by Builtin (no init registration); Get
// also resolves "lines+<method>", LiNeS over any task-vector method.
//
// # Operators
//
//	linear          θ = Σ w_i θ_i / Σ w_i (normalize, default) or Σ w_i θ_i
//	task_arithmetic θ = θ0 + λ Σ w_i τ_i (÷ Σ w_i with normalize)
//	ties            trim τ_i to the top density fraction by |τ| (per tensor, or
//	                model-wide with trim_scope = model: exact k-th value by a
//	                histogram pass plus selection in one bin), elect
//	                γ = sign(Σ w_i τ̂_i), disjoint mean (paper) or sum over the
//	                entries agreeing with γ, θ0 + λ τ_m
//	dare            keep each τ entry with probability density, rescale by
//	                1/density (paper) or L1 matching (mergekit), θ0 + λ Σ w_i τ̃_i
//	dare_ties       DARE sparsification, then TIES election and (by default)
//	                the sum of agreeing entries (mergekit dare_ties)
//	slerp           sin((1−t)Ω)/sin Ω θ1 + sin(tΩ)/sin Ω θ2 per flattened tensor;
//	                linear when |cos Ω| > dot_threshold (0.9995) or a norm ≤ 1e-8;
//	                space = task_vectors SLERPs τ1, τ2 and adds θ0
//	multislerp      spherical weighted mean (mergekit multislerp: tangent-space
//	                barycentre at the normalised weighted mean direction, rescaled
//	                by the weighted mean norm), computed as Σ c_i v_i from the
//	                N×N Gram matrix
//	breadcrumbs     drop the top gamma fraction by |τ| and keep the next
//	                density fraction, then a weighted sum or TIES consensus
//	della           MAGPRUNE: per row, keep probabilities density ± epsilon
//	                spread linearly by magnitude rank, rescale 1/p (paper) or L1,
//	                then TIES consensus (della) or a sum (consensus = false)
//	model_stock     θ0 + t·mean(τ_i), t = N cos θ/(1+(N−1) cos θ), cos θ the mean
//	                pairwise cosine of the τ_i per tensor, t clamped to [0,1]
//	fisher          Σ λ_i (F_i+ε) θ_i / Σ λ_i (F_i+ε), λ_i optionally ∝ 1/‖F_i‖
//	regmean         Wᵀ = (Σ G̃_i)⁻¹ Σ G̃_i W_iᵀ per linear weight, G̃ = αG +
//	                (1−α)diag G, solved in float64 (gonum Cholesky, LU fallback);
//	                other tensors averaged
//	lines           θ0 + (α + β ℓ/(L−1)) τ_m over any task-vector method;
//	                α auto = (‖Σ τ_t‖₁/‖τ_m‖₁)/T or fixed
//	pcb             clip, intra (exp(N·minmax τ'²)) × inter (tanh(τ' ⊙ Σ τ'))
//	                balancing, keep the top ratio, weighted mean of τ'
//	consensus       TALL masks m_t = 1[|τ_t| > λ_t |τ_MTL − τ_t|]; keep τ_MTL
//	                where ≥ k masks agree; tall_task = t reconstructs task t
//	m2n2            M2N2 split-point SLERP crossover over the flattened model
//	                (canonical tensor order, row-major): t = ratio before the cut,
//	                1 − ratio after; one global angle (reference code) or one per
//	                segment
//
// # Kernels
//
// The task-vector and TIES math is exported for code that runs it on
// resident tensors (AdaMerging++, FW-Merging), so it has one home:
// TaskVector (τ = θ − θ0 into a buffer), AddTaskVector (dst += w·(θ − θ0)),
// KeepCount (⌊keep·n⌋ as the ties operator, or ⌈keep·n⌉), TrimTopK (one
// tensor) and Trim (a task vector with scope TrimTensor or TrimModel; the
// model scope selects what trim_scope = model selects while streaming),
// ElectSign (weighted election with a chosen sign for zero sums),
// DropDisagreeing (the disjoint step without the merge) and MassSign. They
// do not allocate (Trim only when its scratch is short).
//
// # Differences from mergekit and FusionBench (and how to get each)
//
//   - Top-k trimming keeps exactly k = floor(density·n) entries, ties at the
//     threshold in index order (model-wide: canonical tensor order);
//     density·n < 1 keeps nothing instead of failing (mergekit asserts).
//   - TIES: trim_scope = tensor is mergekit, model is the paper/FusionBench;
//     merge = mean is the paper and mergekit (normalize = true), sum is
//     FusionBench. Sign election uses weighted mass as mergekit (equal to the
//     paper with unit weights); FusionBench's zero-sign rule is not offered.
//   - DARE: rescale = inverse is the paper's 1/(1−p) (default); l1 is mergekit's
//     per-tensor L1 matching (since PR #245). dare_ties is mergekit's
//     definition; FusionBench's DARE-then-full-TIES is not this operator.
//   - Breadcrumbs: a tensor with gamma·n < 1 keeps its density band (mergekit
//     zeroes such tensors because of an empty slice); gamma is capped so the
//     density target holds.
//   - DELLA: epsilon is mergekit's half-width; rescale = inverse divides each
//     kept entry by its own keep probability (paper), l1 is mergekit.
//   - Model stock: t is clamped to [0,1] (clamp = false gives the raw formula);
//     mergekit does not guard 1+(N−1)cos θ = 0, here t = 0 then.
//   - PCB: quantiles are exact nearest-rank, the reference uses linear
//     interpolation (differs by at most one rank).
//   - Computation is float32 with float64 reductions; mergekit computes in the
//     config dtype (often bf16).
//
// # Determinism
//
// Same inputs, parameters and seed give bit-identical results whatever the
// number of cores: kernels split work into fixed blocks and reduce partial sums
// in block order with float64 accumulators; per-model work runs in parallel
// but each model's result depends only on its own inputs. Stochastic operators
// draw each (model, tensor) mask from its own stream
// rng.NewSource(seed, "operators", method, model index, tensor name), element
// e using 32 bits of draw e/2, so results never depend on scheduling or on the
// order tensors are merged in.
//
// # Numerics
//
// Elementwise arithmetic is float32; reductions (norms, dot products, Gram
// matrices) accumulate in float64; RegMean solves in float64. Guards: Σw≈0
// with normalisation is an error for linear and divides by 1 for task-vector
// sums (as mergekit); zero-norm tensors fall back to linear interpolation in
// SLERP; model_stock guards 1+(N−1)cos θ≈0; min-max normalisations with an
// empty range give 0.
//
// # Memory
//
// Per worker and tensor of n elements: linear, task_arithmetic, slerp,
// multislerp, model_stock and m2n2 need no tensor-sized scratch; the TIES
// family, consensus and pcb keep N task vectors plus N selection or mask
// buffers (about 2N·n floats).
package operators
