package searchtest

import (
	"fmt"
	"math"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// Problem is a synthetic objective over a bounded space.
type Problem struct {
	Name       string
	Space      *population.Space
	Directions []fitness.Direction
	// Eval writes the scores of point x (space units) into dst
	// (len(dst) = len(Directions)).
	Eval func(dst, x []float64)
	// Optimum is the minimiser of a single-objective problem (nil for
	// multi-objective ones) and OptimumValue its value.
	Optimum      []float64
	OptimumValue float64
	// Front returns n points of the analytic Pareto front of a
	// multi-objective problem (nil for single-objective ones).
	Front func(n int) [][]float64
}

// Score returns the scores of x in a fresh slice.
func (p Problem) Score(x []float64) []float64 {
	dst := make([]float64, len(p.Directions))
	p.Eval(dst, x)
	return dst
}

func boxSpace(d int, lo, hi float64) *population.Space {
	dims := make([]population.Dim, d)
	for i := range dims {
		dims[i] = population.Dim{Name: fmt.Sprintf("x%d", i), Kind: population.KindFloat, Lower: lo, Upper: hi, Default: lo + (hi-lo)/2}
	}
	s, err := population.NewSpace(dims)
	if err != nil {
		panic("searchtest: " + err.Error())
	}
	return s
}

var minimize1 = []fitness.Direction{fitness.Minimize}

// shiftedCentre is the optimum of the single-objective problems in [-2, 3]^d:
// off-centre and different per coordinate, so a method that only samples the
// box centre does not find it.
func shiftedCentre(d int) []float64 {
	c := make([]float64, d)
	for i := range c {
		c[i] = -1 + 2.5*float64(i+1)/float64(d+1)
	}
	return c
}

// Sphere is Σ (x_i − c_i)² over [-2, 3]^d with an off-centre optimum c.
func Sphere(d int) Problem {
	c := shiftedCentre(d)
	return Problem{
		Name: fmt.Sprintf("sphere-%d", d), Space: boxSpace(d, -2, 3), Directions: minimize1,
		Eval: func(dst, x []float64) {
			s := 0.0
			for i, v := range x {
				s += (v - c[i]) * (v - c[i])
			}
			dst[0] = s
		},
		Optimum: c,
	}
}

// Ellipsoid is Σ 10^(6·i/(d−1)) (x_i − c_i)² over [-2, 3]^d: condition number
// 10^6, which a method without covariance or step adaptation cannot solve.
func Ellipsoid(d int) Problem {
	c := shiftedCentre(d)
	scale := make([]float64, d)
	for i := range scale {
		e := 0.0
		if d > 1 {
			e = 6 * float64(i) / float64(d-1)
		}
		scale[i] = math.Pow(10, e)
	}
	return Problem{
		Name: fmt.Sprintf("ellipsoid-%d", d), Space: boxSpace(d, -2, 3), Directions: minimize1,
		Eval: func(dst, x []float64) {
			s := 0.0
			for i, v := range x {
				s += scale[i] * (v - c[i]) * (v - c[i])
			}
			dst[0] = s
		},
		Optimum: c,
	}
}

// Rastrigin is 10d + Σ (z_i² − 10 cos 2πz_i) with z = 10.24·x − 5.12 over
// [0, 1]^d (the usual [-5.12, 5.12] box scaled); optimum 0 at x = 0.5.
func Rastrigin(d int) Problem {
	opt := make([]float64, d)
	for i := range opt {
		opt[i] = 0.5
	}
	return Problem{
		Name: fmt.Sprintf("rastrigin-%d", d), Space: boxSpace(d, 0, 1), Directions: minimize1,
		Eval: func(dst, x []float64) {
			s := 10 * float64(len(x))
			for _, v := range x {
				z := 10.24*v - 5.12
				s += z*z - 10*math.Cos(2*math.Pi*z)
			}
			dst[0] = s
		},
		Optimum: opt,
	}
}

// Rosenbrock is Σ 100(z_{i+1} − z_i²)² + (1 − z_i)² with z = 4x − 2 over
// [0, 1]^d (the box [-2, 2] scaled); optimum 0 at x = 0.75.
func Rosenbrock(d int) Problem {
	opt := make([]float64, d)
	for i := range opt {
		opt[i] = 0.75
	}
	return Problem{
		Name: fmt.Sprintf("rosenbrock-%d", d), Space: boxSpace(d, 0, 1), Directions: minimize1,
		Eval: func(dst, x []float64) {
			s := 0.0
			for i := 0; i+1 < len(x); i++ {
				a, b := 4*x[i]-2, 4*x[i+1]-2
				s += 100*(b-a*a)*(b-a*a) + (1-a)*(1-a)
			}
			dst[0] = s
		},
		Optimum: opt,
	}
}

var minimize2 = []fitness.Direction{fitness.Minimize, fitness.Minimize}

// zdt builds a ZDT problem (Zitzler, Deb, Thiele 2000) over [0, 1]^d:
// f1 = x1, g = 1 + 9 Σ_{i≥2} x_i/(d−1), f2 = g·h(f1, g). The Pareto-optimal
// set is x_2..x_d = 0, where g = 1.
func zdt(name string, d int, h func(f1, g float64) float64, front func(n int) [][]float64) Problem {
	return Problem{
		Name: fmt.Sprintf("%s-%d", name, d), Space: boxSpace(d, 0, 1), Directions: minimize2,
		Eval: func(dst, x []float64) {
			s := 0.0
			for _, v := range x[1:] {
				s += v
			}
			g := 1 + 9*s/float64(len(x)-1)
			dst[0] = x[0]
			dst[1] = g * h(x[0], g)
		},
		Front: front,
	}
}

func grid(n int, f func(f1 float64) float64) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		f1 := float64(i) / float64(n-1)
		out[i] = []float64{f1, f(f1)}
	}
	return out
}

