// Package registry lists evomerge's components, each family once and
// literally: the search algorithms and the evaluator kinds, with their
// settings tables (through configs.Catalog), their factories and, for
// evaluator kinds, what each can provide. It also gives the configuration
// the objectives' metrics, whose one list is tasks.Metrics.
//
// Contract: nothing registers itself (no init): each family has one
// literal list (algorithms.go, evaluators.go; the architectures' is in
// internal/model/all, the metrics' in internal/tasks, the operators' in
// operators.Builtin, the benchmarks' in internal/benchmarks). The
// configuration loader reaches algorithms, evaluator kinds and metrics only
// through these lists, and internal/run builds methods and evaluators
// through them (NATS workers are given WorkerKinds, the list without nats).
// Adding a search algorithm, an evaluator kind or a metric is one package
// (or entry) plus one line. A method that needs an evaluator this build
// does not yet compute (loss gradients and alignments are computed for
// AdaMerging's and FW-Merging's settings) also needs that evaluator in
// internal/run.
package registry
