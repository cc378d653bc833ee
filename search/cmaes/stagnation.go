package cmaes

import (
	"math"
	"slices"
)

// tolFun is the cost range below which a run counts as flat (Hansen's
// TolFun, absolute like his default).
const tolFun = 1e-12

// stagnation implements two of Hansen's stopping criteria (arXiv:1604.00772,
// appendix B.3) on the costs each generation was told:
//
//   - TolFun: over the last H = 10 + ⌈30n/λ⌉ generations the best costs,
//     and the costs of the current generation, all lie within tolFun;
//   - EqualFunValues: in more than a third of the last H generations the
//     best and the k-th best cost (k = max(2, ⌈0.1 + λ/4⌉)) were equal.
//
// gonum's CmaEsChol stops only when its covariance volume falls below
// StopLogDet, which a plateau never causes, so without these a full-variant
// run on a flat or quantised objective would never restart.
type stagnation struct {
	window, kth int
	best        []float64 // ring of generation-best costs
	equal       []bool    // ring: best == k-th best
	gen         int
	sorted      []float64
}

func newStagnation(n, lambda int) *stagnation {
	h := 10 + int(math.Ceil(30*float64(n)/float64(lambda)))
	return &stagnation{
		// k is at least 2: for λ < 4 Hansen's formula gives 1, and the
		// best always equals itself.
		window: h, kth: max(2, int(math.Ceil(0.1+float64(lambda)/4))),
		best: make([]float64, h), equal: make([]bool, h), sorted: make([]float64, lambda),
	}
}

// tell records a generation's costs and reports whether the run stagnated.
// +Inf costs (failed candidates) never count as equal.
func (s *stagnation) tell(costs []float64) bool {
	copy(s.sorted, costs)
	slices.Sort(s.sorted)
	slot := s.gen % s.window
	s.gen++
	s.best[slot] = s.sorted[0]
	k := min(s.kth, len(s.sorted)) - 1
	s.equal[slot] = s.sorted[0] == s.sorted[k] && !math.IsInf(s.sorted[k], 0)
	if s.gen < s.window {
		return false
	}
	equal := 0
	for _, e := range s.equal {
		if e {
			equal++
		}
	}
	if 3*equal > s.window {
		return true
	}
	lo, hi := slices.Min(s.best), slices.Max(s.best)
	cur := s.sorted[len(s.sorted)-1] - s.sorted[0]
	return hi-lo < tolFun && cur < tolFun
}
