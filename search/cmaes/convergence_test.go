package cmaes

import (
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/search/searchtest"
	"gonum.org/v1/gonum/mat"
)

// rotatedEllipsoid is Σ 10^(6·i/(d−1)) (R(x − c))_i² over [-2, 3]^d with a
// fixed random rotation R (QR of a Gaussian matrix): condition number 10^6
// along directions that are not the coordinate axes, so only a full
// covariance can learn it.
func rotatedEllipsoid(d int) searchtest.Problem {
	base := searchtest.Sphere(d)
	c := base.Optimum
	r := rng.New(7, "search/cmaes", "test", "rotation")
	g := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			g.Set(i, j, r.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	rot := make([][]float64, d)
	scale := make([]float64, d)
	for i := range rot {
		rot[i] = mat.Row(nil, i, &q)
		scale[i] = math.Pow(10, 6*float64(i)/float64(max(d-1, 1)))
	}
	return searchtest.Problem{
		Name: fmt.Sprintf("rotated-ellipsoid-%d", d), Space: base.Space, Directions: []fitness.Direction{fitness.Minimize},
		Eval: func(dst, x []float64) {
			s := 0.0
			for i, row := range rot {
				z := 0.0
				for j, v := range x {
					z += row[j] * (v - c[j])
				}
				s += scale[i] * z * z
			}
			dst[0] = s
		},
		Optimum: c,
	}
}

// bestCurve runs the method for the largest mark and returns the best
// score after each mark's number of evaluations.
func bestCurve(t *testing.T, o Options, p searchtest.Problem, seed uint64, marks []int) []float64 {
	t.Helper()
	m := newCMA(t, o)
	res := runCMA(t, m, p, seed, marks[len(marks)-1], 1, 0)
	out := make([]float64, len(marks))
	best := math.Inf(1)
	k := 0
	for i, c := range res.Candidates {
		if c.OK() {
			best = math.Min(best, c.Scores[0]-p.OptimumValue)
		}
		for k < len(marks) && i+1 == marks[k] {
			out[k] = best
			k++
		}
	}
	return out
}

// TestConvergenceTable prints the measured convergence table of the package
// doc (median over five seeds of the best value after each number of
// evaluations, full and separable variants at their defaults). It takes
// about ten seconds, so it runs only with EVOMERGE_CMAES_TABLE=1:
//
//	EVOMERGE_CMAES_TABLE=1 go test ./search/cmaes -run ConvergenceTable -v
func TestConvergenceTable(t *testing.T) {
	if os.Getenv("EVOMERGE_CMAES_TABLE") == "" {
		t.Skip("set EVOMERGE_CMAES_TABLE=1 to print the table")
	}
	marks := []int{300, 1000, 2000, 5000}
	fm := make([]float64, len(marks))
	for i, v := range marks {
		fm[i] = float64(v)
	}
	var ps []searchtest.Problem
	for _, d := range []int{2, 3, 4, 5, 10} {
		ps = append(ps, searchtest.Sphere(d), rotatedEllipsoid(d), searchtest.Rosenbrock(d))
	}
	for _, p := range ps {
		t.Log(curveRow(p.Name, fm))
		for _, v := range []string{Full, Separable} {
			var runs [][]float64
			for seed := uint64(1); seed <= 5; seed++ {
				r := bestCurve(t, Options{Variant: v}, p, seed, marks)
				for k := 1; k < len(r); k++ {
					if r[k] > r[k-1] {
						t.Fatalf("%s %s seed %d: best-so-far increased", p.Name, v, seed)
					}
				}
				runs = append(runs, r)
			}
			med := make([]float64, len(marks))
			for k := range marks {
				col := make([]float64, len(runs))
				for i, r := range runs {
					col[i] = r[k]
				}
				slices.Sort(col)
				med[k] = col[len(col)/2]
			}
			t.Log(curveRow("  "+v, med))
		}
	}
}
