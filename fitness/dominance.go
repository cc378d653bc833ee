package fitness

import (
	"math"
	"slices"
)

// Dominates reports whether a Pareto-dominates b: a is no worse than b in every
// objective and strictly better in at least one, under the given directions
// (nil means all Minimize). NaN is worse than every number. It panics if the
// lengths differ.
func Dominates(a, b []float64, dirs []Direction) bool {
	return compareCosts(a, b, dirs) == 1
}

// compareCosts returns 1 if a dominates b, -1 if b dominates a, 0 otherwise
// (mutually non-dominated or equal).
func compareCosts(a, b []float64, dirs []Direction) int {
	if len(a) != len(b) || (dirs != nil && len(dirs) != len(a)) {
		panic("fitness: length mismatch")
	}
	aBetter, bBetter := false, false
	for i := range a {
		d := dirAt(dirs, i)
		ca, cb := cost(a[i], d), cost(b[i], d)
		if ca < cb {
			aBetter = true
		} else if cb < ca {
			bBetter = true
		}
		if aBetter && bBetter {
			return 0
		}
	}
	switch {
	case aBetter:
		return 1
	case bBetter:
		return -1
	}
	return 0
}

// Sorter performs fast non-dominated sorting (Deb et al., NSGA-II) and keeps
// its work buffers between calls, so sorting populations of similar size
// repeatedly does not allocate after the first call. The zero value is ready
// to use. A Sorter is not safe for concurrent use.
type Sorter struct {
	count     []int   // number of points dominating each point
	dominated [][]int // points each point dominates, ascending
	rank      []int
	flat      []int
	fronts    [][]int
	costs     []float64
	order     []int // crowding-distance scratch
}

// Sort partitions the indices of points into fronts: front 0 holds the
// non-dominated points, front k the points dominated only by points in fronts
// < k. Indices within each front are ascending, so ties are broken by index
// and the result does not depend on anything but the input. Equal points land
// in the same front. Cost: O(M·N²) comparisons for N points of M objectives,
// O(N²) memory in the worst case.
//
// The returned slices are owned by the Sorter and valid until its next call;
// copy them to keep them. It panics if rows differ in length or from dirs.
func (s *Sorter) Sort(points [][]float64, dirs []Direction) [][]int {
	n := len(points)
	s.fronts = s.fronts[:0]
	if n == 0 {
		return s.fronts
	}
	m := len(points[0])
	if dirs != nil && len(dirs) != m {
		panic("fitness: length mismatch")
	}
	// Convert to costs once so the O(N²) loop compares plain numbers.
	s.costs = slices.Grow(s.costs[:0], n*m)[:n*m]
	for i, p := range points {
		if len(p) != m {
			panic("fitness: ragged points")
		}
		CostsTo(s.costs[i*m:(i+1)*m], p, dirs)
	}
	s.count = resizeInts(s.count, n)
	s.rank = resizeInts(s.rank, n)
	if cap(s.dominated) < n {
		s.dominated = append(s.dominated[:cap(s.dominated)], make([][]int, n-cap(s.dominated))...)
	}
	s.dominated = s.dominated[:n]
	for i := range s.dominated {
		s.dominated[i] = s.dominated[i][:0]
	}
	c := s.costs
	for p := 0; p < n; p++ {
		cp := c[p*m : (p+1)*m]
		for q := p + 1; q < n; q++ {
			switch dominanceOfCosts(cp, c[q*m:(q+1)*m]) {
			case 1:
				s.dominated[p] = append(s.dominated[p], q)
				s.count[q]++
			case -1:
				s.dominated[q] = append(s.dominated[q], p)
				s.count[p]++
			}
		}
	}
	// Peel fronts. Indices are collected in one flat buffer; each new front
	// is sorted so it is ascending whatever order the peeling found it in.
	s.flat = resizeInts(s.flat, n)[:0]
	for p := 0; p < n; p++ {
		if s.count[p] == 0 {
			s.flat = append(s.flat, p)
		}
	}
	start := 0
	for start < len(s.flat) {
		end := len(s.flat)
		for _, p := range s.flat[start:end] {
			for _, q := range s.dominated[p] {
				s.count[q]--
				if s.count[q] == 0 {
					s.flat = append(s.flat, q)
				}
			}
		}
		slices.Sort(s.flat[end:])
		s.fronts = append(s.fronts, s.flat[start:end:end])
		for _, p := range s.flat[start:end] {
			s.rank[p] = len(s.fronts) - 1
		}
		start = end
	}
	return s.fronts
}

// Ranks returns the front index of every point computed by the last call to
// Sort (0 = non-dominated). The slice is owned by the Sorter.
func (s *Sorter) Ranks() []int { return s.rank }

