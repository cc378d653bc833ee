package model

import (
	"math"
	"testing"
)

func approxEqual(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d values %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s: got %v, want %v (index %d)", what, got, want, i)
		}
	}
}

func TestLossesHandComputed(t *testing.T) {
	tests := []struct {
		name    string
		kind    LossKind
		z       []float32
		classes int
		y       []int32
		want    float64
		grad    []float64
	}{
		{"ce uniform", CrossEntropy, []float32{0, 0}, 2, []int32{0}, math.Ln2, []float64{-0.5, 0.5}},
		{"ce three classes", CrossEntropy, []float32{1, 2, 3}, 3, []int32{2}, math.Log(1 + math.Exp(-1) + math.Exp(-2)), nil},
		{"ce large logits stay finite", CrossEntropy, []float32{1000, 0}, 2, []int32{1}, 1000, []float64{1, -1}},
		{"ce batch mean", CrossEntropy, []float32{0, 0, 5, 5}, 2, []int32{0, 1}, math.Ln2, []float64{-0.25, 0.25, 0.25, -0.25}},
		{"entropy uniform 4", Entropy, []float32{3, 3, 3, 3}, 4, nil, math.Log(4), []float64{0, 0, 0, 0}},
		{"entropy confident", Entropy, []float32{-1000, 1000}, 2, nil, 0, []float64{0, 0}},
	}
	for _, tc := range tests {
		n := len(tc.z) / tc.classes
		dz := make([]float32, len(tc.z))
		got := LossGrad(tc.kind, dz, tc.z, n, tc.classes, tc.y)
		if math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("%s: loss %.8g, want %.8g", tc.name, got, tc.want)
		}
		if tc.grad != nil {
			approxEqual(t, tc.name+" gradient", dz, tc.grad, 1e-6)
		}
	}
	// Entropy of p = softmax([0, ln 3]) = (1/4, 3/4): H = -(1/4 ln 1/4 + 3/4 ln 3/4).
	h := LossGrad(Entropy, nil, []float32{0, float32(math.Log(3))}, 1, 2, nil)
	if want := -(0.25*math.Log(0.25) + 0.75*math.Log(0.75)); math.Abs(h-want) > 1e-6 {
		t.Errorf("entropy (1/4, 3/4): %.8g, want %.8g", h, want)
	}
}
