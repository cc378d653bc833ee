package fitness

import (
	"math"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

func TestDistanceIndicatorsHandCases(t *testing.T) {
	ref := [][]float64{{0, 1}, {1, 0}}
	tests := []struct {
		name             string
		approx           [][]float64
		dirs             []Direction
		igd, igdPlus, gd float64
	}{
		// (0,1) is on the front; (1,0) is √2 away (IGD) but only 1 worse on
		// objective 1 (IGD+): IGD = √2/2, IGD+ = 1/2, GD = 0.
		{"one front point", [][]float64{{0, 1}}, nil, math.Sqrt2 / 2, 0.5, 0},
		{"whole front", [][]float64{{1, 0}, {0, 1}}, nil, 0, 0, 0},
		// (1,1) is 1 away from both reference points in both measures.
		{"dominated point", [][]float64{{1, 1}}, nil, 1, 1, 1},
		// (0,0) dominates the front: IGD counts the distance 1, IGD+ counts 0.
		{"point beyond the front", [][]float64{{0, 0}}, nil, 1, 0, 1},
		// Maximising: (0,0) is now worse than both reference points.
		{"point beyond the front maximised", [][]float64{{0, 0}}, []Direction{Maximize, Maximize}, 1, 1, 1},
	}
	for _, tc := range tests {
		igd, err := IGD(tc.approx, ref, tc.dirs)
		if err != nil {
			t.Fatal(err)
		}
		igdPlus, err := IGDPlus(tc.approx, ref, tc.dirs)
		if err != nil {
			t.Fatal(err)
		}
		gd, err := GD(tc.approx, ref, tc.dirs)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(igd-tc.igd) > 1e-12 || math.Abs(igdPlus-tc.igdPlus) > 1e-12 || math.Abs(gd-tc.gd) > 1e-12 {
			t.Errorf("%s: IGD %v IGD+ %v GD %v; want %v %v %v", tc.name, igd, igdPlus, gd, tc.igd, tc.igdPlus, tc.gd)
		}
	}
	if v, _ := IGD([][]float64{{math.NaN(), 0}}, ref, nil); !math.IsInf(v, 1) {
		t.Errorf("IGD of a NaN point = %v, want +Inf", v)
	}
}

func TestDistanceIndicatorErrors(t *testing.T) {
	ok := [][]float64{{0, 1}}
	tests := []struct {
		name        string
		approx, ref [][]float64
		dirs        []Direction
		want        string
	}{
		{"empty reference", ok, nil, nil, "empty reference front"},
		{"empty approx", nil, ok, nil, "empty approximation"},
		{"ragged reference", ok, [][]float64{{0, 1}, {1}}, nil, "reference point 1 has 1"},
		{"ragged approx", [][]float64{{0, 1, 2}}, ok, nil, "point 0 has 3"},
		{"directions", ok, ok, []Direction{Minimize}, "1 directions"},
		{"NaN reference", ok, [][]float64{{math.NaN(), 1}}, nil, "must be finite"},
	}
	for _, tc := range tests {
		for name, f := range map[string]func(a, r [][]float64, d []Direction) (float64, error){"IGD": IGD, "IGD+": IGDPlus, "GD": GD} {
			_, err := f(tc.approx, tc.ref, tc.dirs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %s: error %v, want one containing %q", name, tc.name, err, tc.want)
			}
		}
	}
}

func TestIGDPlusIsParetoCompliant(t *testing.T) {
	// If every point of B is dominated by a point of A (A ≺ B), IGD+(A) ≤ IGD+(B).
	r := rng.New(8, "fitness-test", "igd+")
	ref := make([][]float64, 50)
	for i := range ref {
		a := float64(i) / 49 * math.Pi / 2
		ref[i] = []float64{1 - math.Cos(a), 1 - math.Sin(a)}
	}
	for trial := 0; trial < 100; trial++ {
		b := randomUnitPoints(r, 1+r.IntN(10), 2)
		a := make([][]float64, len(b))
		for i, p := range b {
			a[i] = []float64{p[0] * r.Float64(), p[1] * r.Float64()}
		}
		ia, _ := IGDPlus(a, ref, nil)
		ib, _ := IGDPlus(b, ref, nil)
		if ia > ib+1e-12 {
			t.Fatalf("trial %d: dominating set has IGD+ %v > %v", trial, ia, ib)
		}
		ga, _ := IGD(append(a, b...), ref, nil)
		gb, _ := IGD(b, ref, nil)
		if ga > gb+1e-12 {
			t.Fatalf("trial %d: adding points increased IGD %v -> %v", trial, gb, ga)
		}
	}
}
