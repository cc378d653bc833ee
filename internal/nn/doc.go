// Package nn is evomerge's Go-native neural-network backend: layers with forward and
// backward passes, multi-head classification models described by a Spec, losses,
// optimisers, a training loop and safetensors I/O.
//
// # Models and naming
//
// A Model is a backbone (Spec.Layers, in order) shared by all tasks plus one Linear
// head per task. Backbone parameters are named by layer position, layers.{i}.weight and
// layers.{i}.bias (Linear weight [out, in], Conv2D weight [out, in, k, k], LayerNorm
// weight and bias [features]); head parameters are heads.{task}.weight [classes, in]
// and heads.{task}.bias [classes]. Tensors under "heads." are per task and are never
// merged. Params lists parameters in checkpoint.SortNames order. Save stores the Spec
// as JSON in the checkpoint metadata under SpecMetadataKey, so Load rebuilds a model
// from the file alone; heads are taken from the tensors present.
//
// Inputs are float32 batches in NCHW order: n examples of C·H·W values each. The
// layers are Linear, Conv2D (square kernel, stride, zero padding; im2col + Gemm), ReLU,
// GELU (exact, with erf, as PyTorch's default), MaxPool and AvgPool (padding counts as
// zeros in the average, as PyTorch's count_include_pad), Flatten, LayerNorm (over all
// values of an example, ε = 1e-5) and Dropout (inverted dropout, active only in Train).
// Losses are softmax cross-entropy and prediction entropy, both averaged over the batch
// and computed in float64 from the logits.
//
// # Buffers and concurrency
//
// A Model owns its parameters and all activation and gradient buffers. Buffers grow to
// the largest batch seen and are reused: after a warm-up call, Logits and LossAndGrad
// do not allocate. Slices returned by Logits and LossAndInputGrad are views into these
// buffers and are valid until the next call on the same model. A Model is not safe for
// concurrent use; give every worker its own (Clone). Inside one call, matrix products
// run on all cores through tensor.Gemm and the per-example loops (im2col, pooling,
// activations) are split across cores by fixed ranges of examples.
//
// # Determinism
//
// Results are bit-identical whatever GOMAXPROCS is and whatever the batch size used
// for inference: every output value is computed by the same sequence of operations
// whichever goroutine computes it, and every reduction (over a batch for parameter
// gradients, over features for normalisation) runs in a fixed order. Initialisation,
// shuffling and dropout masks are drawn from internal/rng streams named after the
// seed, so training with the same seed gives the same weights.
//
// # Errors
//
// Anything a caller or a file can get wrong returns an error that names the layer,
// head, tensor, file or setting and says how to fix it: invalid specs, unknown heads,
// input lengths that do not match the spec, labels outside a head's classes, missing,
// extra or mis-shaped tensors, bad training settings, a loss that becomes NaN. Panics
// are reserved for internal invariants (messages start with "nn:").
package nn
