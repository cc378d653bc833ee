// Package model is evomerge's Go-native model backend behind interfaces:
// what the rest of evomerge holds (Network, Config, Architecture) and what it
// does with any network (losses, evaluation, training, Fisher and Gram
// statistics, checkpoint I/O and architecture detection).
//
// # Contract
//
//   - A Network is a classifier: a backbone shared by all tasks plus one
//     head per task (tensors heads.{task}.weight and heads.{task}.bias, per
//     task and never merged). It exposes its parameters by name with their
//     gradients (Params in checkpoint.SortNames order, Param), batched
//     inference to a head's logits (Logits), the loss and its gradient with
//     respect to the parameters and, on request, the input (Backward), the
//     inputs of its Linear layers (LinearInputs, for Gram statistics), its
//     heads, input size, Config and Clone. Concrete networks live in the
//     architecture packages; users hold Networks.
//   - A Config describes one network of an architecture (input, backbone,
//     heads) and builds it: fresh from a seed (New) or from a checkpoint's
//     tensors (FromTensors, heads discovered from the tensors present). Its
//     Metadata is what a checkpoint records so that it rebuilds from the
//     file alone; Backbone and Groups describe the backbone.
//   - An Architecture recognises its checkpoints from their metadata and
//     optional config.json (Detect); Detect and Load try a list of them
//     (internal/model/all holds the list) and name the checkpoint, the known
//     architectures and why each declined when none recognises it.
//   - Inputs are float32 batches of n examples (NCHW for images). Losses are
//     softmax cross-entropy against labels and prediction entropy (for
//     unlabelled adaptation), both means over the batch computed in float64
//     from the logits (scoring a model on labelled data is
//     internal/tasks' one loop, tasks.Score).
//   - Train is mini-batch Adam(W) or SGD with momentum on the cross-entropy,
//     in training mode (dropout on); shuffling and dropout masks come from
//     internal/rng streams of the seed, so the same network, data and
//     config give bit-identical weights. ComputeStats gives per-model
//     diagonal Fisher information (empirical or expected, per-example
//     squared gradients) and the mean input Gram matrix of every backbone
//     Linear layer, as an operators.StatsSource; sums run in float64 in a
//     fixed order, so results are independent of batch and core count.
//   - Networks are not safe for concurrent use (Clone gives one per
//     worker); slices they return are valid until the next call on them;
//     their steady-state passes do not allocate.
//   - Errors name the head, tensor, file, setting or architecture at fault
//     and say how to fix it.
package model
