// Package evaluate turns candidate genomes into scores.
//
// Evaluators implement the interfaces that package search defines. The native
// evaluator materialises a genome with the merge operators into a per-worker
// weight buffer that is reused across candidates (the pool is read in place
// from its memory-mapped files, never copied whole), scores each task (internal/tasks) on its fitness split with
// tasks.Score, and returns metrics and per-example correctness. The command
// evaluator writes the merged checkpoint to a temporary directory, runs a user
// command with a timeout and reads JSON scores from its standard output. The
// nats evaluator sends recipes, never weights, to remote workers.
//
// # Pieces
//
//   - Pool: the base (optional) and expert checkpoints, read lazily
//     (operators.MappedSource over memory-mapped checkpoint readers): a
//     merge reads each tensor when it merges it, F32 tensors in place from
//     the map, other float dtypes converted into the worker's reused
//     buffers, so memory is bounded by the tensors being merged, not by the
//     pool. LoadPool takes paths of checkpoints of an architecture
//     internal/model/all detects (evomerge.spec in their metadata); BenchmarkPool takes a prepared built-in benchmark
//     (internal/benchmarks). Pool.Version hashes the files' contents.
//   - Merger: operator + searchspace.Mapping (genome values -> settings,
//     fixed settings included) + seed + per-task tensor patterns over a
//     pool. Plan/Materialize build the merged weights; Recipe gives the
//     equivalent operators.Recipe over the pool's files; Export writes the
//     merged checkpoint with operators.StreamMerge, the executor of
//     `evomerge merge`, so the recipe merged by `evomerge merge` gives the
//     same bytes. Per-task tensors (heads) are copied from their owner, never
//     merged; the pool's metadata (evomerge.spec included) is inherited.
//   - Native: per worker a model.Network whose parameter slices are the merge
//     destinations, a reused operators.Scratch and TensorInputs. Objectives
//     are (task or MeanTask) × a metric of tasks.Metrics, with a direction;
//     a metric that needs the experts' reference accuracy is refused for a
//     task without one. Score re-scores a genome on the held-out test split
//     for the final front.
//   - Command: argv template with {model} and {dir}, working directory,
//     environment, timeout (the process group is killed), bounded
//     concurrency; stdout must carry {"scores": {"<objective>": number}}.
//   - Cache: answers candidates by id from a Store (the run journal, a NATS
//     bucket, MemoryStore) and evaluates the rest once, duplicates in a batch
//     included.
//
// # Contract
//
//   - Concurrency is bounded by the caller's setting; cancelling the context
//     stops new work and returns promptly with the context's error, leaving
//     unfinished candidates pending.
//   - A failing candidate (operator error, non-finite merged weight or
//     score, crash, timeout, non-zero exit, malformed output, a recipe
//     genome the evaluator cannot materialise) is marked failed with its
//     reason; it never aborts the batch.
//   - Results are written to the candidate at the same batch index and do
//     not depend on the number of workers or the forward batch size: the
//     merge kernels and internal/model are deterministic for any thread count,
//     and losses are summed in example order in float64.
//   - EvalSpec (tasks, heads, split, example counts and data hashes,
//     objectives, operator, seed, task tensors, search space and fixed
//     settings) and Version (evaluator version and pool hash) enter candidate
//     ids (population.ID), so a cache hit and a fresh evaluation are
//     indistinguishable to the search and a cache never answers for another
//     benchmark or merge.
//   - Fitness uses the designated fitness split only (the test split is
//     refused as fitness split); test data is read only by Score and
//     ScoreModel.
//   - Files are written atomically (checkpoint writer); command temporary
//     directories are always removed.
package evaluate
