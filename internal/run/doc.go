// Package run is the composition root of evomerge: it turns a validated
// configuration into components (model pool, operator, search method,
// evaluator, recorders), owns the run directory (resolved config, journal,
// state, front, report, exports) and implements resume as replay.
//
// # Contract
//
//   - Only cmd/evomerge imports this package.
//   - Every file in the run directory is written to a temporary name, fsynced
//     and renamed; the journal is append-only with one fsynced record per
//     finished evaluation.
//   - Resuming replays the same seed and the same Ask sequence, answering
//     evaluations found in the journal from it, so an interrupted run and an
//     uninterrupted one end identical.
package run
