// Package evaluate turns candidate genomes into scores.
//
// Evaluators implement the interfaces that package search defines. The native
// evaluator materialises a genome with the merge operators into a per-worker
// weight buffer that is reused across candidates (no disk I/O per
// evaluation), runs the Go-native backend (internal/nn) on each task's fitness
// split, and returns metrics and per-example correctness. The command
// evaluator writes the merged checkpoint to a temporary directory, runs a user
// command with a timeout and reads JSON scores from its standard output. The
// nats evaluator sends recipes, never weights, to remote workers.
//
// # Contract
//
//   - Concurrency is bounded by the caller's setting; cancelling the context
//     stops new work and returns promptly.
//   - A failing candidate (crash, timeout, malformed output, NaN) is reported
//     as a failed result with its reason; it never aborts the run.
//   - Results are keyed by candidate id, so a cache hit and a fresh
//     evaluation are indistinguishable to the search.
//   - Fitness uses the designated fitness split only; test data is read only
//     to score final front members.
package evaluate