// ZDT1 has the convex front f2 = 1 − √f1, f1 ∈ [0, 1].
func ZDT1(d int) Problem {
	return zdt("zdt1", d, func(f1, g float64) float64 { return 1 - math.Sqrt(f1/g) },
		func(n int) [][]float64 { return grid(n, func(f1 float64) float64 { return 1 - math.Sqrt(f1) }) })
}

// ZDT2 has the concave front f2 = 1 − f1², f1 ∈ [0, 1].
func ZDT2(d int) Problem {
	return zdt("zdt2", d, func(f1, g float64) float64 { return 1 - (f1/g)*(f1/g) },
		func(n int) [][]float64 { return grid(n, func(f1 float64) float64 { return 1 - f1*f1 }) })
}

// ZDT3 has a front of five disconnected pieces: the non-dominated part of
// f2 = 1 − √f1 − f1·sin(10πf1), f1 ∈ [0, 1].
func ZDT3(d int) Problem {
	h := func(f1 float64) float64 { return 1 - math.Sqrt(f1) - f1*math.Sin(10*math.Pi*f1) }
	return zdt("zdt3", d, func(f1, g float64) float64 { return 1 - math.Sqrt(f1/g) - (f1/g)*math.Sin(10*math.Pi*f1) },
		func(n int) [][]float64 {
			// Sample the curve finely, keep its non-dominated points, then
			// thin them to about n. Sweeping f1 upwards, a point is
			// non-dominated iff its f2 is below every earlier f2.
			const fine = 200000
			var nd [][]float64
			best := math.Inf(1)
			for i := 0; i < fine; i++ {
				f1 := float64(i) / (fine - 1)
				f2 := h(f1)
				if f2 < best {
					best = f2
					nd = append(nd, []float64{f1, f2})
				}
			}
			if len(nd) <= n {
				return nd
			}
			out := make([][]float64, n)
			for i := range out {
				out[i] = nd[i*(len(nd)-1)/(n-1)]
			}
			return out
		})
}

// IGD returns the inverted generational distance of the scores of cands
// (successful ones) to n points of the problem's analytic front.
func IGD(p Problem, cands []*population.Candidate, n int) (float64, error) {
	var pts [][]float64
	for _, c := range cands {
		if c.OK() {
			pts = append(pts, c.Scores)
		}
	}
	return fitness.IGD(pts, p.Front(n), p.Directions)
}
