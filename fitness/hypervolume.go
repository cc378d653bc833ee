package fitness

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Hypervolume returns the exact Lebesgue measure of the region that the points
// dominate and that dominates ref, under the given directions (nil means all
// Minimize). In minimisation form this is the volume of the union of the boxes
// [p, ref] over the points p.
//
// ref is in the original units of each objective and must be finite. A point
// that is not strictly better than ref on every objective contributes nothing
// (it bounds no volume), NaN scores included. Dominated and duplicated points
// are allowed and add nothing.
//
// Algorithms, for N points of M objectives:
//   - M = 1: the best value's distance to ref.
//   - M = 2: a sweep over points sorted by the first objective, O(N log N).
//   - M = 3: the HV3D sweep over the third objective, keeping the non-dominated
//     2-D staircase of the points seen so far in a sorted slice and updating its
//     area incrementally: O(N log N) comparisons and O(N²) element moves in the
//     worst case (a fraction of a millisecond for N = 1000).
//   - M = 4: hypervolume by slicing objectives (HSO) along the fourth
//     objective, each slab a 3-D sweep over the non-dominated projections
//     seen so far: O(N² log N).
//   - M ≥ 5: the WFG algorithm (While, Bradstreet, Barone 2012): the sum of
//     exclusive contributions, each computed from a non-dominated "limit
//     set" in M-1 objectives, recursively down to 4 objectives. Its worst
//     case is exponential in M but it is fast in practice (milliseconds for
//     100 points in 6 objectives); for large fronts in many objectives use
//     HypervolumeMonteCarlo.
//
// It returns an error if ref has the wrong length or is not finite.
func Hypervolume(points [][]float64, ref []float64, dirs []Direction) (float64, error) {
	pts, _, refCost, err := boundedCosts(points, ref, dirs)
	if err != nil {
		return 0, err
	}
	return hypervolumeCosts(pts, refCost), nil
}

// boundedCosts validates ref and returns the cost vectors of the points that
// are strictly better than ref on every objective, their indexes in points,
// and ref in cost form.
func boundedCosts(points [][]float64, ref []float64, dirs []Direction) ([][]float64, []int, []float64, error) {
	m := len(ref)
	if m == 0 {
		return nil, nil, nil, fmt.Errorf("fitness: empty reference point: give one value per objective")
	}
	if dirs != nil && len(dirs) != m {
		return nil, nil, nil, fmt.Errorf("fitness: reference point has %d values but there are %d objectives", m, len(dirs))
	}
	refCost := make([]float64, m)
	for j, v := range ref {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, nil, fmt.Errorf("fitness: reference point value %d is %v: it must be a finite number", j, v)
		}
		d := dirAt(dirs, j)
		if !d.Valid() {
			return nil, nil, nil, fmt.Errorf("fitness: objective %d has an invalid direction %s", j, d)
		}
		refCost[j] = cost(v, d)
	}
	flat := make([]float64, 0, len(points)*m)
	var (
		pts  [][]float64
		kept []int
	)
	for i, p := range points {
		if len(p) != m {
			return nil, nil, nil, fmt.Errorf("fitness: point %d has %d objectives, reference point has %d", i, len(p), m)
		}
		start := len(flat)
		inside := true
		for j, v := range p {
			c := cost(v, dirAt(dirs, j))
			if !(c < refCost[j]) {
				inside = false
				break
			}
			flat = append(flat, c)
		}
		if !inside {
			flat = flat[:start]
			continue
		}
		pts = append(pts, flat[start:start+m:start+m])
		kept = append(kept, i)
	}
	return pts, kept, refCost, nil
}

// hypervolumeCosts computes the hypervolume of cost vectors that are all
// strictly inside the box below ref. It may reorder pts (not the vectors).
func hypervolumeCosts(pts [][]float64, ref []float64) float64 {
	var w hvWorkspace
	if len(ref) >= 5 {
		pts = nonDominatedCosts(pts)
	}
	return w.hypervolume(pts, ref)
}

func (w *hvWorkspace) hypervolume(pts [][]float64, ref []float64) float64 {
	if len(pts) == 0 {
		return 0
	}
	switch len(ref) {
	case 1:
		best := pts[0][0]
		for _, p := range pts[1:] {
			best = min(best, p[0])
		}
		return ref[0] - best
	case 2:
		return hv2D(pts, ref[0], ref[1])
	case 3:
		return w.st.volume(pts, ref)
	case 4:
		return w.slice4(pts, ref)
	}
	return w.wfg(pts, ref)
}

