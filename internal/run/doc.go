// Package run is the composition root of evomerge: it turns a validated
// configuration into components (model pool, operator, search method,
// evaluator, recorders), owns the run directory (resolved config, journal,
// state, front, report, exports) and implements resume as replay.
//
// # Composition
//
// An experiment (configs.Experiment) becomes: a prepared benchmark
// (data.Prepare, trained and cached the first time), a model pool resident in
// memory (the benchmark's base and experts, or checkpoints on disk), the merge
// operator from operators.Builtin, the search space derived from its
// parameter specifications (population.DeriveSpace; per_group expands to
// every layer group of the merged tensors), the objectives ("all" expands to
// one per task), the evaluator wrapped by the journal (native; command; or
// nats: an evaluate/nats coordinator whose workers build the same native
// evaluator from a content-addressed setup, so ids agree everywhere), the
// search method, and search.Run with recorders that write state.json,
// log.jsonl and progress.
//
// # Run directory
//
//   - config.toml: the resolved experiment, defaults filled in and input
//     paths made absolute; resume rebuilds everything from it.
//   - journal.jsonl: one JSON record (version field "v") per finished
//     evaluation: candidate id, genome, lineage, status, scores, error,
//     per-example correctness and timestamps. Each record is written with one
//     write and fsynced. A final line without a newline is a write cut short
//     by a crash: readers ignore it and resume truncates it away; any other
//     malformed line is an error naming the file and line.
//   - state.json: where the run stands (status, counts, best scores,
//     sessions, elapsed time), rewritten after every batch.
//   - front.json: the final Pareto front on the fitness split, every member
//     re-scored on the held-out test split, with the experts' test accuracy
//     and plain weight averaging as references.
//   - log.jsonl: structured log (log/slog JSON handler).
//   - exports/: checkpoints written by Export.
//   - nats/: the streams of a NATS server the run embeds (--serve-nats).
//
// Every file but the journal and the log is written to a temporary name,
// fsynced and renamed. report.html is rendered by Options.RenderReport, the
// one hook for an HTML renderer.
//
// # Contract
//
//   - Only cmd/evomerge imports this package.
//   - Resuming replays the same seed and the same Ask sequence; the journal is
//     the evaluation store, answering every candidate whose id it holds, so an
//     interrupted run (Ctrl-C, SIGTERM, kill -9) and an uninterrupted one end
//     with the same front. New evaluations are journaled in chunks of the
//     evaluator's concurrency, so a crash loses at most one chunk.
//   - search.max_time counts evaluation time from the journal, so a replay
//     reaches the budget at the same candidate; only evaluation and generation
//     budgets give the same front on every machine.
//   - Cancellation stops asking, leaves unfinished evaluations unjournaled,
//     and still writes state.json and front.json (without test scores).
package run
