package fitness

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

// Archive used in the hand cases: three models on four datapoints; nobody
// solves datapoint 3.
//
//	A = 1 1 0 0
//	B = 1 0 0 0
//	C = 0 0 1 0
//
// z = (2, 1, 1, 0).
var handScores = [][]float64{{1, 1, 0, 0}, {1, 0, 0, 0}, {0, 0, 1, 0}}

func TestCompetitionFitnessHandCases(t *testing.T) {
	tests := []struct {
		name      string
		c         Competition
		want      []float64
		wantWorst int
	}{
		// α=1: u = (1/2, 1, 1, 0). A = 1/2 + 1, B = 1/2, C = 1.
		{"alpha 1", Competition{Alpha: 1}, []float64{1.5, 0.5, 1}, 1},
		// α=2: u = (1/4, 1, 1, 0).
		{"alpha 2", Competition{Alpha: 2}, []float64{1.25, 0.25, 1}, 1},
		// α=0.5: u_0 = 1/√2.
		{"alpha 0.5", Competition{Alpha: 0.5}, []float64{1/math.Sqrt2 + 1, 1 / math.Sqrt2, 1}, 1},
		// α=0: plain sums; B and C tie at 1 and the lower index loses.
		{"alpha 0 is the plain sum", Competition{}, []float64{2, 1, 1}, 1},
		// Capacities weight datapoints: c = (2, 1, 3, 5).
		{"capacities", Competition{Alpha: 1, Capacity: []float64{2, 1, 3, 5}}, []float64{2, 1, 3}, 1},
		{"capacities alpha 0", Competition{Capacity: []float64{0, 1, 3, 5}}, []float64{1, 0, 3}, 1},
	}
	for _, tc := range tests {
		got, err := tc.c.FitnessTo(nil, handScores)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("%s: fitness = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
		worst, err := tc.c.Worst(handScores)
		if err != nil || worst != tc.wantWorst {
			t.Errorf("%s: Worst = %d, %v; want %d", tc.name, worst, err, tc.wantWorst)
		}
	}
}

func TestCompetitionProtectsSpecialists(t *testing.T) {
	// Insertion as in M2N2: archive + child, the argmin leaves. The child
	// (row 3) duplicates the generalist A. α = 1: z = (3,3,2,1),
	// u = (1/3,1/3,1/2,1), F = (7/6, 2/3, 1, 7/6): B, crowded in A's niche,
	// leaves and the unique specialist C stays. α = 0: F = (3,2,1,3), C leaves.
	pool := [][]float64{{1, 1, 1, 0}, {1, 1, 0, 0}, {0, 0, 0, 1}, {1, 1, 1, 0}}
	c := Competition{Alpha: 1}
	if w, _ := c.Worst(pool); w != 1 {
		t.Errorf("alpha=1 removed %d, want 1", w)
	}
	c.Alpha = 0
	if w, _ := c.Worst(pool); w != 2 {
		t.Errorf("alpha=0 removed %d, want the specialist 2 (lowest plain sum)", w)
	}
}

func TestCompetitionAttraction(t *testing.T) {
	c := Competition{Alpha: 1}
	// Parent B = (1,0,0,0): A adds datapoint 1 (u=1), C adds datapoint 2 (u=1).
	got, err := c.AttractionTo(nil, handScores, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []float64{1, 0, 1}) {
		t.Errorf("attraction to B = %v, want [1 0 1]", got)
	}
	// Parent A: B offers nothing, C offers datapoint 2.
	got, _ = c.AttractionTo(got, handScores, 0)
	if !slices.Equal(got, []float64{0, 0, 1}) {
		t.Errorf("attraction to A = %v, want [0 0 1]", got)
	}
	// Continuous scores: g_k = Σ_j u_j max(0, s_kj - s_pj) with z = (1, 1).
	cont := [][]float64{{0.25, 0.75}, {0.75, 0.25}}
	got, _ = c.AttractionTo(nil, cont, 0)
	if !slices.Equal(got, []float64{0, 0.5}) {
		t.Errorf("continuous attraction = %v, want [0 0.5]", got)
	}
	if _, err := c.AttractionTo(nil, handScores, 3); err == nil {
		t.Error("parent index out of range accepted")
	}
}

func TestCompetitionInvariants(t *testing.T) {
	r := rng.New(11, "fitness-test", "competition")
	for trial := 0; trial < 50; trial++ {
		p, n := 1+r.IntN(8), 1+r.IntN(40)
		scores := make([][]float64, p)
		binary := trial%2 == 0
		for i := range scores {
			scores[i] = make([]float64, n)
			for j := range scores[i] {
				if binary {
					scores[i][j] = float64(r.IntN(2))
				} else {
					scores[i][j] = r.Float64()
				}
			}
		}
		// α = 0: plain sums.
		plain, err := (&Competition{}).FitnessTo(nil, scores)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range scores {
			sum := 0.0
			for _, s := range row {
				sum += s
			}
			if math.Abs(plain[i]-sum) > 1e-12 {
				t.Fatalf("trial %d: alpha=0 fitness %v, plain sum %v", trial, plain[i], sum)
			}
		}
		// α = 1: the shares of a datapoint add up to its capacity if anyone
		// scores on it, so total fitness = number of datapoints with z > 0.
		shared, _ := (&Competition{Alpha: 1}).FitnessTo(nil, scores)
		total, covered := 0.0, 0
		for j := 0; j < n; j++ {
			for i := range scores {
				if scores[i][j] > 0 {
					covered++
					break
				}
			}
		}
		for _, f := range shared {
			total += f
		}
		if math.Abs(total-float64(covered)) > 1e-9 {
			t.Fatalf("trial %d: total shared fitness %v, covered datapoints %d", trial, total, covered)
		}
		// Attraction of the parent to itself is 0 and never negative.
		parent := r.IntN(p)
		g, _ := (&Competition{Alpha: 1}).AttractionTo(nil, scores, parent)
		if g[parent] != 0 {
			t.Fatalf("trial %d: self-attraction %v", trial, g[parent])
		}
		for _, v := range g {
			if v < 0 {
				t.Fatalf("trial %d: negative attraction %v", trial, v)
			}
		}
	}
}

func TestCompetitionErrors(t *testing.T) {
	tests := []struct {
		name   string
		c      Competition
		scores [][]float64
		want   string
	}{
		{"no models", Competition{Alpha: 1}, nil, "no models"},
		{"ragged", Competition{Alpha: 1}, [][]float64{{1, 0}, {1}}, "row 1 has 1 datapoints"},
		{"above one", Competition{Alpha: 1}, [][]float64{{1, 2}}, "model 0 on datapoint 1 is 2"},
		{"negative", Competition{Alpha: 1}, [][]float64{{-0.5}}, "in [0, 1]"},
		{"NaN", Competition{Alpha: 1}, [][]float64{{math.NaN()}}, "is NaN"},
		{"negative alpha", Competition{Alpha: -1}, [][]float64{{1}}, "alpha is -1"},
		{"capacity length", Competition{Alpha: 1, Capacity: []float64{1}}, [][]float64{{1, 1}}, "1 capacities for 2 datapoints"},
		{"negative capacity", Competition{Alpha: 1, Capacity: []float64{1, -2}}, [][]float64{{1, 1}}, "datapoint 1 is -2"},
	}
	for _, tc := range tests {
		_, err := tc.c.FitnessTo(nil, tc.scores)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: FitnessTo error %v, want %q", tc.name, err, tc.want)
		}
		if _, err := tc.c.Worst(tc.scores); err == nil {
			t.Errorf("%s: Worst accepted the input", tc.name)
		}
	}
}