// slice4 computes the hypervolume in 4 objectives by slicing along the last
// one (HSO): points sorted by the 4th objective enter a non-dominated set of
// 3-D projections kept incrementally, and each slab between consecutive 4th
// coordinates contributes the 3-D sweep volume of that set times its
// thickness. O(N² log N); in 4 objectives this beats WFG, whose limit sets
// cost O(N²) each.
func (w *hvWorkspace) slice4(pts [][]float64, ref []float64) float64 {
	slices.SortFunc(pts, func(a, b []float64) int { return cmp.Compare(a[3], b[3]) })
	front := w.front[:0] // non-dominated projections of the points seen so far
	vol := 0.0
	for i, p := range pts {
		proj := p[:3:3]
		if !weaklyDominatedBy(proj, front) {
			keep := front[:0]
			for _, q := range front {
				if !weaklyDominates(proj, q) {
					keep = append(keep, q)
				}
			}
			front = append(keep, proj)
		}
		next := ref[3]
		if i+1 < len(pts) {
			next = pts[i+1][3]
		}
		if next > p[3] {
			w.work = append(w.work[:0], front...) // the sweep reorders its input
			vol += w.st.volume(w.work, ref[:3]) * (next - p[3])
		}
	}
	w.front = front
	return vol
}

// nonDominatedCosts keeps, in place, the points no other point weakly
// dominates, keeping the first of equal points.
func nonDominatedCosts(pts [][]float64) [][]float64 {
	keep := pts[:0]
	for _, p := range pts {
		if weaklyDominatedBy(p, keep) {
			continue
		}
		n := 0
		for _, q := range keep {
			if !weaklyDominates(p, q) {
				keep[n] = q
				n++
			}
		}
		keep = append(keep[:n], p)
	}
	return keep
}

