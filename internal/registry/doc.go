// Package registry lists evomerge's components, each family once and
// literally: the search algorithms and the evaluator kinds, with their
// settings tables (through configs.Catalog), their factories and, for
// evaluator kinds, what each can provide. It also gives the configuration
// the objectives' metrics, whose one list is tasks.Metrics.
//
// Contract: a list here is the only place that names every component of
// its family. Nothing registers itself (no init); adding a component is one
// package plus one line in its list (NATS workers may then score with the
// new evaluator kind too: WorkerKinds is the list without nats). The
// composition root (internal/run)
// and the configuration loader reach components only through these lists.
package registry
