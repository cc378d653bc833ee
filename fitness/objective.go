package fitness

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Direction says whether an objective is to be made small or large.
// The zero value is invalid, so an objective whose direction was never set is
// caught by Validate instead of being silently minimised.
type Direction int8

const (
	// Minimize marks an objective where smaller is better (loss, error rate, size).
	Minimize Direction = 1
	// Maximize marks an objective where larger is better (accuracy, F1, reward).
	Maximize Direction = 2
)

// ParseDirection accepts "minimize"/"min" and "maximize"/"max" (any case, and
// the British spellings "minimise"/"maximise").
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "minimize", "minimise", "min":
		return Minimize, nil
	case "maximize", "maximise", "max":
		return Maximize, nil
	}
	return 0, fmt.Errorf("fitness: unknown direction %q: use \"maximize\" or \"minimize\"", s)
}

// String returns "minimize", "maximize" or "invalid(N)".
func (d Direction) String() string {
	switch d {
	case Minimize:
		return "minimize"
	case Maximize:
		return "maximize"
	}
	return fmt.Sprintf("invalid(%d)", int8(d))
}

// Valid reports whether d is Minimize or Maximize.
func (d Direction) Valid() bool { return d == Minimize || d == Maximize }

// MarshalText encodes d as "minimize" or "maximize".
func (d Direction) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("fitness: cannot encode invalid direction %d", int8(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes the spellings accepted by ParseDirection.
func (d *Direction) UnmarshalText(text []byte) error {
	v, err := ParseDirection(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Sign is the factor that turns a value of this direction into a cost:
// +1 for Minimize, -1 for Maximize. It panics on an invalid direction
// (validate objectives first).
func (d Direction) Sign() float64 {
	switch d {
	case Minimize:
		return 1
	case Maximize:
		return -1
	}
	panic("fitness: invalid Direction")
}

// Better reports whether a is strictly better than b in direction d.
// NaN is worse than every number and not better than NaN.
func (d Direction) Better(a, b float64) bool {
	return cost(a, d) < cost(b, d)
}

// cost maps a score to minimisation form: the value itself for Minimize, its
// negation for Maximize, and +Inf for NaN (a failed or missing score is worse
// than any number in both directions). An invalid direction panics.
func cost(v float64, d Direction) float64 {
	if v != v {
		return math.Inf(1)
	}
	switch d {
	case Minimize:
		return v
	case Maximize:
		return -v
	}
	panic("fitness: invalid Direction")
}

// dirAt returns dirs[i], or Minimize when dirs is nil.
func dirAt(dirs []Direction, i int) Direction {
	if dirs == nil {
		return Minimize
	}
	return dirs[i]
}

// Objective describes one score a search optimises.
type Objective struct {
	// Name identifies the objective in configs, journals and reports, e.g.
	// "rotated/accuracy". Names are unique within a run.
	Name string `json:"name"`
	// Task is the task (data set and head) the score is measured on.
	Task string `json:"task,omitempty"`
	// Metric is what is measured on the task, e.g. "accuracy" or "loss".
	Metric string `json:"metric,omitempty"`
	// Direction says whether larger or smaller scores are better.
	Direction Direction `json:"direction"`
}

// Validate checks that the objective has a name and a valid direction.
func (o Objective) Validate() error {
	if strings.TrimSpace(o.Name) == "" {
		return fmt.Errorf("fitness: objective (task %q, metric %q) has no name: give every objective a unique name", o.Task, o.Metric)
	}
	if !o.Direction.Valid() {
		return fmt.Errorf("fitness: objective %q has no valid direction (got %s): set it to \"maximize\" or \"minimize\"", o.Name, o.Direction)
	}
	return nil
}

// ValidateObjectives checks every objective and that names are unique. It
// reports all problems at once.
func ValidateObjectives(objs []Objective) error {
	if len(objs) == 0 {
		return errors.New("fitness: no objectives: list at least one task metric to optimise")
	}
	var errs []error
	seen := make(map[string]int, len(objs))
	for i, o := range objs {
		if strings.TrimSpace(o.Name) == "" {
			errs = append(errs, fmt.Errorf("fitness: objective %d (task %q, metric %q) has no name: give every objective a unique name", i, o.Task, o.Metric))
			continue
		}
		if err := o.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if j, dup := seen[o.Name]; dup {
			errs = append(errs, fmt.Errorf("fitness: objectives %d and %d are both named %q: names must be unique", j, i, o.Name))
			continue
		}
		seen[o.Name] = i
	}
	return errors.Join(errs...)
}

// Directions returns the direction of each objective, in order.
func Directions(objs []Objective) []Direction {
	dirs := make([]Direction, len(objs))
	for i, o := range objs {
		dirs[i] = o.Direction
	}
	return dirs
}

// AllMinimize reports whether every direction is Minimize (nil counts as all
// Minimize), i.e. whether scores are already in minimisation form.
func AllMinimize(dirs []Direction) bool {
	for _, d := range dirs {
		if d != Minimize {
			return false
		}
	}
	return true
}

// CostsTo writes the minimisation form of score into dst and returns dst:
// dst[i] = score[i] for Minimize, -score[i] for Maximize, +Inf for NaN.
// dst may alias score. A nil dirs means every objective is minimised.
// It panics if the lengths differ.
func CostsTo(dst, score []float64, dirs []Direction) []float64 {
	if len(dst) != len(score) || (dirs != nil && len(dirs) != len(score)) {
		panic("fitness: length mismatch")
	}
	for i, v := range score {
		dst[i] = cost(v, dirAt(dirs, i))
	}
	return dst
}

// Costs returns the minimisation form of points. When every direction is
// Minimize and no value is NaN it returns points itself without copying, so the
// result must be treated as read-only; otherwise it returns a fresh copy.
func Costs(points [][]float64, dirs []Direction) [][]float64 {
	if AllMinimize(dirs) && !hasNaN(points) {
		return points
	}
	out := make([][]float64, len(points))
	m := 0
	if len(points) > 0 {
		m = len(points[0])
	}
	flat := make([]float64, len(points)*m)
	for i, p := range points {
		if len(p) != m {
			panic("fitness: ragged points")
		}
		out[i] = CostsTo(flat[i*m:(i+1)*m:(i+1)*m], p, dirs)
	}
	return out
}

func hasNaN(points [][]float64) bool {
	for _, p := range points {
		for _, v := range p {
			if v != v {
				return true
			}
		}
	}
	return false
}

// IdealPoint writes into dst the best value of each objective over points (in
// the original units) and returns dst. NaN values are ignored; an objective
// with no number gets NaN. dst is allocated when nil.
func IdealPoint(dst []float64, points [][]float64, dirs []Direction) []float64 {
	return extremePoint(dst, points, dirs, true)
}

// NadirPoint writes into dst the worst value of each objective over points
// (in the original units) and returns dst. Call it on a Pareto front to get the
// nadir of that front. NaN values are ignored; an objective with no number gets
// NaN. dst is allocated when nil.
func NadirPoint(dst []float64, points [][]float64, dirs []Direction) []float64 {
	return extremePoint(dst, points, dirs, false)
}

func extremePoint(dst []float64, points [][]float64, dirs []Direction, best bool) []float64 {
	if len(points) == 0 {
		return dst[:0]
	}
	m := len(points[0])
	if dst == nil {
		dst = make([]float64, m)
	}
	if len(dst) != m || (dirs != nil && len(dirs) != m) {
		panic("fitness: length mismatch")
	}
	for j := range dst {
		dst[j] = math.NaN()
	}
	for _, p := range points {
		if len(p) != m {
			panic("fitness: ragged points")
		}
		for j, v := range p {
			if v != v {
				continue
			}
			d := dirAt(dirs, j)
			if dst[j] != dst[j] || (best && d.Better(v, dst[j])) || (!best && d.Better(dst[j], v)) {
				dst[j] = v
			}
		}
	}
	return dst
}

// Normalizer maps scores to normalised costs: 0 at the ideal point, 1 at the
// nadir point, whatever the direction of each objective.
type Normalizer struct {
	// Ideal and Nadir are in the original units of each objective.
	Ideal, Nadir []float64
	// Directions of the objectives; nil means all Minimize.
	Directions []Direction
}

// NewNormalizer takes the ideal and nadir points of points. It returns an
// error if there are no points or an objective has no finite value.
func NewNormalizer(points [][]float64, dirs []Direction) (*Normalizer, error) {
	if len(points) == 0 {
		return nil, errors.New("fitness: cannot normalise against an empty set of points")
	}
	n := &Normalizer{
		Ideal:      IdealPoint(nil, points, dirs),
		Nadir:      NadirPoint(nil, points, dirs),
		Directions: dirs,
	}
	for j := range n.Ideal {
		if math.IsNaN(n.Ideal[j]) || math.IsInf(n.Ideal[j], 0) || math.IsInf(n.Nadir[j], 0) {
			return nil, fmt.Errorf("fitness: objective %d has no finite scores to normalise against", j)
		}
	}
	return n, nil
}

// NormalizeTo writes (cost(score) - cost(ideal)) / (cost(nadir) - cost(ideal))
// into dst and returns it. An objective whose ideal equals its nadir maps to 0.
// NaN scores map to +Inf. dst may alias score. It panics if lengths differ.
func (n *Normalizer) NormalizeTo(dst, score []float64) []float64 {
	if len(dst) != len(score) || len(n.Ideal) != len(score) || len(n.Nadir) != len(score) {
		panic("fitness: length mismatch")
	}
	for j, v := range score {
		d := dirAt(n.Directions, j)
		lo, hi := cost(n.Ideal[j], d), cost(n.Nadir[j], d)
		c := cost(v, d)
		switch {
		case math.IsInf(c, 1):
			dst[j] = math.Inf(1)
		case hi > lo:
			dst[j] = (c - lo) / (hi - lo)
		default:
			dst[j] = 0
		}
	}
	return dst
}
