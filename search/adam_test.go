package search_test

import (
	"context"
	"math"
	"testing"

	"github.com/evomerge/evomerge/search"
)

func TestAdamStepsHandComputed(t *testing.T) {
	// Two PyTorch Adam steps on one parameter, lr 0.1, x0 = 1, g = 0.5 then −1:
	// step 1: m̂ = 0.5, v̂ = 0.25, x = 1 − 0.1·0.5/(0.5+1e-8) = 0.900000002;
	// step 2: m = −0.055, v = 0.00124975, m̂ = −0.055/0.19, v̂ = 0.00124975/0.001999,
	// x = 0.9 + 0.1·0.2894737/0.7906880 = 0.93661035424.
	a := search.NewAdam(1, 0.1, 0.9, 0.999, 1e-8)
	x := []float64{1}
	want := []float64{0.900000002, 0.9366103542405654}
	for i, g := range []float64{0.5, -1} {
		a.Step(x, []float64{g})
		if math.Abs(x[0]-want[i]) > 1e-12 {
			t.Fatalf("step %d: x = %.15g, want %.15g", i+1, x[0], want[i])
		}
	}
}

func TestClampAndMask(t *testing.T) {
	raw := []float64{-0.5, 0, 0.3, 1, 1.2}
	eff := make([]float64, len(raw))
	search.Clamp(eff, raw, 0, 1)
	wantEff := []float64{0, 0, 0.3, 1, 1}
	grad := []float64{1, 1, 1, 1, 1}
	search.MaskClampedGrad(grad, raw, 0, 1)
	wantGrad := []float64{0, 1, 1, 1, 0}
	for i := range raw {
		if eff[i] != wantEff[i] || grad[i] != wantGrad[i] {
			t.Fatalf("index %d: clamp %v grad %v, want %v %v", i, eff[i], grad[i], wantEff[i], wantGrad[i])
		}
	}
}

// bowl is L(c) = Σ (c_i − target_i)².
type bowl struct{ target []float64 }

func (b bowl) LossGrad(_ context.Context, values, grad []float64) (float64, error) {
	var loss float64
	for i, v := range values {
		d := v - b.target[i]
		loss += d * d
		grad[i] = 2 * d
	}
	return loss, nil
}

func TestOptimizeAdamBoundsAndInit(t *testing.T) {
	init := []float64{0.5, -1}
	var observed int
	res, err := search.OptimizeAdam(context.Background(), bowl{target: []float64{2, -3}}, 2, search.AdamOptions{
		Steps: 300, LR: 0.05, InitValues: init, Lower: -2, Upper: 1, Names: []string{"a", "b"},
		Observe: func(search.AdamStep) error { observed++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if observed != 300 || len(res.Trajectory) != 300 {
		t.Fatalf("%d observed, %d trajectory steps, want 300", observed, len(res.Trajectory))
	}
	if got := res.Trajectory[0].Coefficients; got[0] != 0.5 || got[1] != -1 {
		t.Errorf("first coefficients %v, want the initial values %v", got, init)
	}
	if res.Coefficients[0] != 1 || res.Coefficients[1] != -2 {
		t.Errorf("coefficients %v, want the bounds [1 -2]", res.Coefficients)
	}
	if len(res.Names) != 2 || res.Names[1] != "b" {
		t.Errorf("names %v", res.Names)
	}
	if _, err := search.OptimizeAdam(context.Background(), nil, 1, search.AdamOptions{}); err == nil {
		t.Error("a nil evaluator should be refused")
	}
}

func TestAdamOptionsDefaultsValid(t *testing.T) {
	if err := (search.AdamOptions{}).Validate(3); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	if err := (search.AdamOptions{Steps: -1}).Validate(3); err == nil {
		t.Fatal("negative steps accepted")
	}
}
