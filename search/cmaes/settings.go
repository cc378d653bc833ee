package cmaes

import (
	"math"

	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "cmaes"

// DefaultStepSize is the initial σ in unit-cube coordinates, of Settings and
// of New for a zero Options.StepSize.
const DefaultStepSize = 0.3

// Covariance values of Settings: CovarianceAuto and CovarianceFull are the
// variants Auto and Full, CovarianceDiagonal is Separable.
const (
	CovarianceAuto     = Auto
	CovarianceFull     = Full
	CovarianceDiagonal = "diagonal"
)

// Settings is [search.cmaes] of an experiment.
type Settings struct {
	// PopulationSize is λ (absent: max(4 + ⌊3 ln n⌋, 4n) for the full
	// variant, 4 + ⌊3 ln n⌋ for the diagonal one, computed when the run
	// starts; see DefaultPopulation).
	PopulationSize int `toml:"population_size,omitempty"`
	// StepSize is the initial σ in unit-cube coordinates (default 0.3).
	StepSize float64 `toml:"step_size,omitempty"`
	// Covariance is "auto" (default: the full covariance up to
	// DefaultSeparableAbove dimensions, the diagonal one above), "full" or
	// "diagonal" (separable CMA-ES).
	Covariance string `toml:"covariance,omitempty"`
	// StartPoints lists at most one start point (search.ParseStartPoint),
	// the initial mean; absent: the operator's defaults.
	StartPoints []string `toml:"start_points,omitempty"`
	// Scalarization turns the objectives into the one cost CMA-ES
	// minimises.
	Scalarization search.Scalarization `toml:"scalarization,omitempty"`
}

// Algorithm is CMA-ES's registry entry.
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "CMA-ES with restarts: covariance matrix adaptation of one scalarized cost, full or diagonal",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New: func(ms search.MethodSettings, env search.Env) (search.Method, error) {
		s := ms.(*Settings)
		init, err := search.ResolveStartPoints(env, "start_points", s.StartPoints)
		if err != nil {
			return nil, err
		}
		if len(init) > 1 {
			return nil, &search.SettingError{Key: "start_points", Msg: "CMA-ES starts from one mean: list one start point"}
		}
		if err := s.Scalarization.CheckAgainst("scalarization", env.Objectives); err != nil {
			return nil, err
		}
		var mean []float64
		if len(init) == 1 {
			mean = init[0]
		}
		return New(s.Options(mean))
	},
}

// Defaults fills the defaults; the population depends on the space and
// stays absent.
func (s *Settings) Defaults(search.Budget) {
	search.DefaultFloat(&s.StepSize, DefaultStepSize)
	s.Covariance = search.Or(s.Covariance, CovarianceAuto)
	s.Scalarization.Defaults()
}

// Validate reports every problem. The scalarization's lengths are checked
// against the expanded objectives when the method is built.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	if s.PopulationSize != 0 && s.PopulationSize < 2 {
		c.Addf("population_size", "%d is too small: use at least 2 (0 means max(4 + ⌊3 ln n⌋, 4n) for the full variant, 4 + ⌊3 ln n⌋ for the diagonal one)", s.PopulationSize)
	}
	if math.IsNaN(s.StepSize) || s.StepSize < 0 || s.StepSize > 1 {
		c.Addf("step_size", "%v: give a step size in (0, 1] in unit-cube coordinates (0 means %v)", s.StepSize, DefaultStepSize)
	}
	switch s.Covariance {
	case "", CovarianceAuto, CovarianceFull, CovarianceDiagonal:
	default:
		c.Addf("covariance", "unknown covariance %q: use %q, %q or %q", s.Covariance, CovarianceAuto, CovarianceFull, CovarianceDiagonal)
	}
	search.ValidateStartPoints("start_points", s.StartPoints, report)
	s.Scalarization.CheckSettings("scalarization", report)
}

// Traits: CMA-ES needs scores only. Its population is absent (computed
// from the space) unless given.
func (s *Settings) Traits() search.Traits {
	return search.Traits{Sizes: []search.Size{{Key: "population_size", N: s.PopulationSize, Kind: search.SizeMembers}}}
}

// MapPaths rewrites the run directory of a start point.
func (s *Settings) MapPaths(f func(string) string) { search.MapStartPointPaths(s.StartPoints, f) }

// Variant is the Options variant of the covariance setting.
func (s *Settings) Variant() string {
	switch s.Covariance {
	case CovarianceFull:
		return Full
	case CovarianceDiagonal:
		return Separable
	}
	return Auto
}

// Options are the method options of the settings, with the initial mean
// (nil: the space's defaults).
func (s *Settings) Options(mean []float64) Options {
	return Options{
		Variant: s.Variant(), Population: s.PopulationSize, StepSize: s.StepSize,
		Initial: mean, Scalarization: s.Scalarization,
	}
}
