package fitness

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Competition computes the resource-competition (implicit fitness sharing)
// fitness of M2N2 (Abrantes, Lange, Tang 2025) over an archive score matrix.
// Every datapoint j is a resource of capacity c_j shared among the models that
// solve it. With s_ij ∈ [0, 1] the score of model i on datapoint j:
//
//	z_j  = Σ_k s_kj                 total consumption of datapoint j
//	u_j  = c_j / z_j^α              value of one unit of datapoint j (0 when z_j = 0)
//	f_ij = u_j · s_ij               share of datapoint j captured by model i
//	F_i  = Σ_j f_ij                 fitness of model i
//
// With binary scores and α = 1, a datapoint solved by m models gives each of
// them c_j/m, so a model that alone solves rare datapoints is protected.
// α = 0 turns competition off: F_i = Σ_j c_j·s_ij (a plain GA's fitness).
//
// The set of models in competition is the rows passed in: the archive for
// parent selection, the archive plus the child for replacement. Pass only
// occupied archive slots.
//
// Compared with the reference code, inputs are checked instead of silently
// producing NaN: all rows must score the same datapoints (the competition is
// meaningless otherwise), scores must lie in [0, 1] (map continuous scores
// with UnitScoresTo first), a datapoint nobody solves is worth 0 rather than
// dividing by zero, and SelectionProbabilitiesTo falls back to uniform when
// every weight is 0. Ties in Worst go to the lowest index.
//
// The zero value has α = 0; set Alpha = 1 for M2N2's default. A Competition
// keeps a scratch buffer and is not safe for concurrent use.
type Competition struct {
	// Alpha is the competition exponent α ≥ 0.
	Alpha float64
	// Capacity holds c_j ≥ 0 per datapoint; nil means 1 for every datapoint.
	Capacity []float64

	unit []float64
}

// Validate checks Alpha and Capacity for an archive scored on datapoints
// datapoints.
func (c *Competition) Validate(datapoints int) error {
	if math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) || c.Alpha < 0 {
		return fmt.Errorf("fitness: competition exponent alpha is %v: it must be a finite number >= 0 (1 is M2N2's default, 0 turns competition off)", c.Alpha)
	}
	if c.Capacity == nil {
		return nil
	}
	if len(c.Capacity) != datapoints {
		return fmt.Errorf("fitness: %d capacities for %d datapoints: give one capacity per datapoint, or none for all 1", len(c.Capacity), datapoints)
	}
	for j, v := range c.Capacity {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("fitness: capacity of datapoint %d is %v: capacities must be finite and >= 0", j, v)
		}
	}
	return nil
}

// prepare validates scores and fills c.unit with u_j.
func (c *Competition) prepare(scores [][]float64) error {
	if len(scores) == 0 {
		return errors.New("fitness: competition over no models: pass at least one score row")
	}
	n := len(scores[0])
	if err := c.Validate(n); err != nil {
		return err
	}
	c.unit = slices.Grow(c.unit[:0], n)[:n]
	clear(c.unit)
	z := c.unit
	for i, row := range scores {
		if len(row) != n {
			return fmt.Errorf("fitness: score row %d has %d datapoints, row 0 has %d: every model must be scored on the same fixed datapoints", i, len(row), n)
		}
		for j, s := range row {
			if !(s >= 0 && s <= 1) {
				return fmt.Errorf("fitness: score of model %d on datapoint %d is %v: competition needs scores in [0, 1] (map them with UnitScoresTo)", i, j, s)
			}
			z[j] += s
		}
	}
	for j, zj := range z {
		capacity := 1.0
		if c.Capacity != nil {
			capacity = c.Capacity[j]
		}
		switch {
		case c.Alpha == 0:
			c.unit[j] = capacity
		case zj == 0:
			c.unit[j] = 0 // nobody solves j: every share is 0
		case c.Alpha == 1:
			c.unit[j] = capacity / zj
		default:
			c.unit[j] = capacity / math.Pow(zj, c.Alpha)
		}
	}
	return nil
}

// FitnessTo writes F_i for every row of scores into dst and returns dst (dst is
// allocated when nil). It returns an error if the rows differ in length, a
// score is outside [0, 1], or Alpha or Capacity is invalid. O(P·N).
func (c *Competition) FitnessTo(dst []float64, scores [][]float64) ([]float64, error) {
	if err := c.prepare(scores); err != nil {
		return nil, err
	}
	if dst == nil {
		dst = make([]float64, len(scores))
	}
	if len(dst) != len(scores) {
		panic("fitness: length mismatch")
	}
	for i, row := range scores {
		sum := 0.0
		for j, s := range row {
			sum += c.unit[j] * s
		}
		dst[i] = sum
	}
	return dst, nil
}

