package fitness

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

func TestDominates(t *testing.T) {
	nan := math.NaN()
	maxMax := []Direction{Maximize, Maximize}
	tests := []struct {
		name string
		a, b []float64
		dirs []Direction
		want bool
	}{
		{"better in all", []float64{1, 1}, []float64{2, 2}, nil, true},
		{"better in one equal other", []float64{1, 2}, []float64{2, 2}, nil, true},
		{"equal", []float64{1, 2}, []float64{1, 2}, nil, false},
		{"trade-off", []float64{1, 3}, []float64{2, 2}, nil, false},
		{"worse", []float64{2, 2}, []float64{1, 1}, nil, false},
		{"maximise", []float64{2, 2}, []float64{1, 1}, maxMax, true},
		{"maximise worse", []float64{1, 1}, []float64{2, 2}, maxMax, false},
		{"mixed", []float64{0.9, 1}, []float64{0.8, 2}, []Direction{Maximize, Minimize}, true},
		{"NaN loses", []float64{5, 5}, []float64{nan, 5}, nil, true},
		{"NaN never dominates", []float64{nan, 0}, []float64{1, 1}, nil, false},
		{"NaN maximised loses", []float64{-100, 1}, []float64{nan, 1}, maxMax, true},
	}
	for _, tc := range tests {
		if got := Dominates(tc.a, tc.b, tc.dirs); got != tc.want {
			t.Errorf("%s: Dominates(%v, %v) = %v, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNonDominatedSortHandCase(t *testing.T) {
	// Minimisation. Fronts by hand:
	//   0:(1,4) 1:(2,2) 4:(4,1) are mutually non-dominated;
	//   2:(3,3) is dominated by 1 only; 5:(2,2) duplicates 1 (same front);
	//   3:(4,4) is dominated by 2; 6:(5,5) by 3.
	points := [][]float64{{1, 4}, {2, 2}, {3, 3}, {4, 4}, {4, 1}, {2, 2}, {5, 5}}
	want := [][]int{{0, 1, 4, 5}, {2}, {3}, {6}}
	got := NonDominatedSort(points, nil)
	if !equalFronts(got, want) {
		t.Fatalf("fronts = %v, want %v", got, want)
	}
	if pf := ParetoFront(points, nil); !slices.Equal(pf, want[0]) {
		t.Errorf("ParetoFront = %v, want %v", pf, want[0])
	}
	var s Sorter
	s.Sort(points, nil)
	if ranks := s.Ranks(); !slices.Equal(ranks, []int{0, 0, 1, 2, 0, 0, 3}) {
		t.Errorf("ranks = %v", ranks)
	}
	if got := NonDominatedSort(nil, nil); len(got) != 0 {
		t.Errorf("fronts of no points = %v", got)
	}
}

func equalFronts(a, b [][]int) bool {
	return slices.EqualFunc(a, b, func(x, y []int) bool { return slices.Equal(x, y) })
}

// randomPoints draws n points of m objectives from a small integer grid, so
// ties and duplicates are common.
func randomPoints(r *rand.Rand, n, m, levels int) [][]float64 {
	pts := make([][]float64, n)
	for i := range pts {
		pts[i] = make([]float64, m)
		for j := range pts[i] {
			pts[i][j] = float64(r.IntN(levels))
		}
	}
	return pts
}

func negate(points [][]float64) [][]float64 {
	out := make([][]float64, len(points))
	for i, p := range points {
		out[i] = make([]float64, len(p))
		for j, v := range p {
			out[i][j] = -v
		}
	}
	return out
}

func TestNonDominatedSortProperties(t *testing.T) {
	r := rng.New(1, "fitness-test", "nds")
	var s Sorter // reused across cases on purpose: no residue between calls
	for trial := 0; trial < 200; trial++ {
		n, m := 1+r.IntN(60), 1+r.IntN(4)
		points := randomPoints(r, n, m, 6)
		fronts := s.Sort(points, nil)

		seen := make([]int, n)
		for k, f := range fronts {
			if len(f) == 0 {
				t.Fatalf("trial %d: empty front %d", trial, k)
			}
			if !slices.IsSorted(f) {
				t.Fatalf("trial %d: front %d not ascending: %v", trial, k, f)
			}
			for _, i := range f {
				seen[i]++
				for _, j := range f {
					if Dominates(points[i], points[j], nil) {
						t.Fatalf("trial %d: %v dominates %v inside front %d", trial, points[i], points[j], k)
					}
				}
				if k == 0 {
					continue
				}
				dominated := false
				for _, j := range fronts[k-1] {
					dominated = dominated || Dominates(points[j], points[i], nil)
				}
				if !dominated {
					t.Fatalf("trial %d: point %d in front %d is dominated by nobody in front %d", trial, i, k, k-1)
				}
			}
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("trial %d: point %d appears %d times", trial, i, c)
			}
		}
		if pf := ParetoFront(points, nil); !slices.Equal(pf, fronts[0]) {
			t.Fatalf("trial %d: ParetoFront %v, first front %v", trial, pf, fronts[0])
		}
		// Maximising the negated points gives the same fronts.
		dirs := make([]Direction, m)
		for j := range dirs {
			dirs[j] = Maximize
		}
		if neg := NonDominatedSort(negate(points), dirs); !equalFronts(neg, fronts) {
			t.Fatalf("trial %d: maximising negated points gave %v, want %v", trial, neg, fronts)
		}
	}
}

func TestSorterReuseDoesNotAllocate(t *testing.T) {
	points := randomPoints(rng.New(2, "fitness-test", "alloc"), 100, 3, 10)
	var s Sorter
	want := NonDominatedSort(points, nil)
	s.Sort(points, nil)
	allocs := testing.AllocsPerRun(10, func() { s.Sort(points, nil) })
	if allocs != 0 {
		t.Errorf("Sorter.Sort allocated %v times on reuse, want 0", allocs)
	}
	if got := s.Sort(points, nil); !equalFronts(got, want) {
		t.Errorf("reused Sorter gave %v, want %v", got, want)
	}
}

func TestCrowdingDistance(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name   string
		points [][]float64
		front  []int
		want   []float64
	}{
		{
			// Objective 0 (range 4): (2-0)/4 and (4-1)/4; objective 1 (range 4)
			// symmetric: each interior point gets 0.5 + 0.75.
			name:   "four on a line",
			points: [][]float64{{0, 4}, {1, 2}, {2, 1}, {4, 0}},
			front:  []int{0, 1, 2, 3},
			want:   []float64{inf, 1.25, 1.25, inf},
		},
		{
			name:   "front is a subset and out of order",
			points: [][]float64{{9, 9}, {4, 0}, {0, 4}, {1, 2}, {2, 1}},
			front:  []int{3, 1, 4, 2},
			want:   []float64{1.25, inf, 1.25, inf},
		},
		{
			// Objective 1 is constant: it adds nothing, not even boundaries.
			name:   "zero range objective",
			points: [][]float64{{0, 7}, {1, 7}, {3, 7}},
			front:  []int{0, 1, 2},
			want:   []float64{inf, 1, inf},
		},
		{
			name:   "all equal",
			points: [][]float64{{1, 1}, {1, 1}, {1, 1}},
			front:  []int{0, 1, 2},
			want:   []float64{0, 0, 0},
		},
		{
			name:   "two members",
			points: [][]float64{{1, 1}, {1, 1}},
			front:  []int{0, 1},
			want:   []float64{inf, inf},
		},
		{
			// NaN on objective 0 makes point 1 a boundary there; the others are
			// ordered 0, 3, 2 over the finite range [0, 2].
			name:   "NaN is a boundary",
			points: [][]float64{{0, 0}, {math.NaN(), 0}, {2, 0}, {1, 0}},
			front:  []int{0, 1, 2, 3},
			want:   []float64{inf, inf, inf, 1},
		},
	}
	for _, tc := range tests {
		got := CrowdingDistanceTo(nil, tc.points, tc.front)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: crowding = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCrowdingBoundariesInfinite(t *testing.T) {
	r := rng.New(3, "fitness-test", "crowding")
	for trial := 0; trial < 50; trial++ {
		points := make([][]float64, 3+r.IntN(30))
		for i := range points {
			points[i] = []float64{r.Float64(), r.Float64(), r.Float64()}
		}
		front := make([]int, len(points))
		for i := range front {
			front[i] = i
		}
		d := CrowdingDistanceTo(nil, points, front)
		for j := 0; j < 3; j++ {
			lo, hi := 0, 0
			for i, p := range points {
				if p[j] < points[lo][j] {
					lo = i
				}
				if p[j] > points[hi][j] {
					hi = i
				}
			}
			if !math.IsInf(d[lo], 1) || !math.IsInf(d[hi], 1) {
				t.Fatalf("trial %d objective %d: extremes %d, %d have distances %v, %v", trial, j, lo, hi, d[lo], d[hi])
			}
		}
		for i, v := range d {
			if v < 0 || math.IsNaN(v) || (!math.IsInf(v, 1) && v > 3) {
				t.Fatalf("trial %d: distance %d = %v outside [0, M] ∪ {+Inf}", trial, i, v)
			}
		}
	}
}

func TestSorterCrowdingMatchesAndDoesNotAllocate(t *testing.T) {
	points := randomUnitPoints(rng.New(12, "fitness-test", "crowd-alloc"), 50, 3)
	front := make([]int, len(points))
	for i := range front {
		front[i] = len(points) - 1 - i
	}
	want := CrowdingDistanceTo(nil, points, front)
	var s Sorter
	dst := make([]float64, len(front))
	if got := s.CrowdingDistanceTo(dst, points, front); !slices.Equal(got, want) {
		t.Fatalf("Sorter crowding %v, function %v", got, want)
	}
	if allocs := testing.AllocsPerRun(10, func() { s.CrowdingDistanceTo(dst, points, front) }); allocs != 0 {
		t.Errorf("Sorter.CrowdingDistanceTo allocated %v times, want 0", allocs)
	}
}