// dominanceOfCosts compares two cost vectors of equal length: 1 if a
// dominates b, -1 if b dominates a, 0 otherwise.
func dominanceOfCosts(a, b []float64) int {
	b = b[:len(a)]
	aBetter, bBetter := false, false
	for i, ca := range a {
		cb := b[i]
		if ca < cb {
			aBetter = true
		} else if cb < ca {
			bBetter = true
		}
		if aBetter && bBetter {
			return 0
		}
	}
	switch {
	case aBetter:
		return 1
	case bBetter:
		return -1
	}
	return 0
}

func resizeInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// NonDominatedSort returns the fronts of points as fresh slices; see
// Sorter.Sort for the contract. Use a Sorter to reuse buffers.
func NonDominatedSort(points [][]float64, dirs []Direction) [][]int {
	var s Sorter
	fronts := s.Sort(points, dirs)
	out := make([][]int, len(fronts))
	for i, f := range fronts {
		out[i] = slices.Clone(f)
	}
	return out
}

// ParetoFront returns the ascending indices of the points that no other point
// dominates. Duplicated non-dominated points are all kept. It sorts the points
// lexicographically by cost (a dominating point always comes first in that
// order) and checks each point only against the front found so far:
// O(N log N + M·N·F) time for a front of F points and O(N) memory, so it
// suits whole run histories where NonDominatedSort's O(N²) memory does not.
func ParetoFront(points [][]float64, dirs []Direction) []int {
	n := len(points)
	if n == 0 {
		return nil
	}
	for _, p := range points {
		if len(p) != len(points[0]) {
			panic("fitness: ragged points")
		}
	}
	costs := Costs(points, dirs)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := slices.Compare(costs[a], costs[b]); c != 0 {
			return c
		}
		return a - b
	})
	var front []int
	for _, i := range order {
		dominated := false
		for _, f := range front {
			if dominanceOfCosts(costs[f], costs[i]) == 1 {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, i)
		}
	}
	slices.Sort(front)
	return front
}

// CrowdingDistanceTo writes the NSGA-II crowding distance of each member of
// front into dst (dst[k] belongs to points[front[k]]) and returns dst; dst is
// allocated when nil. On each objective the members are ordered by value
// (ties by index); the first and last get +Inf, every other member adds
// (next - previous) / (max - min). An objective whose values are all equal
// contributes 0 to every member (no boundary +Inf either: no member is more
// isolated than another there). A member whose value on an objective is NaN or infinite is
// treated as a boundary point there (+Inf), and the range is taken over the
// finite values. Fronts of one or two members are all +Inf. Directions do not
// matter: the distance is symmetric.
func CrowdingDistanceTo(dst []float64, points [][]float64, front []int) []float64 {
	var order []int
	return crowdingDistance(dst, points, front, &order)
}

// CrowdingDistanceTo is CrowdingDistanceTo using the Sorter's buffers: it does
// not allocate when dst is given and the Sorter has seen a front as large.
func (s *Sorter) CrowdingDistanceTo(dst []float64, points [][]float64, front []int) []float64 {
	return crowdingDistance(dst, points, front, &s.order)
}

func crowdingDistance(dst []float64, points [][]float64, front []int, scratch *[]int) []float64 {
	if dst == nil {
		dst = make([]float64, len(front))
	}
	if len(dst) != len(front) {
		panic("fitness: length mismatch")
	}
	clear(dst)
	if len(front) <= 2 {
		for k := range dst {
			dst[k] = math.Inf(1)
		}
		return dst
	}
	m := len(points[front[0]])
	order := slices.Grow((*scratch)[:0], len(front)) // positions into front
	for j := 0; j < m; j++ {
		order = order[:0]
		for k, idx := range front {
			p := points[idx]
			if len(p) != m {
				panic("fitness: ragged points")
			}
			v := p[j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				dst[k] = math.Inf(1)
				continue
			}
			order = append(order, k)
		}
		if len(order) == 0 {
			continue
		}
		slices.SortFunc(order, func(a, b int) int {
			va, vb := points[front[a]][j], points[front[b]][j]
			switch {
			case va < vb:
				return -1
			case va > vb:
				return 1
			}
			return front[a] - front[b]
		})
		first, last := order[0], order[len(order)-1]
		lo, hi := points[front[first]][j], points[front[last]][j]
		if !(hi > lo) {
			continue // zero range: no member is more isolated than another
		}
		dst[first] = math.Inf(1)
		dst[last] = math.Inf(1)
		span := hi - lo
		for r := 1; r < len(order)-1; r++ {
			k := order[r]
			dst[k] += (points[front[order[r+1]]][j] - points[front[order[r-1]]][j]) / span
		}
	}
	*scratch = order
	return dst
}