// hv2D is the 2-D sweep on the first two coordinates of pts.
func hv2D(pts [][]float64, rx, ry float64) float64 {
	slices.SortFunc(pts, func(a, b []float64) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	area, level := 0.0, ry
	for _, p := range pts {
		if p[1] < level {
			area += (rx - p[0]) * (level - p[1])
			level = p[1]
		}
	}
	return area
}

// staircase is the non-dominated set of 2-D points (minimisation) below a
// reference (rx, ry): xs strictly increasing, ys strictly decreasing, with the
// area it dominates kept up to date on every insertion.
type staircase struct {
	xs, ys []float64
	area   float64
	rx, ry float64
}

func (s *staircase) reset(rx, ry float64) {
	s.xs, s.ys = s.xs[:0], s.ys[:0]
	s.area, s.rx, s.ry = 0, rx, ry
}

// insert adds (px, py), which lies strictly below (rx, ry), and updates the
// area by the part of its box not already covered.
func (s *staircase) insert(px, py float64) {
	idx, _ := slices.BinarySearch(s.xs, px) // first i with xs[i] >= px
	if idx > 0 && s.ys[idx-1] <= py {
		return // dominated by a point to its left
	}
	if idx < len(s.xs) && s.xs[idx] == px && s.ys[idx] <= py {
		return // dominated by a point with the same x
	}
	// Points from idx on have x >= px; those with y >= py are dominated by p
	// and form a prefix of that range because ys decreases.
	end := idx
	for end < len(s.xs) && s.ys[end] >= py {
		end++
	}
	// Uncovered area of p's box: over [px, next x) the staircase covers y
	// down to the level of the point on the left (or nothing), then down to
	// each removed point's y.
	level := s.ry
	if idx > 0 {
		level = s.ys[idx-1]
	}
	x0, delta := px, 0.0
	for j := idx; j < end; j++ {
		delta += (s.xs[j] - x0) * (level - py)
		x0, level = s.xs[j], s.ys[j]
	}
	xEnd := s.rx
	if end < len(s.xs) {
		xEnd = s.xs[end]
	}
	delta += (xEnd - x0) * (level - py)
	s.area += delta
	s.xs = slices.Replace(s.xs, idx, end, px)
	s.ys = slices.Replace(s.ys, idx, end, py)
}

// volume is the HV3D sweep: points sorted by the third coordinate are added
// to the staircase of the first two, and each slab between consecutive third
// coordinates contributes the staircase area times its thickness.
func (s *staircase) volume(pts [][]float64, ref []float64) float64 {
	slices.SortFunc(pts, func(a, b []float64) int {
		if c := cmp.Compare(a[2], b[2]); c != 0 {
			return c
		}
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	s.reset(ref[0], ref[1])
	vol := 0.0
	for i, p := range pts {
		s.insert(p[0], p[1])
		next := ref[2]
		if i+1 < len(pts) {
			next = pts[i+1][2]
		}
		vol += s.area * (next - p[2])
	}
	return vol
}

// hvWorkspace holds the buffers of the WFG recursion: one limit-set buffer
// per number of objectives (the recursion never has two live limit sets of
// the same dimension) and one staircase for the 3-D base case.
type hvWorkspace struct {
	flat [][]float64   // flat[m]: storage of the limit-set rows in m objectives
	rows [][][]float64 // rows[m]: the limit-set rows
	st   staircase
	// front and work are the 4-objective slicing buffers.
	front, work [][]float64
}

// wfg computes the hypervolume in M ≥ 4 objectives with the WFG algorithm
// (While, Bradstreet, Barone 2012). Points are processed worst-first in the
// last objective, so the exclusive contribution of point k over the points
// after it is
//
//	(ref_M - p_kM) · (box_{M-1}(p_k) - HV_{M-1}(limit set))
//
// where the limit set holds max(p_k, q) for every later q, projected to the
// first M-1 objectives (all of them share p_kM in the last one) and reduced
// to its non-dominated members. The recursion bottoms out in 4 objectives
// (slice4).
func (w *hvWorkspace) wfg(pts [][]float64, ref []float64) float64 {
	m := len(ref)
	slices.SortFunc(pts, func(a, b []float64) int { return cmp.Compare(b[m-1], a[m-1]) })
	if len(w.flat) < m {
		w.flat = append(w.flat, make([][]float64, m-len(w.flat))...)
		w.rows = append(w.rows, make([][][]float64, m-len(w.rows))...)
	}
	total := 0.0
	for k, p := range pts {
		box := 1.0
		for j := 0; j < m-1; j++ {
			box *= ref[j] - p[j]
		}
		// Build the non-dominated limit set in m-1 objectives. flat has room
		// for every candidate up front, so row slices into it stay valid.
		need := (len(pts) - k - 1) * (m - 1)
		flat := slices.Grow(w.flat[m-1][:0], need)
		rows := w.rows[m-1][:0]
		for _, q := range pts[k+1:] {
			start := len(flat)
			for j := 0; j < m-1; j++ {
				flat = append(flat, max(p[j], q[j]))
			}
			limit := flat[start : start+m-1 : start+m-1]
			if weaklyDominatedBy(limit, rows) {
				flat = flat[:start]
				continue
			}
			keep := rows[:0]
			for _, r := range rows {
				if !weaklyDominates(limit, r) {
					keep = append(keep, r)
				}
			}
			rows = append(keep, limit)
		}
		w.flat[m-1], w.rows[m-1] = flat, rows
		excl := box
		if len(rows) > 0 {
			excl -= w.hypervolume(rows, ref[:m-1])
		}
		total += (ref[m-1] - p[m-1]) * excl
	}
	return total
}

// weaklyDominates reports a ≤ b componentwise (costs).
func weaklyDominates(a, b []float64) bool {
	b = b[:len(a)]
	for i, v := range a {
		if v > b[i] {
			return false
		}
	}
	return true
}

func weaklyDominatedBy(p []float64, set [][]float64) bool {
	for _, q := range set {
		if weaklyDominates(q, p) {
			return true
		}
	}
	return false
}

// ReferencePoint returns a hypervolume reference point slightly worse than
// every point: the nadir point of points moved away from the ideal point by
// margin times the range of each objective (a common choice is margin = 0.1).
// An objective whose values are all equal is moved by margin·max(|value|, 1).
// Comparing hypervolumes is only meaningful against one fixed reference
// point, so compute it once (e.g. from the experts' or the first generation's
// scores) and keep it for the run. It returns an error if there are no
// points, margin is negative or not finite, or an objective has no finite
// value.
func ReferencePoint(points [][]float64, dirs []Direction, margin float64) ([]float64, error) {
	if math.IsNaN(margin) || math.IsInf(margin, 0) || margin < 0 {
		return nil, fmt.Errorf("fitness: reference point margin is %v: it must be a finite number >= 0", margin)
	}
	n, err := NewNormalizer(points, dirs)
	if err != nil {
		return nil, err
	}
	ref := make([]float64, len(n.Nadir))
	for j, nadir := range n.Nadir {
		d := dirAt(dirs, j)
		span := math.Abs(nadir - n.Ideal[j])
		if span == 0 {
			span = max(math.Abs(nadir), 1)
		}
		ref[j] = nadir + d.Sign()*margin*span // worse: larger cost
	}
	return ref, nil
}

// HypervolumeContributionsTo writes into dst the exclusive hypervolume
// contribution of every point, HV(all) - HV(all but point i), and returns dst
// (allocated when nil): how much volume would be lost without that point. A
// point that another point weakly dominates (duplicates included) contributes
// 0, as does a point that is not strictly better than ref everywhere. Same
// conventions and errors as Hypervolume; cost N exact hypervolume
// computations on N-1 points in the worst case.
func HypervolumeContributionsTo(dst []float64, points [][]float64, ref []float64, dirs []Direction) ([]float64, error) {
	costs, index, refCost, err := boundedCosts(points, ref, dirs)
	if err != nil {
		return nil, err
	}
	if dst == nil {
		dst = make([]float64, len(points))
	}
	if len(dst) != len(points) {
		panic("fitness: length mismatch")
	}
	clear(dst)
	total := hypervolumeCosts(slices.Clone(costs), refCost)
	others := make([][]float64, 0, len(costs))
	for k, p := range costs {
		dominated := false
		for l, q := range costs {
			if l != k && weaklyDominates(q, p) {
				dominated = true
				break
			}
		}
		if dominated {
			continue
		}
		others = append(append(others[:0], costs[:k]...), costs[k+1:]...)
		dst[index[k]] = max(total-hypervolumeCosts(others, refCost), 0)
	}
	return dst, nil
}
