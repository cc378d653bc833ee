package mapmerge

import (
	"context"
	"testing"

	"github.com/evomerge/evomerge/fitness"
)

// BenchmarkFitSigmoid fits a sigmoid surrogate of 3 coefficients to the 20
// points of MAP's default design.
func BenchmarkFitSigmoid(b *testing.B) {
	xs := quadPoints(3, 20, 1)
	co := []float64{-1, -1, -1, 0.5, 0.2, 0.1, 2, 1, 0.5, -0.3}
	ys := make([]float64, len(xs))
	for i, c := range xs {
		ys[i] = (&Surrogate{Activation: Sigmoid, Coef: co}).Predict(c)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Fit(xs, ys, Sigmoid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGridFront3 is the dense-grid front of three surrogates of three
// coefficients (41³ points).
func BenchmarkGridFront3(b *testing.B) {
	co := [][]float64{
		{-2, -0.5, -0.5, -1, 0, 0, 3, 0.5, 0.5, -0.5},
		{-0.5, -2, -0.5, -1, 0, 0, 0.5, 3, 0.5, -0.5},
		{-0.5, -0.5, -2, 0, -1, 0, 0.5, 0.5, 3, -0.5},
	}
	var surr []*Surrogate
	for _, c := range co {
		surr = append(surr, &Surrogate{Activation: Sigmoid, Coef: c})
	}
	dirs := []fitness.Direction{fitness.Maximize, fitness.Maximize, fitness.Maximize}
	for range b.N {
		if _, err := PredictedFront(context.Background(), surr, dirs, []float64{0, 0, 0}, []float64{1, 1, 1}, FrontOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