// AttractionTo writes into dst, for every model k, how much k offers where
// the model parent is weak: g_k = Σ_j max(0, f_kj − f_parent,j). g_parent = 0.
// M2N2 draws the second parent with probability proportional to g
// (SelectionProbabilitiesTo). Errors as FitnessTo, and for a parent index
// out of range.
func (c *Competition) AttractionTo(dst []float64, scores [][]float64, parent int) ([]float64, error) {
	if parent < 0 || parent >= len(scores) {
		return nil, fmt.Errorf("fitness: parent index %d outside the %d models in competition", parent, len(scores))
	}
	if err := c.prepare(scores); err != nil {
		return nil, err
	}
	if dst == nil {
		dst = make([]float64, len(scores))
	}
	if len(dst) != len(scores) {
		panic("fitness: length mismatch")
	}
	a := scores[parent]
	for k, row := range scores {
		sum := 0.0
		for j, s := range row {
			if d := s - a[j]; d > 0 {
				sum += c.unit[j] * d
			}
		}
		dst[k] = sum
	}
	return dst, nil
}

// Worst returns the index of the model with the lowest fitness, the lowest
// index among ties. For M2N2 replacement pass the archive rows followed by the
// child's row: if Worst returns the child's index the child is discarded,
// otherwise it replaces that model.
func (c *Competition) Worst(scores [][]float64) (int, error) {
	if err := c.prepare(scores); err != nil {
		return 0, err
	}
	worst, worstF := 0, math.Inf(1)
	for i, row := range scores {
		sum := 0.0
		for j, s := range row {
			sum += c.unit[j] * s
		}
		if sum < worstF {
			worst, worstF = i, sum
		}
	}
	return worst, nil
}

// SelectionProbabilitiesTo writes weights[i]/Σ weights into dst and returns
// dst (allocated when nil; may alias weights): roulette-wheel probabilities.
// When every weight is 0 (no model solves anything, or no model is better than
// the first parent anywhere) it returns the uniform distribution instead of
// dividing by zero. It returns an error if a weight is negative or not finite.
func SelectionProbabilitiesTo(dst, weights []float64) ([]float64, error) {
	if len(weights) == 0 {
		return nil, errors.New("fitness: no weights to select from")
	}
	sum := 0.0
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("fitness: selection weight %d is %v: weights must be finite and >= 0", i, w)
		}
		sum += w
	}
	if dst == nil {
		dst = make([]float64, len(weights))
	}
	if len(dst) != len(weights) {
		panic("fitness: length mismatch")
	}
	if sum == 0 {
		for i := range dst {
			dst[i] = 1 / float64(len(dst))
		}
		return dst, nil
	}
	for i, w := range weights {
		dst[i] = w / sum
	}
	return dst, nil
}

// SampleIndex returns the index drawn from probabilities probs by inverting
// the cumulative distribution at u ∈ [0, 1): the first i whose cumulative sum
// exceeds u, summed in index order. Entries with probability 0 are never
// drawn; if rounding leaves u above the total, the last index with positive
// probability is returned. It panics on an empty probs.
func SampleIndex(probs []float64, u float64) int {
	if len(probs) == 0 {
		panic("fitness: SampleIndex on empty probabilities")
	}
	acc, last := 0.0, -1
	for i, p := range probs {
		if p <= 0 {
			continue
		}
		acc += p
		last = i
		if u < acc {
			return i
		}
	}
	if last < 0 {
		panic("fitness: SampleIndex on all-zero probabilities")
	}
	return last
}

// UnitScoresTo maps continuous per-datapoint scores (reward, BLEU, loss) to
// [0, 1] for competition: (v-lo)/(hi-lo) when dir is Maximize, (hi-v)/(hi-lo)
// when it is Minimize, clipped to [0, 1]. A NaN score (failed) maps to 0. dst
// is allocated when nil and may alias raw. It returns an error if lo and hi
// are not finite with lo < hi, or dir is invalid.
func UnitScoresTo(dst, raw []float64, lo, hi float64, dir Direction) ([]float64, error) {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
		return nil, fmt.Errorf("fitness: score range [%v, %v] is not a finite interval with lo < hi", lo, hi)
	}
	if !dir.Valid() {
		return nil, fmt.Errorf("fitness: invalid direction %s: use Maximize or Minimize", dir)
	}
	if dst == nil {
		dst = make([]float64, len(raw))
	}
	if len(dst) != len(raw) {
		panic("fitness: length mismatch")
	}
	for j, v := range raw {
		var u float64
		switch {
		case math.IsNaN(v):
			u = 0
		case dir == Maximize:
			u = (v - lo) / (hi - lo)
		default:
			u = (hi - v) / (hi - lo)
		}
		dst[j] = min(max(u, 0), 1)
	}
	return dst, nil
}

// CorrectnessTo writes 1 for each correct example and 0 otherwise into dst and
// returns it (allocated when nil): per-example correctness as competition
// scores.
func CorrectnessTo(dst []float64, correct []bool) []float64 {
	if dst == nil {
		dst = make([]float64, len(correct))
	}
	if len(dst) != len(correct) {
		panic("fitness: length mismatch")
	}
	for j, ok := range correct {
		if ok {
			dst[j] = 1
		} else {
			dst[j] = 0
		}
	}
	return dst
}
