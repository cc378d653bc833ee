// Package registry lists evomerge's components, each family once and
// literally: the search algorithms (and, through configs.Catalog, their
// settings tables) and the evaluator kinds with what each can provide.
//
// Contract: a list here is the only place that names every component of
// its family. Nothing registers itself (no init); adding a component is one
// package plus one line in its list. The composition root (internal/run)
// and the configuration loader reach components only through these lists.
package registry
