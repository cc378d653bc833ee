package cmaes

import (
	"math"
	"testing"
)

func TestStagnation(t *testing.T) {
	// n = 2, λ = 6: H = 10 + ⌈30·2/6⌉ = 20 generations, k = ⌈0.1 + 6/4⌉ = 2.
	inf := math.Inf(1)
	cases := []struct {
		name string
		gen  func(g int) []float64 // costs of generation g
		stop int                   // generation (1-based) that reports stagnation; 0: none in 60
	}{
		{"constant", func(int) []float64 { return []float64{3, 3, 3, 3, 3, 3} }, 20},
		{"improving", func(g int) []float64 {
			b := 10 / float64(g+1)
			return []float64{b, b + 1, b + 2, b + 3, b + 4, b + 5}
		}, 0},
		// Best within 1e-13 of each other and every generation spread
		// over 5e-13: TolFun after H generations.
		{"tolfun", func(g int) []float64 {
			b := 1 + 1e-13*float64(g%3)
			return []float64{b, b + 1e-13, b + 2e-13, b + 3e-13, b + 4e-13, b + 5e-13}
		}, 20},
		// Best equals the 2nd best in 7 of every 20 generations (> 20/3).
		{"equal-7-of-20", func(g int) []float64 {
			b := 100 - float64(g)
			if g%20 < 7 {
				return []float64{b, b, b + 1, b + 2, b + 3, b + 4}
			}
			return []float64{b, b + 1, b + 2, b + 3, b + 4, b + 5}
		}, 20},
		// 6 of 20: not more than a third.
		{"equal-6-of-20", func(g int) []float64 {
			b := 100 - float64(g)
			if g%20 < 6 {
				return []float64{b + 1, b, b, b + 2, b + 3, b + 4}
			}
			return []float64{b, b + 1, b + 2, b + 3, b + 4, b + 5}
		}, 0},
		// All candidates failed: +Inf ties are not flat fitness.
		{"all-failed", func(int) []float64 { return []float64{inf, inf, inf, inf, inf, inf} }, 0},
		// Half failed, the rest constant: the 2nd best is finite and equal.
		{"half-failed", func(int) []float64 { return []float64{inf, 2, inf, 2, inf, 2} }, 20},
	}
	// λ = 2: Hansen's k would be 1 (the best against itself); it is 2.
	small := newStagnation(3, 2)
	if small.kth != 2 || small.window != 10+45 {
		t.Fatalf("λ = 2: window %d, k %d; want 55 and 2", small.window, small.kth)
	}
	for g := 0; g < 200; g++ {
		if small.tell([]float64{float64(-g), float64(1 - g)}) {
			t.Fatalf("λ = 2: improving run reported stagnation at generation %d", g+1)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStagnation(2, 6)
			if s.window != 20 || s.kth != 2 {
				t.Fatalf("window %d, k %d; want 20 and 2", s.window, s.kth)
			}
			got := 0
			for g := 0; g < 60 && got == 0; g++ {
				if s.tell(c.gen(g)) {
					got = g + 1
				}
			}
			if got != c.stop {
				t.Fatalf("stagnation reported at generation %d, want %d", got, c.stop)
			}
		})
	}
}
