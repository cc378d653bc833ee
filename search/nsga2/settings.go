package nsga2

import (
	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "nsga2"

// Defaults of Deb et al. (2002), used by Settings and by New for zero
// Options.
const (
	DefaultPopulation    = 100
	DefaultCrossoverProb = 0.9
	DefaultEta           = 20.0
)

// Settings is [search.nsga2] of an experiment.
type Settings struct {
	// PopulationSize is μ = λ (default 100, at least 4).
	PopulationSize int `toml:"population_size,omitempty"`
	// CrossoverProb is the SBX probability per pair (default 0.9; 0: no
	// crossover, children are mutated copies of their parents).
	CrossoverProb *float64 `toml:"crossover_prob,omitempty"`
	// CrossoverEta is the SBX distribution index (default 20).
	CrossoverEta float64 `toml:"crossover_eta,omitempty"`
	// MutationProb is the polynomial mutation probability per variable
	// (absent: 1/n for n searched dimensions, computed when the run starts;
	// 0: no mutation).
	MutationProb *float64 `toml:"mutation_prob,omitempty"`
	// MutationEta is the mutation distribution index (default 20).
	MutationEta float64 `toml:"mutation_eta,omitempty"`
	// StartPoints seed the first population (search.ParseStartPoint).
	StartPoints []string `toml:"start_points,omitempty"`
}

// Algorithm is NSGA-II's registry entry.
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "NSGA-II (Deb et al. 2002): multi-objective evolution by non-dominated sorting and crowding",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New: func(ms search.MethodSettings, env search.Env) (search.Method, error) {
		s := ms.(*Settings)
		init, err := search.ResolveStartPoints(env, "start_points", s.StartPoints)
		if err != nil {
			return nil, err
		}
		return New(s.Options(init))
	},
}

// Defaults fills the defaults.
func (s *Settings) Defaults(search.Budget) {
	search.DefaultInt(&s.PopulationSize, DefaultPopulation)
	search.DefaultPtr(&s.CrossoverProb, DefaultCrossoverProb)
	search.DefaultFloat(&s.CrossoverEta, DefaultEta)
	search.DefaultFloat(&s.MutationEta, DefaultEta)
}

// Validate reports every problem.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	if s.PopulationSize != 0 && s.PopulationSize < 4 {
		c.Addf("population_size", "%d is too small: use at least 4 (0 means %d)", s.PopulationSize, DefaultPopulation)
	}
	c.Probability("crossover_prob", s.CrossoverProb)
	c.Probability("mutation_prob", s.MutationProb)
	c.NonNegative("crossover_eta", s.CrossoverEta)
	c.NonNegative("mutation_eta", s.MutationEta)
	search.ValidateStartPoints("start_points", s.StartPoints, report)
}

// Traits: NSGA-II needs scores only.
func (s *Settings) Traits() search.Traits {
	return search.Traits{Sizes: []search.Size{{Key: "population_size", N: s.PopulationSize, Kind: search.SizeSortedMembers}}}
}

// MapPaths rewrites the run directories of start points.
func (s *Settings) MapPaths(f func(string) string) { search.MapStartPointPaths(s.StartPoints, f) }

// UpgradeResolved reads a resolved configuration of format 1, where a 0
// crossover_prob or mutation_prob stood for the default.
func (s *Settings) UpgradeResolved(format int) {
	if format >= 2 {
		return
	}
	search.ZeroMeantDefault(&s.CrossoverProb)
	search.ZeroMeantDefault(&s.MutationProb)
	s.Defaults(search.Budget{})
}

// Options are the method options of the settings, with initial points.
func (s *Settings) Options(initial [][]float64) Options {
	return Options{
		PopulationSize: s.PopulationSize, CrossoverProb: search.ExplicitRate(s.CrossoverProb),
		CrossoverEta: s.CrossoverEta, MutationProb: search.ExplicitRate(s.MutationProb),
		MutationEta: s.MutationEta, Initial: initial,
	}
}
