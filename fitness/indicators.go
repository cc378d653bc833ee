package fitness

import (
	"errors"
	"fmt"
	"math"
)

// IGD returns the inverted generational distance of approx with respect to a
// reference front: the mean over reference points r of the Euclidean distance
// from r to the nearest point of approx. Lower is better; 0 means approx
// contains every reference point. Directions do not matter for IGD (distances
// are symmetric), but NaN scores are treated as infinitely bad, so give dirs
// when approx may hold them. Scale objectives to comparable ranges first
// (Normalizer) when their units differ. O(|approx|·|reference|·M).
func IGD(approx, reference [][]float64, dirs []Direction) (float64, error) {
	return invertedDistance(approx, reference, dirs, false)
}

// IGDPlus returns IGD+ (Ishibuchi et al. 2015): like IGD but the distance from
// a reference point r to a point a counts only the objectives where a is worse
// than r, sqrt(Σ_i max(cost(a_i) - cost(r_i), 0)²). Unlike IGD it is weakly
// Pareto-compliant: a set that dominates another never scores worse.
func IGDPlus(approx, reference [][]float64, dirs []Direction) (float64, error) {
	return invertedDistance(approx, reference, dirs, true)
}

// GD returns the generational distance of approx: the mean over points of
// approx of the Euclidean distance to the nearest reference point. It measures
// convergence only (a single point on the front scores 0); report it with IGD.
func GD(approx, reference [][]float64, dirs []Direction) (float64, error) {
	return distanceIndicator(approx, reference, dirs, false, true)
}

func invertedDistance(approx, reference [][]float64, dirs []Direction, plus bool) (float64, error) {
	return distanceIndicator(approx, reference, dirs, plus, false)
}

// distanceIndicator averages nearest distances: over reference points to
// approx (IGD, IGD+) or, when forward is set, over approx to the reference
// points (GD).
func distanceIndicator(approx, reference [][]float64, dirs []Direction, plus, forward bool) (float64, error) {
	if len(reference) == 0 {
		return 0, errors.New("fitness: empty reference front: IGD needs at least one reference point")
	}
	if len(approx) == 0 {
		return 0, errors.New("fitness: empty approximation set: IGD is undefined without points")
	}
	m := len(reference[0])
	if dirs != nil && len(dirs) != m {
		return 0, fmt.Errorf("fitness: reference points have %d objectives but %d directions were given", m, len(dirs))
	}
	for i, r := range reference {
		if len(r) != m {
			return 0, fmt.Errorf("fitness: reference point %d has %d objectives, want %d", i, len(r), m)
		}
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("fitness: reference point %d has value %v on objective %d: reference fronts must be finite", i, v, j)
			}
		}
	}
	for i, a := range approx {
		if len(a) != m {
			return 0, fmt.Errorf("fitness: point %d has %d objectives, want %d", i, len(a), m)
		}
	}
	from, to := Costs(reference, dirs), Costs(approx, dirs)
	if forward {
		from, to = to, from
	}
	sum := 0.0
	for _, r := range from {
		best := math.Inf(1)
		for _, a := range to {
			d2 := 0.0
			for j, v := range a {
				diff := v - r[j]
				if plus && diff < 0 {
					diff = 0
				}
				d2 += diff * diff
				if d2 >= best {
					break
				}
			}
			best = min(best, d2)
		}
		sum += math.Sqrt(best)
	}
	return sum / float64(len(from)), nil
}
