package fitness

import (
	"math"
	"strings"
	"testing"
)

func TestWeightedSum(t *testing.T) {
	tests := []struct {
		name           string
		score, weights []float64
		dirs           []Direction
		want           float64
	}{
		{"minimise", []float64{1, 2}, []float64{0.5, 0.25}, nil, 1},
		{"maximise accuracies", []float64{0.8, 0.6}, []float64{0.5, 0.5}, []Direction{Maximize, Maximize}, -0.7},
		{"mixed", []float64{0.8, 2}, []float64{1, 0.1}, []Direction{Maximize, Minimize}, -0.6},
		{"NaN", []float64{math.NaN(), 2}, []float64{1, 1}, nil, math.Inf(1)},
		{"NaN with zero weight is still failed", []float64{math.NaN(), 2}, []float64{0, 1}, []Direction{Maximize, Minimize}, math.Inf(1)},
	}
	for _, tc := range tests {
		if got := WeightedSum(tc.score, tc.weights, tc.dirs); !near(got, tc.want) {
			t.Errorf("%s: WeightedSum = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestChebyshev(t *testing.T) {
	maxMax := []Direction{Maximize, Maximize}
	tests := []struct {
		name                  string
		score, weights, ideal []float64
		dirs                  []Direction
		rho                   float64
		want                  float64
	}{
		// Gaps to the ideal (1,1): 0.2 and 0.4; weighted 0.1 and 0.2.
		{"plain", []float64{0.8, 0.6}, []float64{0.5, 0.5}, []float64{1, 1}, maxMax, 0, 0.2},
		{"augmented", []float64{0.8, 0.6}, []float64{0.5, 0.5}, []float64{1, 1}, maxMax, 0.01, 0.2 + 0.01*0.3},
		{"minimise", []float64{3, 2}, []float64{1, 2}, []float64{1, 1}, nil, 0, 2},
		// Beating an estimated ideal is rewarded: signed gaps -0.1 and 0.
		{"better than ideal", []float64{1.1, 1}, []float64{1, 1}, []float64{1, 1}, maxMax, 0, 0},
		{"NaN", []float64{math.NaN(), 1}, []float64{1, 1}, []float64{1, 1}, nil, 0, math.Inf(1)},
	}
	for _, tc := range tests {
		got := Chebyshev(tc.score, tc.weights, tc.ideal, tc.dirs, tc.rho)
		if !near(got, tc.want) {
			t.Errorf("%s: Chebyshev = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestChebyshevReachesNonConvexFront(t *testing.T) {
	// A concave front (minimisation): no weighted sum picks the middle point,
	// Chebyshev with equal weights does.
	front := [][]float64{{0, 1}, {0.6, 0.6}, {1, 0}}
	ideal := []float64{0, 0}
	bestSum, bestCheb := -1, -1
	for w := 0.0; w <= 1.0001; w += 0.01 {
		weights := []float64{w, 1 - w}
		is, ic := 0, 0
		for i, p := range front {
			if WeightedSum(p, weights, nil) < WeightedSum(front[is], weights, nil) {
				is = i
			}
			if Chebyshev(p, weights, ideal, nil, 0) < Chebyshev(front[ic], weights, ideal, nil, 0) {
				ic = i
			}
		}
		if is == 1 {
			bestSum = 1
		}
		if ic == 1 {
			bestCheb = 1
		}
	}
	if bestSum == 1 {
		t.Error("a weighted sum selected the point on the concave part")
	}
	if bestCheb != 1 {
		t.Error("no Chebyshev weighting selected the point on the concave part")
	}
}

func TestValidateWeights(t *testing.T) {
	tests := []struct {
		weights []float64
		n       int
		want    string
	}{
		{[]float64{1, 0}, 2, ""},
		{[]float64{1}, 2, "1 weights for 2 objectives"},
		{[]float64{1, -1}, 2, "weight 1 is -1"},
		{[]float64{math.NaN()}, 1, "weight 0 is NaN"},
		{[]float64{0, 0}, 2, "all weights are zero"},
	}
	for _, tc := range tests {
		err := ValidateWeights(tc.weights, tc.n)
		if tc.want == "" {
			if err != nil {
				t.Errorf("ValidateWeights(%v) = %v", tc.weights, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateWeights(%v) = %v, want %q", tc.weights, err, tc.want)
		}
	}
}

// near reports whether got equals want to 1e-12, exactly for infinities.
func near(got, want float64) bool {
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= 1e-12
}
