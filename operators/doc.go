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
// given.
//
// Operator.Merge merges one tensor into a caller-provided dst with a
// caller-owned Scratch, so a worker that reuses both merges without allocating
// in steady state. Operators are immutable and safe for concurrent use; each
// worker owns its Scratch. Operators that need statistics over the whole model
// (model-wide top-k thresholds, norms, layer counts) implement Preparer; a Plan
// runs that pass once and hands the state to every Merge call as Env.State.
// Data-aware operators (fisher, regmean) read per-model statistics through
// StatsSource, implemented outside this package.
//
// Per-task tensors (names under "heads." by default; TaskTensors makes the
// patterns configurable) are never merged: each is copied unchanged from its
// owner, the first expert that has it (else the base). Every other tensor must
// be present, with the same shape, in every expert (and in the base when the
// operator uses one); otherwise the merge fails naming the tensor and model.
//
// Registry is an explicit list built by Builtin (no init registration); Get
// also resolves "lines+<method>", LiNeS over any task-vector method.
//
// # Determinism
//
// Same inputs, parameters and seed give bit-identical results whatever the
// number of cores: kernels split work into fixed blocks and reduce partial sums
// in block order with float64 accumulators. Stochastic operators draw each
// (model, tensor) mask from its own stream rng.New(seed, "operators", name,
// model index, tensor name), so results never depend on scheduling.
//
// # Numerics
//
// Elementwise arithmetic is float32; reductions (norms, dot products, sums of
// weights) accumulate in float64; RegMean solves in float64 (gonum). Guards:
// Σw≈0 with normalisation is an error for linear and falls back to 1 for
// task-vector sums (as mergekit); zero-norm tensors fall back to linear
// interpolation in SLERP; density·numel < 1 keeps nothing (not a crash as in
// mergekit); model_stock guards 1+(N−1)cosθ≈0 and clamps t to [0,1].
package operators
