package ga

import (
	"math"

	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "ga"

// Defaults of the GA, used by Settings and by New for zero Options.
const (
	DefaultPopulation    = 40
	DefaultTournament    = 3
	DefaultCrossoverRate = 0.8
	DefaultBlendAlpha    = 0.5
	DefaultMutationRate  = 0.3
	DefaultMutationSigma = 0.1
	DefaultElite         = 1
)

// Settings is [search.ga] of an experiment.
type Settings struct {
	// PopulationSize is eaopt's population (default 40, at least 4).
	PopulationSize int `toml:"population_size,omitempty"`
	// Tournament is the number of contestants per selection (default 3).
	Tournament int `toml:"tournament,omitempty"`
	// CrossoverRate is the probability that a selected pair is recombined
	// (default 0.8; 0: no crossover).
	CrossoverRate *float64 `toml:"crossover_rate,omitempty"`
	// BlendAlpha is α of BLX-α (default 0.5; 0: children inside the
	// parents' box).
	BlendAlpha *float64 `toml:"blend_alpha,omitempty"`
	// MutationRate is the probability that an offspring is mutated
	// (default 0.3; 0: no mutation).
	MutationRate *float64 `toml:"mutation_rate,omitempty"`
	// MutationSigma is σ of the Gaussian mutation in unit-cube coordinates
	// (default 0.1).
	MutationSigma float64 `toml:"mutation_sigma,omitempty"`
	// GeneMutationProb is the probability that each gene of a mutated
	// offspring is perturbed (absent: 1/n for n searched dimensions,
	// computed when the run starts; 0: one gene per mutated child).
	GeneMutationProb *float64 `toml:"gene_mutation_prob,omitempty"`
	// Elite is the number of best individuals kept unchanged (default 1;
	// 0: no elitism).
	Elite *int `toml:"elite,omitempty"`
	// StartPoints seed the first population (search.ParseStartPoint).
	StartPoints []string `toml:"start_points,omitempty"`
	// Scalarization turns the objectives into the one cost the GA
	// minimises.
	Scalarization search.Scalarization `toml:"scalarization,omitempty"`
}

// Algorithm is the GA's registry entry.
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "genetic algorithm (eaopt): tournament selection, BLX-α crossover and Gaussian mutation of one scalarized cost",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New: func(ms search.MethodSettings, env search.Env) (search.Method, error) {
		s := ms.(*Settings)
		init, err := search.ResolveStartPoints(env, "start_points", s.StartPoints)
		if err != nil {
			return nil, err
		}
		if err := s.Scalarization.CheckAgainst("scalarization", env.Objectives); err != nil {
			return nil, err
		}
		return New(s.Options(init))
	},
}

// Defaults fills the defaults.
func (s *Settings) Defaults(search.Budget) {
	search.DefaultInt(&s.PopulationSize, DefaultPopulation)
	search.DefaultInt(&s.Tournament, DefaultTournament)
	search.DefaultPtr(&s.CrossoverRate, DefaultCrossoverRate)
	search.DefaultPtr(&s.BlendAlpha, DefaultBlendAlpha)
	search.DefaultPtr(&s.MutationRate, DefaultMutationRate)
	search.DefaultFloat(&s.MutationSigma, DefaultMutationSigma)
	search.DefaultPtr(&s.Elite, DefaultElite)
	s.Scalarization.Defaults()
}

// Validate reports every problem. The scalarization's lengths are checked
// against the expanded objectives when the method is built.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	if s.PopulationSize != 0 && s.PopulationSize < 4 {
		c.Addf("population_size", "%d is too small: use at least 4 (0 means %d)", s.PopulationSize, DefaultPopulation)
	}
	if s.Tournament < 0 {
		c.Addf("tournament", "%d: give a positive size (0 means %d)", s.Tournament, DefaultTournament)
	}
	c.Probability("crossover_rate", s.CrossoverRate)
	c.Probability("mutation_rate", s.MutationRate)
	c.Probability("gene_mutation_prob", s.GeneMutationProb)
	if s.BlendAlpha != nil {
		if v := *s.BlendAlpha; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			c.Addf("blend_alpha", "%v: give a finite non-negative number (0: children inside the parents' box)", v)
		}
	}
	c.NonNegative("mutation_sigma", s.MutationSigma)
	if s.Elite != nil && *s.Elite < 0 {
		c.Addf("elite", "%d: give a non-negative count (0: no elitism)", *s.Elite)
	}
	search.ValidateStartPoints("start_points", s.StartPoints, report)
	s.Scalarization.CheckSettings("scalarization", report)
}

// Traits: the GA needs scores only.
func (s *Settings) Traits() search.Traits {
	return search.Traits{Sizes: []search.Size{{Key: "population_size", N: s.PopulationSize, Kind: search.SizeMembers}}}
}

// MapPaths rewrites the run directories of start points.
func (s *Settings) MapPaths(f func(string) string) { search.MapStartPointPaths(s.StartPoints, f) }

// UpgradeResolved reads a resolved configuration of format 1, where a 0
// crossover_rate, blend_alpha, mutation_rate, gene_mutation_prob or elite
// stood for the default.
func (s *Settings) UpgradeResolved(format int) {
	if format >= 2 {
		return
	}
	search.ZeroMeantDefault(&s.CrossoverRate)
	search.ZeroMeantDefault(&s.BlendAlpha)
	search.ZeroMeantDefault(&s.MutationRate)
	search.ZeroMeantDefault(&s.GeneMutationProb)
	search.ZeroMeantDefault(&s.Elite)
	s.Defaults(search.Budget{})
}

// Options are the method options of the settings, with initial points.
func (s *Settings) Options(initial [][]float64) Options {
	elite := 0 // absent: the method's default
	if s.Elite != nil {
		elite = *s.Elite
		if elite == 0 {
			elite = -1 // none
		}
	}
	return Options{
		PopulationSize: s.PopulationSize, Tournament: s.Tournament,
		CrossoverRate: search.ExplicitRate(s.CrossoverRate), BlendAlpha: search.ExplicitRate(s.BlendAlpha),
		MutationRate: search.ExplicitRate(s.MutationRate), MutationSigma: s.MutationSigma,
		GeneMutationProb: search.ExplicitRate(s.GeneMutationProb), Elite: elite,
		Scalarization: s.Scalarization, Initial: initial,
	}
}
