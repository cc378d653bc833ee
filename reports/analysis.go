package reports

import (
	"math"
	"math/bits"
	"time"

	"github.com/evomerge/evomerge/fitness"
)

// maxProgressPoints bounds the number of points of each progress curve; a
// longer run is sampled at evenly spaced evaluations (the last one always
// included).
const maxProgressPoints = 400

// progressPoint is the state of a run after some evaluations.
type progressPoint struct {
	Evaluations int
	// Seconds since the first evaluation started (NaN when unknown).
	Seconds     float64
	Hypervolume float64
	// Best per objective over successful candidates so far (NaN: none yet).
	Best []float64
}

// scored returns the indexes of candidates with a full set of finite scores.
func scored(r *Run) []int {
	idx := make([]int, 0, len(r.Candidates))
	for i := range r.Candidates {
		c := &r.Candidates[i].Candidate
		if c.OK() && len(c.Scores) == len(r.Objectives) && finite(c.Scores) {
			idx = append(idx, i)
		}
	}
	return idx
}

// hypervolumeRef returns the hypervolume reference point of a run: the
// nadir of all scored candidates and references pushed out by 10% of each
// range, so that every curve of the report uses the same fixed point. It
// returns nil when nothing is scored yet.
func hypervolumeRef(r *Run, ok []int) []float64 {
	pts := make([][]float64, 0, len(ok)+len(r.References))
	for _, i := range ok {
		pts = append(pts, r.Candidates[i].Scores)
	}
	for _, ref := range r.References {
		if finite(ref.Validation) {
			pts = append(pts, ref.Validation)
		}
	}
	if len(pts) == 0 {
		return nil
	}
	ref, err := fitness.ReferencePoint(pts, fitness.Directions(r.Objectives), 0.1)
	if err != nil {
		return nil
	}
	return ref
}

// progress returns the hypervolume and best scores after evaluations
// sampled evenly over the run. The non-dominated set is kept incrementally
// and the hypervolume recomputed only at sample points where it changed.
func progress(r *Run, ref []float64) []progressPoint {
	n := len(r.Candidates)
	if n == 0 || ref == nil {
		return nil
	}
	dirs := fitness.Directions(r.Objectives)
	m := len(r.Objectives)
	step := (n + maxProgressPoints - 1) / maxProgressPoints
	var t0 time.Time
	for i := range r.Candidates {
		if s := r.Candidates[i].Started; !s.IsZero() && (t0.IsZero() || s.Before(t0)) {
			t0 = s
		}
	}
	best := make([]float64, m)
	for j := range best {
		best[j] = math.NaN()
	}
	var front [][]float64
	changed := false
	hv := 0.0
	out := make([]progressPoint, 0, n/step+1)
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if c.OK() && len(c.Scores) == m && finite(c.Scores) {
			for j, v := range c.Scores {
				if math.IsNaN(best[j]) || dirs[j].Better(v, best[j]) {
					best[j] = v
				}
			}
			if insertNonDominated(&front, c.Scores, dirs) {
				changed = true
			}
		}
		if (i+1)%step != 0 && i != n-1 {
			continue
		}
		if changed {
			if v, err := fitness.Hypervolume(front, ref, dirs); err == nil {
				hv = v
			}
			changed = false
		}
		secs := math.NaN()
		if end := c.Finished; !t0.IsZero() && !end.IsZero() {
			secs = end.Sub(t0).Seconds()
		}
		out = append(out, progressPoint{Evaluations: i + 1, Seconds: secs, Hypervolume: hv, Best: append([]float64(nil), best...)})
	}
	return out
}

// insertNonDominated adds p to the non-dominated set unless a member
// dominates or equals it, removing the members p dominates. It reports
// whether the set changed.
func insertNonDominated(front *[][]float64, p []float64, dirs []fitness.Direction) bool {
	for _, q := range *front {
		if fitness.Dominates(q, p, dirs) || equalScores(q, p) {
			return false
		}
	}
	kept := (*front)[:0]
	for _, q := range *front {
		if !fitness.Dominates(p, q, dirs) {
			kept = append(kept, q)
		}
	}
	*front = append(kept, p)
	return true
}

func equalScores(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// frontMembers returns the run's front, or when the run has none yet, the
// non-dominated scored candidates with their validation scores (test
// scores pending). The second result says whether the front was computed.
func frontMembers(r *Run, ok []int) ([]FrontMember, bool) {
	if len(r.Front) > 0 {
		return r.Front, false
	}
	pts := make([][]float64, len(ok))
	for k, i := range ok {
		pts[k] = r.Candidates[i].Scores
	}
	idx := fitness.ParetoFront(pts, fitness.Directions(r.Objectives))
	out := make([]FrontMember, 0, len(idx))
	seen := make(map[string]bool, len(idx))
	for _, j := range idx {
		c := &r.Candidates[ok[j]]
		if seen[c.ID] {
			continue // the same candidate evaluated again
		}
		seen[c.ID] = true
		out = append(out, FrontMember{ID: c.ID, Validation: c.Scores, NormalizedAccuracy: math.NaN()})
	}
	return out, true
}

// rSquared returns the coefficient of determination of predictions against
// measured values, 1 - SS_res/SS_tot; NaN for fewer than two points or
// constant measured values.
func rSquared(pred, meas []float64) float64 {
	if len(meas) < 2 || len(pred) != len(meas) {
		return math.NaN()
	}
	mean := 0.0
	for _, y := range meas {
		mean += y
	}
	mean /= float64(len(meas))
	var ssRes, ssTot float64
	for i, y := range meas {
		d := y - pred[i]
		ssRes += d * d
		e := y - mean
		ssTot += e * e
	}
	if ssTot == 0 {
		return math.NaN()
	}
	return 1 - ssRes/ssTot
}

// archiveStats returns the coverage of an archive snapshot (the fraction of
// examples solved by at least one member) and its diversity (the mean
// pairwise Hamming distance between members' solved sets, as a fraction of
// the examples). Both are NaN for an empty snapshot.
func archiveStats(s ArchiveSnapshot) (coverage, diversity float64) {
	if len(s.Members) == 0 {
		return math.NaN(), math.NaN()
	}
	n := 0
	for _, mem := range s.Members {
		n = max(n, mem.Solved.Len())
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	words := (n + 63) / 64
	union := make([]uint64, words)
	for _, mem := range s.Members {
		for w, x := range mem.Solved.Words {
			if w < words {
				union[w] |= x
			}
		}
	}
	covered := 0
	for _, x := range union {
		covered += bits.OnesCount64(x)
	}
	coverage = float64(covered) / float64(n)
	if len(s.Members) < 2 {
		return coverage, 0
	}
	var dist, pairs float64
	for a := range s.Members {
		for b := a + 1; b < len(s.Members); b++ {
			wa, wb := s.Members[a].Solved.Words, s.Members[b].Solved.Words
			d := 0
			for w := 0; w < words; w++ {
				var x, y uint64
				if w < len(wa) {
					x = wa[w]
				}
				if w < len(wb) {
					y = wb[w]
				}
				d += bits.OnesCount64(x ^ y)
			}
			dist += float64(d) / float64(n)
			pairs++
		}
	}
	return coverage, dist / pairs
}
