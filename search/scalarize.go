package search

import (
	"fmt"
	"math"
	"strings"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// Scalarization names.
const (
	WeightedSum = "weighted-sum"
	Chebyshev   = "chebyshev"
)

// Scalarization turns the scores of a candidate into one cost (lower is
// better) for single-objective methods (ga, cmaes). The zero value is an
// equally weighted sum.
type Scalarization struct {
	// Method is WeightedSum (default when empty) or Chebyshev.
	Method string `toml:"method,omitempty"`
	// Weights has one non-negative weight per objective; nil means equal
	// weights of 1.
	Weights []float64 `toml:"weights,omitempty"`
	// Ideal is the reference point of Chebyshev scalarisation, in score
	// units (for accuracies, 1). It is required for Chebyshev and fixed for
	// the whole run, so costs of old candidates never go stale.
	Ideal []float64 `toml:"ideal,omitempty"`
	// Rho is the augmentation of Chebyshev scalarisation (e.g. 1e-4); 0 gives
	// the plain weighted Chebyshev function.
	Rho float64 `toml:"rho,omitempty"`
}

// CheckSettings reports the problems of a scalarization table at key that
// do not depend on the number of objectives (Validate checks those once
// the objectives are expanded).
func (s Scalarization) CheckSettings(key string, report func(key, msg string)) {
	c := Checker(report)
	switch s.Method {
	case "", WeightedSum, Chebyshev:
	default:
		c.Addf(key+".method", "unknown scalarization %q: use %q or %q", s.Method, WeightedSum, Chebyshev)
	}
	for i, w := range s.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			c.Addf(fmt.Sprintf("%s.weights[%d]", key, i), "%v: weights must be finite and non-negative", w)
		}
	}
	if s.Method == Chebyshev && len(s.Ideal) == 0 {
		c.Addf(key+".ideal", "missing: chebyshev needs an ideal point, one value per objective (1 for accuracies)")
	}
	for i, v := range s.Ideal {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			c.Addf(fmt.Sprintf("%s.ideal[%d]", key, i), "%v is not a finite number", v)
		}
	}
	c.NonNegative(key+".rho", s.Rho)
}

// Defaults fills the default method.
func (s *Scalarization) Defaults() {
	if s.Method == "" {
		s.Method = WeightedSum
	}
}

// Validate checks the scalarisation for a problem with the given number of
// objectives.
func (s Scalarization) Validate(objectives int) error {
	switch s.Method {
	case "", WeightedSum, Chebyshev:
	default:
		return fmt.Errorf("search: unknown scalarization %q: use %q or %q", s.Method, WeightedSum, Chebyshev)
	}
	if s.Weights != nil {
		if err := fitness.ValidateWeights(s.Weights, objectives); err != nil {
			return fmt.Errorf("search: scalarization weights: %w", err)
		}
	}
	if s.Method == Chebyshev {
		if len(s.Ideal) != objectives {
			return fmt.Errorf("search: chebyshev scalarization needs an ideal point with one value per objective (%d), got %d", objectives, len(s.Ideal))
		}
		for i, v := range s.Ideal {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("search: chebyshev ideal value %d is %v: give a finite value", i, v)
			}
		}
	}
	if math.IsNaN(s.Rho) || math.IsInf(s.Rho, 0) || s.Rho < 0 {
		return fmt.Errorf("search: chebyshev rho is %v: give a finite non-negative value", s.Rho)
	}
	return nil
}

// Cost returns the scalarised cost of c: +Inf for a candidate that did not
// succeed. weights must be the resolved weights (see Resolve).
func (s Scalarization) Cost(c *population.Candidate, dirs []fitness.Direction) float64 {
	if !c.OK() {
		return math.Inf(1)
	}
	w := s.Weights
	if w == nil {
		w = ones(len(dirs))
	}
	if s.Method == Chebyshev {
		return fitness.Chebyshev(c.Scores, w, s.Ideal, dirs, s.Rho)
	}
	return fitness.WeightedSum(c.Scores, w, dirs)
}

// Resolved returns s with default weights filled in, so Cost does not
// allocate.
func (s Scalarization) Resolved(objectives int) Scalarization {
	if s.Weights == nil {
		s.Weights = ones(objectives)
	}
	return s
}

func ones(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// NewCandidate returns a pending candidate for the point x (in space units)
// produced by the named variation operator from the given parents.
func NewCandidate(x []float64, operator string, parents ...string) *population.Candidate {
	return &population.Candidate{
		Genome:  population.VectorGenome(x),
		Lineage: population.Lineage{Operator: operator, Parents: append([]string(nil), parents...)},
		Status:  population.StatusPending,
	}
}

// ObjectiveNames lists the objectives' names, comma-separated, for
// messages about settings that must match the expanded objectives.
func ObjectiveNames(objs []fitness.Objective) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return strings.Join(names, ", ")
}

// CheckAgainst checks the scalarization of a settings table at key against
// the run's expanded objectives, as a *SettingError naming them.
func (s Scalarization) CheckAgainst(key string, objs []fitness.Objective) error {
	if err := s.Validate(len(objs)); err != nil {
		return &SettingError{Key: key, Msg: fmt.Sprintf("%v (the objectives expand to %d: %s)", err, len(objs), ObjectiveNames(objs))}
	}
	return nil
}