func TestSelectionProbabilities(t *testing.T) {
	got, err := SelectionProbabilitiesTo(nil, []float64{1, 0, 3})
	if err != nil || !slices.Equal(got, []float64{0.25, 0, 0.75}) {
		t.Errorf("probabilities = %v, %v", got, err)
	}
	// The reference code divides by zero here; we fall back to uniform.
	got, _ = SelectionProbabilitiesTo(got, []float64{0, 0, 0})
	if !slices.Equal(got, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}) {
		t.Errorf("all-zero weights gave %v, want uniform", got)
	}
	for _, bad := range [][]float64{nil, {1, -1}, {math.NaN()}, {math.Inf(1)}} {
		if _, err := SelectionProbabilitiesTo(nil, bad); err == nil {
			t.Errorf("weights %v accepted", bad)
		}
	}
	probs := []float64{0.25, 0, 0.75}
	for _, tc := range []struct {
		u    float64
		want int
	}{{0, 0}, {0.2499, 0}, {0.25, 2}, {0.9999, 2}, {1, 2}} {
		if got := SampleIndex(probs, tc.u); got != tc.want {
			t.Errorf("SampleIndex(%v, %v) = %d, want %d", probs, tc.u, got, tc.want)
		}
	}
	if got := SampleIndex([]float64{0.5, 0.5, 0}, 0.99999999999); got != 1 {
		t.Errorf("SampleIndex skipped to a zero-probability index: %d", got)
	}
}

func TestUnitScoresAndCorrectness(t *testing.T) {
	got, err := UnitScoresTo(nil, []float64{0, 5, 10, 12, -1, math.NaN()}, 0, 10, Maximize)
	if err != nil || !slices.Equal(got, []float64{0, 0.5, 1, 1, 0, 0}) {
		t.Errorf("maximised unit scores = %v, %v", got, err)
	}
	got, err = UnitScoresTo(nil, []float64{0, 2.5, 10}, 0, 10, Minimize)
	if err != nil || !slices.Equal(got, []float64{1, 0.75, 0}) {
		t.Errorf("minimised unit scores = %v, %v", got, err)
	}
	if _, err := UnitScoresTo(nil, []float64{1}, 1, 1, Maximize); err == nil {
		t.Error("empty range accepted")
	}
	if _, err := UnitScoresTo(nil, []float64{1}, 0, 1, 0); err == nil {
		t.Error("invalid direction accepted")
	}
	if got := CorrectnessTo(nil, []bool{true, false, true}); !slices.Equal(got, []float64{1, 0, 1}) {
		t.Errorf("correctness = %v", got)
	}
}
