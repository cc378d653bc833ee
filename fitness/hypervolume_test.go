package fitness

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

func TestHypervolumeHandCases(t *testing.T) {
	maxMax := []Direction{Maximize, Maximize}
	tests := []struct {
		name   string
		points [][]float64
		ref    []float64
		dirs   []Direction
		want   float64
	}{
		{"1-D best point", [][]float64{{3}, {1}, {2}}, []float64{5}, nil, 4},
		{"2-D one point", [][]float64{{1, 1}}, []float64{3, 4}, nil, 6},
		// Sweep by x: 3·1 + 2·1 + 1·1.
		{"2-D staircase", [][]float64{{1, 3}, {2, 2}, {3, 1}}, []float64{4, 4}, nil, 6},
		{"2-D staircase shuffled with dominated and duplicate", [][]float64{{3, 1}, {2, 3}, {1, 3}, {2, 2}, {1, 3}, {3.5, 3.5}}, []float64{4, 4}, nil, 6},
		// Boxes [0.5,0.9]×[0.5,0.6] (0.04) and [0.5,0.7]×[0.5,0.8] (0.06)
		// overlap in [0.5,0.7]×[0.5,0.6] (0.02).
		{"2-D maximise", [][]float64{{0.9, 0.6}, {0.7, 0.8}}, []float64{0.5, 0.5}, maxMax, 0.08},
		{"2-D point on the reference adds nothing", [][]float64{{1, 4}, {4, 1}, {2, 2}}, []float64{4, 4}, nil, 4},
		{"2-D point beyond the reference adds nothing", [][]float64{{5, 0}, {2, 2}}, []float64{4, 4}, nil, 4},
		{"2-D NaN adds nothing", [][]float64{{math.NaN(), 0}, {2, 2}}, []float64{4, 4}, nil, 4},
		{"3-D one point", [][]float64{{0, 0, 0}}, []float64{2, 2, 2}, nil, 8},
		{"3-D dominated point", [][]float64{{1, 1, 1}, {0, 0, 0}}, []float64{2, 2, 2}, nil, 8},
		// Boxes 2·1·1 and 1·2·2 overlapping in the unit cube [1,2]³.
		{"3-D two points", [][]float64{{0, 1, 1}, {1, 0, 0}}, []float64{2, 2, 2}, nil, 5},
		// Three boxes of 4, three pairwise overlaps of 2, triple overlap 1.
		{"3-D three axis points", [][]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, []float64{2, 2, 2}, nil, 7},
		{"3-D mixed directions", [][]float64{{0.9, 1, 0.5}}, []float64{0.4, 3, 0}, []Direction{Maximize, Minimize, Maximize}, 0.5 * 2 * 0.5},
		{"4-D one point", [][]float64{{0, 0, 0, 0}}, []float64{1, 2, 3, 4}, nil, 24},
		// Each box is 1·2·2·2 = 8 overlapping in [1,2]⁴ with volume 1: 15.
		{"4-D two points", [][]float64{{1, 0, 0, 0}, {0, 1, 1, 1}}, []float64{2, 2, 2, 2}, nil, 8 + 2 - 1},
		{"5-D one point", [][]float64{{0, 0, 0, 0, 0}}, []float64{1, 1, 1, 1, 2}, nil, 2},
		{"no points", nil, []float64{1, 1}, nil, 0},
	}
	for _, tc := range tests {
		got, err := Hypervolume(tc.points, tc.ref, tc.dirs)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: hypervolume = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHypervolumeErrors(t *testing.T) {
	tests := []struct {
		name   string
		points [][]float64
		ref    []float64
		dirs   []Direction
		want   string
	}{
		{"empty ref", [][]float64{{1}}, nil, nil, "empty reference"},
		{"NaN ref", [][]float64{{1, 1}}, []float64{2, math.NaN()}, nil, "value 1"},
		{"Inf ref", [][]float64{{1, 1}}, []float64{math.Inf(1), 2}, nil, "value 0"},
		{"ref and dirs differ", [][]float64{{1, 1}}, []float64{2, 2}, []Direction{Minimize}, "2 values but there are 1 objectives"},
		{"point length", [][]float64{{1, 1}, {1, 1, 1}}, []float64{2, 2}, nil, "point 1 has 3 objectives"},
		{"invalid direction", [][]float64{{1}}, []float64{2}, []Direction{0}, "invalid direction"},
	}
	for _, tc := range tests {
		_, err := Hypervolume(tc.points, tc.ref, tc.dirs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
		_, err = HypervolumeMonteCarlo(tc.points, tc.ref, tc.dirs, 10, 1)
		if err == nil {
			t.Errorf("%s: Monte Carlo accepted the input", tc.name)
		}
	}
	if _, err := HypervolumeMonteCarlo([][]float64{{1}}, []float64{2}, nil, 0, 1); err == nil {
		t.Error("Monte Carlo with 0 samples accepted")
	}
}

// inclusionExclusion is the brute-force hypervolume of minimisation points
// against ref: the union of the boxes [p, ref] by inclusion–exclusion over all
// non-empty subsets. Exponential; for small sets only.
func inclusionExclusion(points [][]float64, ref []float64) float64 {
	var inside [][]float64
	for _, p := range points {
		ok := true
		for j, v := range p {
			ok = ok && v < ref[j]
		}
		if ok {
			inside = append(inside, p)
		}
	}
	n, m := len(inside), len(ref)
	total := 0.0
	corner := make([]float64, m)
	for mask := 1; mask < 1<<n; mask++ {
		copy(corner, inside[0]) // overwritten below by the subset's max
		first, size := true, 0
		for i := 0; i < n; i++ {
			if mask&(1<<i) == 0 {
				continue
			}
			size++
			for j, v := range inside[i] {
				if first || v > corner[j] {
					corner[j] = v
				}
			}
			first = false
		}
		vol := 1.0
		for j := range corner {
			vol *= ref[j] - corner[j]
		}
		if size%2 == 1 {
			total += vol
		} else {
			total -= vol
		}
	}
	return total
}

func randomUnitPoints(r *rand.Rand, n, m int) [][]float64 {
	pts := make([][]float64, n)
	for i := range pts {
		pts[i] = make([]float64, m)
		for j := range pts[i] {
			pts[i][j] = r.Float64()
		}
	}
	return pts
}

func TestHypervolumeMatchesInclusionExclusion(t *testing.T) {
	r := rng.New(4, "fitness-test", "hv-ie")
	for m := 1; m <= 7; m++ {
		ref := make([]float64, m)
		for trial := 0; trial < 60; trial++ {
			n := 1 + r.IntN(10)
			points := randomUnitPoints(r, n, m)
			if trial%3 == 0 {
				// Integer grid {0..3} with the reference at 3: ties, duplicates
				// and points on the reference (which bound no volume).
				points = randomPoints(r, n, m, 4)
				for j := range ref {
					ref[j] = 3
				}
			} else {
				for j := range ref {
					ref[j] = 1.1
				}
			}
			want := inclusionExclusion(points, ref)
			got, err := Hypervolume(points, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want) > 1e-9*max(1, want) {
				t.Fatalf("M=%d trial %d: hypervolume %v, inclusion–exclusion %v, points %v", m, trial, got, want, points)
			}
		}
	}
}

func TestHypervolumeInvariants(t *testing.T) {
	r := rng.New(5, "fitness-test", "hv-inv")
	for m := 2; m <= 4; m++ {
		ref := make([]float64, m)
		for j := range ref {
			ref[j] = 1
		}
		var set [][]float64
		prev := 0.0
		for step := 0; step < 40; step++ {
			p := randomUnitPoints(r, 1, m)[0]
			set = append(set, p)
			hv, err := Hypervolume(set, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			if hv < prev-1e-12 {
				t.Fatalf("M=%d: adding %v decreased the hypervolume %v -> %v", m, p, prev, hv)
			}
			// A point dominated by p adds nothing.
			q := make([]float64, m)
			for j := range q {
				q[j] = p[j] + r.Float64()*(1-p[j])
			}
			withDominated, _ := Hypervolume(append(set[:len(set):len(set)], q), ref, nil)
			if math.Abs(withDominated-hv) > 1e-12 {
				t.Fatalf("M=%d: dominated point %v changed the hypervolume %v -> %v", m, q, hv, withDominated)
			}
			prev = hv
		}
		// Maximising negated points against a negated reference is the same.
		dirs := make([]Direction, m)
		negRef := make([]float64, m)
		for j := range dirs {
			dirs[j], negRef[j] = Maximize, -ref[j]
		}
		neg, _ := Hypervolume(negate(set), negRef, dirs)
		if math.Abs(neg-prev) > 1e-12 {
			t.Fatalf("M=%d: maximised negation %v, minimised %v", m, neg, prev)
		}
		// Only the front matters.
		var front [][]float64
		for _, i := range ParetoFront(set, nil) {
			front = append(front, set[i])
		}
		if hvFront, _ := Hypervolume(front, ref, nil); math.Abs(hvFront-prev) > 1e-12 {
			t.Fatalf("M=%d: front hypervolume %v, whole set %v", m, hvFront, prev)
		}
	}
}

func TestHypervolumeDoesNotModifyInput(t *testing.T) {
	points := [][]float64{{3, 1, 2}, {1, 3, 2}, {2, 2, 1}}
	first := points[0]
	if _, err := Hypervolume(points, []float64{4, 4, 4}, []Direction{Minimize, Minimize, Minimize}); err != nil {
		t.Fatal(err)
	}
	if &points[0][0] != &first[0] || points[0][0] != 3 || points[2][2] != 1 {
		t.Errorf("input changed: %v", points)
	}
}

func TestHypervolumeMonteCarlo(t *testing.T) {
	r := rng.New(6, "fitness-test", "hv-mc")
	for m := 2; m <= 6; m++ {
		points := randomUnitPoints(r, 12, m)
		if m >= 4 { // a larger front where every point contributes
			points = spherePoints(60, m, uint64(m))
		}
		ref := make([]float64, m)
		for j := range ref {
			ref[j] = 1
		}
		exact, err := Hypervolume(points, ref, nil)
		if err != nil {
			t.Fatal(err)
		}
		est, err := HypervolumeMonteCarlo(points, ref, nil, 100_000, 42)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(est.Value-exact) > est.Bound {
			t.Errorf("M=%d: estimate %v ± %v misses exact %v", m, est.Value, est.Bound, exact)
		}
		if math.Abs(est.Value-exact) > 5*est.StdErr {
			t.Errorf("M=%d: estimate %v is %.1f standard errors from exact %v", m, est.Value, math.Abs(est.Value-exact)/est.StdErr, exact)
		}
		if est.Samples != 100_000 || est.Hits <= 0 || est.Hits > est.Samples || est.Value > est.BoxVolume {
			t.Errorf("M=%d: inconsistent estimate %+v", m, est)
		}
		wantBound := est.BoxVolume * math.Sqrt(math.Log(40)/(2*100_000))
		if math.Abs(est.Bound-wantBound) > 1e-15 {
			t.Errorf("M=%d: bound %v, want %v", m, est.Bound, wantBound)
		}
	}
}

func TestHypervolumeMonteCarloDeterministic(t *testing.T) {
	points := randomUnitPoints(rng.New(7, "fitness-test", "hv-mc-det"), 20, 4)
	ref := []float64{1, 1, 1, 1}
	const samples = 3*mcBlock + 17 // several blocks and a partial one
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var results []Estimate
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		est, err := HypervolumeMonteCarlo(points, ref, nil, samples, 9)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, est)
	}
	for i, est := range results[1:] {
		if est != results[0] {
			t.Errorf("run %d differs: %+v vs %+v", i+1, est, results[0])
		}
	}
	other, _ := HypervolumeMonteCarlo(points, ref, nil, samples, 10)
	if other.Hits == results[0].Hits {
		t.Errorf("seeds 9 and 10 gave the same %d hits", other.Hits)
	}
	none, _ := HypervolumeMonteCarlo([][]float64{{2, 2, 2, 2}}, ref, nil, 100, 1)
	if none.Value != 0 || none.Hits != 0 {
		t.Errorf("estimate with no contributing point = %+v", none)
	}
}

func TestReferencePoint(t *testing.T) {
	points := [][]float64{{0.9, 2}, {0.5, 1}, {0.7, 3}}
	dirs := []Direction{Maximize, Minimize}
	ref, err := ReferencePoint(points, dirs, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	// Accuracy: nadir 0.5, range 0.4 -> 0.46. Loss: nadir 3, range 2 -> 3.2.
	if math.Abs(ref[0]-0.46) > 1e-12 || math.Abs(ref[1]-3.2) > 1e-12 {
		t.Errorf("reference = %v, want [0.46 3.2]", ref)
	}
	// Every point is now strictly inside, so every point contributes.
	for i, p := range points {
		hv, _ := Hypervolume([][]float64{p}, ref, dirs)
		if !(hv > 0) {
			t.Errorf("point %d bounds no volume against %v", i, ref)
		}
	}
	flat, _ := ReferencePoint([][]float64{{2}, {2}}, []Direction{Maximize}, 0.5)
	if flat[0] != 1 {
		t.Errorf("zero-range reference = %v, want [1]", flat)
	}
	if _, err := ReferencePoint(points, dirs, -1); err == nil {
		t.Error("negative margin accepted")
	}
	if _, err := ReferencePoint(nil, nil, 0.1); err == nil {
		t.Error("reference point of no points accepted")
	}
}

func TestHypervolumeExtrusion(t *testing.T) {
	// Points sharing their last objective value c: HV_M = (r_M - c)·HV_{M-1}
	// of the projections. This checks each algorithm against the one below it
	// on sets too large for inclusion–exclusion (4-D slicing against the 3-D
	// sweep, 5-D and 6-D WFG against the level below).
	r := rng.New(13, "fitness-test", "hv-extrude")
	for m := 3; m <= 6; m++ {
		for trial := 0; trial < 5; trial++ {
			n := 30 + r.IntN(50)
			if m == 6 {
				n = 25
			}
			low := randomUnitPoints(r, n, m-1)
			if trial%2 == 0 { // all mutually non-dominated: the hard case
				low = spherePoints(n, m-1, uint64(100*m+trial))
			}
			lowRef := make([]float64, m-1)
			for j := range lowRef {
				lowRef[j] = 1.05
			}
			const c, rm = 0.25, 1.5
			high := make([][]float64, n)
			for i, p := range low {
				high[i] = append(slices.Clone(p), c)
			}
			want, err := Hypervolume(low, lowRef, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Hypervolume(high, append(slices.Clone(lowRef), rm), nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-(rm-c)*want) > 1e-9*max(1, want) {
				t.Fatalf("M=%d trial %d: extruded hypervolume %v, want %v·%v = %v", m, trial, got, rm-c, want, (rm-c)*want)
			}
		}
	}
}

func TestHypervolumeContributions(t *testing.T) {
	// 2-D staircase (1,3), (2,2), (3,1) against (4,4): exclusive boxes are
	// [1,2]×[3,4], [2,3]×[2,3], [3,4]×[1,2], each of area 1. Point 3 is a
	// duplicate of point 1, point 4 is dominated, point 5 lies beyond ref.
	points := [][]float64{{1, 3}, {2, 2}, {3, 1}, {2, 2}, {3, 3}, {5, 0}}
	got, err := HypervolumeContributionsTo(nil, points, []float64{4, 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1, 0, 1, 0, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("contributions = %v, want %v", got, want)
	}
	// Random sets: each contribution equals the leave-one-out difference
	// (checked against inclusion–exclusion) and is never negative.
	r := rng.New(14, "fitness-test", "hv-contrib")
	for m := 2; m <= 5; m++ {
		ref := make([]float64, m)
		for j := range ref {
			ref[j] = 1
		}
		for trial := 0; trial < 10; trial++ {
			pts := randomUnitPoints(r, 2+r.IntN(7), m)
			c, err := HypervolumeContributionsTo(nil, pts, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			all := inclusionExclusion(pts, ref)
			for i := range pts {
				rest := append(slices.Clone(pts[:i]), pts[i+1:]...)
				want := all - inclusionExclusion(rest, ref)
				if math.Abs(c[i]-want) > 1e-9 || c[i] < 0 {
					t.Fatalf("M=%d trial %d point %d: contribution %v, want %v", m, trial, i, c[i], want)
				}
			}
		}
	}
	if _, err := HypervolumeContributionsTo(nil, points, []float64{4}, nil); err == nil {
		t.Error("wrong reference length accepted")
	}
}

// gridVolume is the brute-force hypervolume of points with integer
// coordinates in [0, k) against the reference (k, ..., k): the number of unit
// cells [c, c+1) whose lower corner c some point weakly dominates.
func gridVolume(points [][]float64, m, k int) float64 {
	cell := make([]float64, m)
	count := 0
	total := 1
	for range m {
		total *= k
	}
	for idx := 0; idx < total; idx++ {
		for j, rest := 0, idx; j < m; j, rest = j+1, rest/k {
			cell[j] = float64(rest % k)
		}
		if weaklyDominatedBy(cell, points) {
			count++
		}
	}
	return float64(count)
}

func TestHypervolumeMatchesGrid(t *testing.T) {
	// Many points with heavy ties, too many for inclusion–exclusion.
	r := rng.New(15, "fitness-test", "hv-grid")
	for _, tc := range []struct{ m, k, n int }{{2, 30, 300}, {3, 12, 200}, {4, 8, 150}, {5, 5, 120}, {6, 4, 80}} {
		ref := make([]float64, tc.m)
		for j := range ref {
			ref[j] = float64(tc.k)
		}
		for trial := 0; trial < 3; trial++ {
			points := randomPoints(r, tc.n, tc.m, tc.k)
			if trial > 0 {
				// Points near the plane Σp = (k-1)m/2: few dominate each
				// other, so most of them shape the front.
				band := (tc.k - 1) * tc.m / 2
				for i := range points {
					for {
						p := randomPoints(r, 1, tc.m, tc.k)[0]
						sum := 0
						for _, v := range p {
							sum += int(v)
						}
						if sum == band || sum == band+trial-1 {
							points[i] = p
							break
						}
					}
				}
			}
			want := gridVolume(points, tc.m, tc.k)
			got, err := Hypervolume(points, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("M=%d trial %d: hypervolume %v, grid count %v", tc.m, trial, got, want)
			}
		}
	}
}
