package random

import (
	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "random"

// DefaultBatchSize is the batch size of Settings and of New for a zero
// Options.BatchSize.
const DefaultBatchSize = 16

// Settings is [search.random] of an experiment.
type Settings struct {
	// BatchSize is the number of candidates per batch (default 16).
	BatchSize int `toml:"batch_size,omitempty"`
	// Sampling is "uniform" (default) or "lhs" (Latin hypercube per batch).
	Sampling string `toml:"sampling,omitempty"`
}

// Algorithm is random search's registry entry.
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "random search: batches sampled uniformly or as Latin hypercubes, the baseline",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New: func(ms search.MethodSettings, _ search.Env) (search.Method, error) {
		return New(ms.(*Settings).Options())
	},
}

// Defaults fills the defaults.
func (s *Settings) Defaults(search.Budget) {
	search.DefaultInt(&s.BatchSize, DefaultBatchSize)
	s.Sampling = search.Or(s.Sampling, Uniform)
}

// Validate reports every problem.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	if s.BatchSize < 0 {
		c.Addf("batch_size", "%d: give a positive size (0 means %d)", s.BatchSize, DefaultBatchSize)
	}
	switch s.Sampling {
	case "", Uniform, LHS:
	default:
		c.Addf("sampling", "unknown sampling %q: use %q or %q", s.Sampling, Uniform, LHS)
	}
}

// Traits: random search needs scores only; a batch is held in memory.
func (s *Settings) Traits() search.Traits {
	return search.Traits{Sizes: []search.Size{{Key: "batch_size", N: s.BatchSize, Kind: search.SizeMembers}}}
}

// Options are the method options of the settings.
func (s *Settings) Options() Options {
	return Options{BatchSize: s.BatchSize, Sampling: s.Sampling}
}
