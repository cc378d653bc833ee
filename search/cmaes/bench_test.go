package cmaes

import (
	"fmt"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

// BenchmarkGeneration measures one engine generation (ask, sphere costs,
// tell) without evaluations: the overhead CMA-ES adds per generation.
func BenchmarkGeneration(b *testing.B) {
	cases := []struct {
		variant string
		n       int
	}{{Full, 4}, {Full, 16}, {Full, 64}, {Separable, 16}, {Separable, 1024}}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s/n=%d", c.variant, c.n), func(b *testing.B) {
			mean := make([]float64, c.n)
			lambda := DefaultPopulation(c.variant, c.n)
			start := func() engine {
				if c.variant == Full {
					return newFullEngine(mean, 0.3, lambda, rng.NewSource(1, "bench"))
				}
				return newSepEngine(mean, 0.3, lambda, rng.New(1, "bench"))
			}
			e := start()
			costs := make([]float64, lambda)
			b.ReportAllocs()
			for b.Loop() {
				for i, x := range e.ask() {
					costs[i] = sumSquares(x)
				}
				if e.tell(costs) {
					e.close()
					e = start()
				}
			}
			e.close()
			b.ReportMetric(float64(lambda), "λ")
		})
	}
}
