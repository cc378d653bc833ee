package fitness

import (
	"fmt"
	"math"
)

// Scalarisations turn a score vector into one cost: lower is better, whatever
// the directions of the objectives (a maximised objective enters negated).
// Methods that maximise negate the cost. All of them panic on length
// mismatches (programmer errors); validate weights from configs with
// ValidateWeights.

// ValidateWeights checks that there is one weight per objective, each finite
// and non-negative, and that at least one is positive.
func ValidateWeights(weights []float64, objectives int) error {
	if len(weights) != objectives {
		return fmt.Errorf("fitness: %d weights for %d objectives: give one weight per objective", len(weights), objectives)
	}
	positive := false
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return fmt.Errorf("fitness: weight %d is %v: weights must be finite and non-negative", i, w)
		}
		if w > 0 {
			positive = true
		}
	}
	if !positive {
		return fmt.Errorf("fitness: all weights are zero: give at least one objective a positive weight")
	}
	return nil
}

// WeightedSum returns Σ_i w_i · cost(score_i): for maximised objectives the
// negated weighted sum of the scores. A NaN score gives +Inf. It panics if the
// lengths differ.
func WeightedSum(score, weights []float64, dirs []Direction) float64 {
	if len(weights) != len(score) || (dirs != nil && len(dirs) != len(score)) {
		panic("fitness: length mismatch")
	}
	sum := 0.0
	for i, v := range score {
		c := cost(v, dirAt(dirs, i))
		if math.IsInf(c, 1) {
			return math.Inf(1)
		}
		sum += weights[i] * c
	}
	return sum
}

// Chebyshev returns the augmented Chebyshev (Tchebycheff) cost
//
//	max_i w_i·(cost(score_i) - cost(ideal_i)) + rho·Σ_i w_i·(cost(score_i) - cost(ideal_i))
//
// where ideal is in the original units (IdealPoint, or a utopian point
// slightly better than it). rho = 0 gives the plain weighted Chebyshev
// function, whose minimisers include weakly Pareto-optimal points; a small
// rho > 0 (e.g. 1e-4) makes every minimiser Pareto-optimal. The differences
// are signed rather than absolute, so a point that beats an estimated ideal is
// still rewarded for it (with a true ideal the two forms agree). With a
// utopian ideal (strictly better than every point), every Pareto-optimal
// point minimises the plain function for some weights, including points on
// non-convex parts of the front that no weighted sum reaches. A NaN score
// gives +Inf. It panics if the lengths differ.
func Chebyshev(score, weights, ideal []float64, dirs []Direction, rho float64) float64 {
	if len(weights) != len(score) || len(ideal) != len(score) || (dirs != nil && len(dirs) != len(score)) {
		panic("fitness: length mismatch")
	}
	worst, sum := math.Inf(-1), 0.0
	for i, v := range score {
		d := dirAt(dirs, i)
		c := cost(v, d)
		if math.IsInf(c, 1) {
			return math.Inf(1)
		}
		t := weights[i] * (c - cost(ideal[i], d))
		worst = max(worst, t)
		sum += t
	}
	return worst + rho*sum
}
