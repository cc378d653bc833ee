// Package layers holds the layers with forward and backward passes that
// evomerge's architectures (internal/model/mlp, internal/model/cnn) are
// built of, and the sequential network they compose them into: a Stack,
// described by a Spec, which implements model.Network.
//
// # Layers
//
// The layers are Linear, Conv2D (square kernel, stride, zero padding; im2col
// + Gemm), ReLU, GELU (exact, with erf, as PyTorch's default), MaxPool and
// AvgPool (padding counts as zeros in the average, as PyTorch's
// count_include_pad), Flatten, LayerNorm (over all values of an example, ε =
// 1e-5) and Dropout (inverted dropout, active only in training passes). A
// Spec lists them in order (LayerSpec, a kind and the fields it uses), with
// the input shape and the heads; its JSON is the evomerge.spec metadata of
// checkpoints (model.SpecMetadataKey). Spec also implements model.Config,
// for networks outside any architecture (tests); checkpoints are recognised
// only by an architecture.
//
// # Architectures
//
// The architectures are built on a Spec and share what the helpers here
// give them: their networks are Stacks (NewNetwork and NetworkFromTensors
// implement model.Config's New and FromTensors), their checkpoints carry
// their spec under model.SpecMetadataKey (SpecArchitecture is their
// model.Architecture, Spec.CheckArch rejects a spec of another one), and
// their backbones end in hidden Linear layers each followed by a ReLU
// (AppendHidden writes them, Spec.ParseHidden reads them back). Each
// architecture keeps its own layer list, its config type and its tensor
// names.
//
// # Naming
//
// Backbone parameters are named by layer position, layers.{i}.weight and
// layers.{i}.bias (Linear weight [out, in], Conv2D weight [out, in, k, k],
// LayerNorm weight and bias [features]); head parameters are
// heads.{task}.weight [classes, in] and heads.{task}.bias [classes].
// Initialisation is PyTorch's default (uniform in ±1/sqrt(fan_in); LayerNorm
// weight 1, bias 0), every parameter from its own internal/rng stream named
// after the seed and the parameter.
//
// # Buffers and concurrency
//
// A Stack owns its parameters and all activation and gradient buffers.
// Buffers grow to the largest batch seen and are reused: after a warm-up
// call, Logits and Backward do not allocate. Slices they return are views
// into these buffers, valid until the next call on the same stack. A Stack
// is not safe for concurrent use; give every worker its own (Clone). Inside
// one call, matrix products run on all cores through tensor.Gemm and the
// per-example loops (im2col, pooling, activations) are split across cores
// (internal/par) by fixed ranges.
//
// # Determinism
//
// Results are bit-identical whatever GOMAXPROCS is and whatever the batch
// size used for inference: every output value is computed by the same
// sequence of operations whichever goroutine computes it, and every
// reduction (over a batch for parameter gradients, over features for
// normalisation) runs in a fixed order.
//
// # Errors
//
// Invalid specs, unknown heads, input lengths that do not match the spec,
// labels outside a head's classes and missing, extra or mis-shaped tensors
// return errors naming the layer, head or tensor and saying how to fix it.
// Panics are reserved for internal invariants (messages start with
// "layers:").
package layers
