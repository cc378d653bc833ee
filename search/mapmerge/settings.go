package mapmerge

import (
	"errors"
	"fmt"
	"math"

	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "map"

// Defaults of MAP, used by Settings and by New and NewNested for zero
// settings.
const (
	// DefaultReevaluate is Config.Reevaluate's default.
	DefaultReevaluate = 8
	// DefaultPointsPerMerge and DefaultIsotropic are NestedConfig's.
	DefaultPointsPerMerge = 20
	DefaultIsotropic      = 0.2
)

// Auto is the Settings value of activation and front that leaves the choice
// to MAP: sigmoid for maximised and softplus for minimised objectives; the
// grid up to 3 coefficients, NSGA-II above.
const Auto = "auto"

// Settings is [search.map] of an experiment. Defaults are the paper's.
type Settings struct {
	// Budget is the number of design points (default (N+1)(N+2)).
	Budget int `toml:"budget,omitempty"`
	// OneHots puts each task vector alone into the design (default true).
	OneHots *bool `toml:"one_hots,omitempty"`
	// Schedule turns on Bayesian MAP: Schedule[0] design points, then one
	// adaptive round of Schedule[r] points per further entry.
	Schedule []int `toml:"schedule,omitempty"`
	// Activation is "auto" (sigmoid for maximised, softplus for minimised
	// objectives; default), "sigmoid", "softplus" or "identity".
	Activation string `toml:"activation,omitempty"`
	// Front is "auto" (grid up to 3 coefficients, NSGA-II above; default),
	// "grid" or "nsga2"; GridPoints per axis of the grid (0: 201 for up to
	// 2 coefficients, 41 for 3).
	Front      string `toml:"front,omitempty"`
	GridPoints int    `toml:"grid_points,omitempty"`
	// Preferences are weight vectors, one weight per objective; each picks
	// a front point that is evaluated for real (default: equal weights).
	Preferences [][]float64 `toml:"preferences,omitempty"`
	// Reevaluate is the number of further front points evaluated for real
	// (default 8; negative: none).
	Reevaluate int `toml:"reevaluate,omitempty"`
	// Nested uses nested MAP (a greedy tree of 2-task merges) for many
	// tasks; then Preferences must hold one vector (one weight per task),
	// and PointsPerMerge (default 20) and Isotropic (default 0.2) apply.
	Nested         bool    `toml:"nested,omitempty"`
	PointsPerMerge int     `toml:"points_per_merge,omitempty"`
	Isotropic      float64 `toml:"isotropic,omitempty"`
}

// Algorithm is MAP's registry entry.
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "MAP (Li et al. 2025): amortized Pareto fronts from quadratic surrogates of a fixed design, plain or nested",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New: func(ms search.MethodSettings, env search.Env) (search.Method, error) {
		s := ms.(*Settings)
		if err := s.checkPreferences(env); err != nil {
			return nil, err
		}
		if s.Nested {
			cfg := s.NestedConfig()
			m, err := NewNested(cfg)
			if err != nil {
				key := "isotropic"
				if cfg.PointsPerMerge != 0 && cfg.PointsPerMerge < NumTerms(2)+1 {
					key = "points_per_merge"
				}
				return nil, &search.SettingError{Key: key, Msg: err.Error()}
			}
			return m, nil
		}
		cfg := s.Config(len(env.Objectives), env.Seed)
		cfg.Front.Inner = env.MultiObjective
		m, err := New(cfg)
		if err != nil {
			return nil, &search.SettingError{Key: s.configErrorKey(), Msg: err.Error()}
		}
		return m, nil
	},
}

