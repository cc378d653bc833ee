package cmaes

import (
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// TestFullEngineMatchesMinimize checks the bridge: driving CmaEsChol through
// fullEngine samples exactly the points optimize.Minimize evaluates (serially)
// with the same source and function.
func TestFullEngineMatchesMinimize(t *testing.T) {
	f := func(x []float64) float64 {
		s := 0.0
		for i, v := range x {
			d := v - 0.1*float64(i+1)
			s += float64(i+1) * d * d
		}
		return s
	}
	const dim, pop, gens = 4, 8, 6
	mean := []float64{0.5, 0.5, 0.5, 0.5}
	var want [][]float64
	record := func(x []float64) float64 {
		want = append(want, slices.Clone(x))
		return f(x)
	}
	var chol mat.Cholesky
	chol.Factorize(mat.NewDiagDense(dim, []float64{0.09, 0.09, 0.09, 0.09}))
	m := &optimize.CmaEsChol{InitStepSize: 1, InitCholesky: &chol, Population: pop, Src: rng.NewSource(1, "t"), ForgetBest: true}
	_, err := optimize.Minimize(optimize.Problem{Func: record}, slices.Clone(mean),
		&optimize.Settings{FuncEvaluations: pop * gens, Converger: optimize.NeverTerminate{}}, m)
	if err != nil {
		t.Fatal(err)
	}
	// Minimize does not evaluate the initial point of a global method.
	e := newFullEngine(mean, 0.3, pop, rng.NewSource(1, "t"))
	defer e.close()
	var got [][]float64
	costs := make([]float64, pop)
	for g := 0; g < gens; g++ {
		xs := e.ask()
		for i, x := range xs {
			got = append(got, slices.Clone(x))
			costs[i] = f(x)
		}
		if e.tell(costs) {
			t.Fatal("converged early")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, Minimize evaluated %d", len(got), len(want))
	}
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("sample %d: %v, Minimize: %v", i, got[i], want[i])
		}
	}
}
