// Package benchmarks provides evomerge's built-in benchmarks: their tasks
// (internal/tasks) on datasets derived from real MNIST (internal/data), the
// trained checkpoints a merge starts from, their cache, and the evaluation
// of any checkpoint on their tasks.
//
// # Contract
//
//   - A benchmark's name, version, cache directory layout and manifest are
//     stable: a cache prepared by an earlier build of the same version is
//     reused as it is, and preparing again gives byte-identical member
//     checkpoints (see Determinism).
//   - Tasks come out as tasks.Task values and are scored with tasks.Score
//     only; this package keeps no scoring loop of its own.
//   - Errors name the benchmark, task, member or file and say what to do
//     (`evomerge bench prepare NAME --force` for a damaged cache).
//
// # Benchmarks
//
//   - mnist-tasks: four tasks (digits on plain, rotated and pixel-permuted
//     images; digit mod 3 on plain images), a 784-128-128 MLP base pretrained
//     on plain digits, and one expert per task, fully fine-tuned from the base
//     with its own head heads.<task>. Plain weight averaging of the experts
//     loses far more than 10 points of mean normalized accuracy; the figures
//     are measured at preparation and stored in the manifest.
//   - m2n2-specialists: two 64-256-10 MLPs on MNIST pooled to 8×8 from one
//     initialisation, trained on digits 0-4 and on digits 5-9 (Adam, lr 3e-3,
//     10 full-batch steps on the train split).
//   - m2n2-scratch: the 8×8 data and the 64-256-10 model (19,210 parameters,
//     M2N2Config) for evolution from scratch; nothing is trained.
//
// Names lists them; a benchmark's FitnessSplit is the split search fitness
// uses (validation when merging trained models, train for evolution from
// scratch); test is for final scores only.
//
// # Tasks and scores
//
// Benchmark.Tasks describes the tasks without their examples; Data (and
// DataRange) derive a task's examples of a split on request, and LoadTasks
// gives the tasks with their fitness and test examples and their experts'
// accuracies, as the evaluators take them (WithSplit adds another split).
// Evaluate scores a model on every task with the one scoring loop
// (tasks.Score). Heads are per task and never merged: a checkpoint that
// lacks a task's head (heads.<task>.weight and .bias) is evaluated with the
// head of that task's expert (WithTaskHeads), and the score says which head
// was used. Normalized accuracy is accuracy divided by the task's expert
// accuracy on the same split.
//
// # Cache and versioning
//
// Prepare loads a benchmark from its cache directory or, the first time,
// trains it there. The directory is <root>/<name>-<version>, where root is
// Options.CacheDir (--cache-dir), else $EVOMERGE_CACHE/bench, else
// os.UserCacheDir()/evomerge/bench. It holds one safetensors file per member
// (base.safetensors, expert-<task>.safetensors, specialist-*.safetensors;
// metadata evomerge.benchmark, evomerge.benchmark_version, evomerge.role,
// evomerge.task and the mlp architecture's evomerge.spec) and manifest.json:
// version, recipe, seeds, member SHA-256 sums, the accuracy and loss of
// every member on every task on validation and test, and the interference
// figures. A build happens in a temporary directory beside the final one
// and is renamed into place when complete, so an interrupted build leaves
// no partial cache. A cache is reused only when its manifest has the same
// benchmark, version and recipe and every member file matches its recorded
// SHA-256; otherwise it is rebuilt. The version of a benchmark changes
// whenever its tasks, architecture, splits or default recipe change.
//
// # Determinism
//
// Every seed is derived from the recipe's seed with internal/rng, and
// training and evaluation run through internal/model, whose kernels give the
// same results for any thread count; preparing a benchmark twice gives
// byte-identical checkpoints.
//
// A Benchmark is safe for concurrent use. Datasets returned by
// Benchmark.Data are shared and must not be modified.
package benchmarks