// checkPreferences reports every preference vector whose length is not the
// number of expanded objectives.
func (s *Settings) checkPreferences(env search.Env) error {
	var errs []error
	for i, p := range s.Preferences {
		if len(p) != len(env.Objectives) {
			errs = append(errs, &search.SettingError{Key: fmt.Sprintf("preferences[%d]", i),
				Msg: fmt.Sprintf("%d weights for %d objectives (%s): give one weight per objective", len(p), len(env.Objectives), search.ObjectiveNames(env.Objectives))})
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...) // nil when there are none
}

// configErrorKey is the setting New's refusal is about (Validate already
// reports all of them, so this only matters for unvalidated settings).
func (s *Settings) configErrorKey() string {
	switch {
	case s.Budget < 0:
		return "budget"
	case len(s.Schedule) > 0:
		for i, n := range s.Schedule {
			if n < 1 {
				return fmt.Sprintf("schedule[%d]", i)
			}
		}
	}
	return "activation"
}

// Defaults fills the defaults.
func (s *Settings) Defaults(search.Budget) {
	if len(s.Schedule) == 0 {
		s.Schedule = nil // `schedule = []` means none
	}
	if len(s.Preferences) == 0 {
		s.Preferences = nil
	}
	search.DefaultPtr(&s.OneHots, true)
	s.Activation = search.Or(s.Activation, Auto)
	s.Front = search.Or(s.Front, Auto)
	if s.Nested {
		search.DefaultInt(&s.PointsPerMerge, DefaultPointsPerMerge)
		search.DefaultFloat(&s.Isotropic, DefaultIsotropic)
	} else {
		search.DefaultInt(&s.Reevaluate, DefaultReevaluate)
	}
}

// Validate reports every problem. The preferences' lengths are checked
// against the expanded objectives when the method is built.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	c.PositiveCount("budget", s.Budget, "(N+1)(N+2)")
	for i, n := range s.Schedule {
		if n < 1 {
			c.Addf(fmt.Sprintf("schedule[%d]", i), "%d: every round needs at least one point", n)
		}
	}
	if len(s.Schedule) > 0 && s.Budget > 0 {
		c.Addf("budget", "give either a budget or a schedule (Bayesian MAP), not both")
	}
	c.OneOf("activation", s.Activation, "", Auto, string(Sigmoid), string(Softplus), string(Identity))
	c.OneOf("front", s.Front, "", Auto, FrontGrid, FrontNSGA2)
	if s.GridPoints != 0 && s.GridPoints < 2 {
		c.Addf("grid_points", "%d: give at least 2 points per axis (0 means the default)", s.GridPoints)
	}
	for i, p := range s.Preferences {
		key := fmt.Sprintf("preferences[%d]", i)
		sum, bad := 0.0, false
		for j, w := range p {
			if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
				c.Addf(fmt.Sprintf("%s[%d]", key, j), "%v: preference weights must be finite and non-negative", w)
				bad = true
			}
			sum += w
		}
		if !bad && !(sum > 0) {
			c.Addf(key, "give at least one positive weight")
		}
	}
	if s.Nested {
		if len(s.Preferences) > 1 {
			c.Addf("preferences", "nested MAP follows one preference vector (one weight per task): list one")
		}
		if len(s.Schedule) > 0 || s.Budget > 0 {
			c.Addf("nested", "nested MAP sizes each merge with points_per_merge: remove budget and schedule")
		}
	} else {
		if s.PointsPerMerge != 0 {
			c.Addf("points_per_merge", "only nested MAP uses points_per_merge: set nested = true or remove it")
		}
		if s.Isotropic != 0 {
			c.Addf("isotropic", "only nested MAP uses isotropic: set nested = true or remove it")
		}
	}
	if s.PointsPerMerge != 0 && s.PointsPerMerge < 6 {
		c.Addf("points_per_merge", "%d: a 2-coefficient quadratic has 6 unknowns; give at least 6 (default %d)", s.PointsPerMerge, DefaultPointsPerMerge)
	}
	if math.IsNaN(s.Isotropic) || s.Isotropic < 0 || s.Isotropic > 1 {
		c.Addf("isotropic", "%v: give a fraction in [0, 1] (default %v)", s.Isotropic, DefaultIsotropic)
	}
}

// Traits: MAP's design is fixed, so it ends by itself and needs no budget.
// Its design points are held in memory.
func (s *Settings) Traits() search.Traits {
	size := search.Size{Key: "budget", N: s.Budget, Kind: search.SizeMembers, What: "design point"}
	if len(s.Schedule) > 0 {
		size.Key, size.N = "schedule", 0
		for _, n := range s.Schedule {
			size.N += max(n, 0)
		}
	}
	return search.Traits{EndsByItself: true, Sizes: []search.Size{size}}
}

// Config is plain MAP's configuration for the given number of objectives
// and master seed (the seed of the front search).
func (s *Settings) Config(objectives int, seed uint64) Config {
	cfg := Config{
		Budget: s.Budget, NoOneHots: s.OneHots != nil && !*s.OneHots, Schedule: s.Schedule,
		Preferences: s.Preferences, Reevaluate: s.Reevaluate,
		Front: FrontOptions{GridPoints: s.GridPoints, Seed: seed},
	}
	switch s.Front {
	case FrontGrid:
		cfg.Front.Method = FrontGrid
	case FrontNSGA2:
		cfg.Front.Method = FrontNSGA2
	}
	if s.Activation != "" && s.Activation != Auto {
		for range objectives {
			cfg.Activations = append(cfg.Activations, Activation(s.Activation))
		}
	}
	return cfg
}

// NestedConfig is nested MAP's configuration.
func (s *Settings) NestedConfig() NestedConfig {
	cfg := NestedConfig{PointsPerMerge: s.PointsPerMerge, Isotropic: s.Isotropic, GridPoints: s.GridPoints}
	if len(s.Preferences) == 1 {
		cfg.Preferences = s.Preferences[0]
	}
	return cfg
}
