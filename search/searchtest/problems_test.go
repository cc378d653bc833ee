package searchtest

import (
	"context"
	"math"
	"testing"

	"github.com/evomerge/evomerge/population"
)

func TestOptimaValues(t *testing.T) {
	for _, p := range []Problem{Sphere(4), Ellipsoid(4), Rastrigin(4), Rosenbrock(4)} {
		if err := p.Space.Validate(p.Optimum); err != nil {
			t.Fatalf("%s: optimum outside the space: %v", p.Name, err)
		}
		if v := p.Score(p.Optimum)[0]; math.Abs(v-p.OptimumValue) > 1e-12 {
			t.Errorf("%s: value at optimum %v, want %v", p.Name, v, p.OptimumValue)
		}
		// Moving away from the optimum increases the value.
		x := append([]float64(nil), p.Optimum...)
		x[1] += 0.05
		if v := p.Score(x)[0]; !(v > p.OptimumValue) {
			t.Errorf("%s: value %v next to the optimum is not larger", p.Name, v)
		}
	}
	// Hand-computed: Rastrigin at x = 0 (z = −5.12): 10 + 5.12² − 10cos(2π·5.12) per dim.
	r := Rastrigin(1)
	want := 10 + 5.12*5.12 - 10*math.Cos(2*math.Pi*5.12)
	if v := r.Score([]float64{0})[0]; math.Abs(v-want) > 1e-9 {
		t.Errorf("rastrigin(0) = %v, want %v", v, want)
	}
}

func TestZDTFronts(t *testing.T) {
	for _, p := range []Problem{ZDT1(5), ZDT2(5), ZDT3(5)} {
		front := p.Front(200)
		// Pareto-optimal decisions (x2.. = 0) map onto the analytic curve.
		for _, f1 := range []float64{0, 0.05, 0.3, 1} {
			s := p.Score([]float64{f1, 0, 0, 0, 0})
			if s[0] != f1 {
				t.Fatalf("%s: f1 = %v", p.Name, s[0])
			}
		}
		// The front is non-dominated and sorted by f1.
		for i := 1; i < len(front); i++ {
			if !(front[i][0] > front[i-1][0] && front[i][1] < front[i-1][1]) {
				t.Fatalf("%s: front points %d and %d are not mutually non-dominated", p.Name, i-1, i)
			}
		}
		// A dominated decision (x2 > 0) lies above the front.
		s := p.Score([]float64{0.5, 0.5, 0, 0, 0})
		on := p.Score([]float64{0.5, 0, 0, 0, 0})
		if !(s[1] > on[1]) {
			t.Fatalf("%s: g > 1 does not raise f2", p.Name)
		}
	}
	// ZDT3's front has five pieces; the first ends near f1 = 0.0830.
	front := ZDT3(5).Front(2000)
	pieces, end1 := 1, 0.0
	for i := 1; i < len(front); i++ {
		if front[i][0]-front[i-1][0] > 0.02 {
			if pieces == 1 {
				end1 = front[i-1][0]
			}
			pieces++
		}
	}
	if pieces != 5 || math.Abs(end1-0.0830) > 1e-3 {
		t.Fatalf("ZDT3 front: %d pieces, first ends at %v", pieces, end1)
	}
	// ZDT1 analytic value at f1 = 0.25: 1 − 0.5.
	if v := ZDT1(3).Front(5)[1]; v[0] != 0.25 || v[1] != 0.5 {
		t.Fatalf("ZDT1 front point %v", v)
	}
}

func TestEvaluatorFailuresByID(t *testing.T) {
	p := ZDT1(3)
	mk := func() []*population.Candidate {
		out := make([]*population.Candidate, 200)
		for i := range out {
			x := []float64{float64(i) / 200, 0, 0}
			id, _ := population.ID(population.VectorGenome(x), "", "")
			out[i] = &population.Candidate{ID: id, Genome: population.VectorGenome(x), Status: population.StatusPending}
		}
		return out
	}
	a, b := mk(), mk()
	e1 := &Evaluator{Problem: p, FailRate: 0.25, FailSeed: 1}
	e4 := &Evaluator{Problem: p, FailRate: 0.25, FailSeed: 1, Workers: 4, JitterSeed: 9}
	if err := e1.Evaluate(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if err := e4.Evaluate(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i := range a {
		if a[i].Status != b[i].Status || (a[i].OK() && a[i].Scores[1] != b[i].Scores[1]) {
			t.Fatalf("candidate %d differs between 1 and 4 workers", i)
		}
		if !a[i].OK() {
			failed++
		}
	}
	// 25% of 200, sd ≈ 6.
	if failed < 30 || failed > 70 || e4.Calls() != 200 {
		t.Fatalf("%d failed, %d calls", failed, e4.Calls())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := mk()
	if err := e4.Evaluate(ctx, c); err == nil || c[0].Status != population.StatusPending {
		t.Fatal("cancelled evaluation did not stop")
	}
}
