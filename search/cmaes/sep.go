package cmaes

import (
	"math"
	"math/rand/v2"
	"slices"
)

// sepEngine is the separable CMA-ES of Ros & Hansen (2008): CMA-ES whose
// covariance is restricted to its diagonal, so a generation costs O(λ·n)
// time and the state O(n) memory, with the covariance learning rates
// multiplied by (n+2)/3 as the paper prescribes. Parameters follow Hansen's
// tutorial (arXiv:1604.00772) with positive recombination weights.
type sepEngine struct {
	n, lambda, mu   int
	weights         []float64
	muEff           float64
	cs, ds, cc      float64
	c1, cmu         float64
	chiN            float64
	mean, diag      []float64 // m and the diagonal of C
	ps, pc          []float64
	sigma           float64
	gen             int
	r               *rand.Rand
	zs, ys, xs      [][]float64
	order           []int
	yw, zw, tmpMean []float64
}

func newSepEngine(mean []float64, sigma float64, lambda int, r *rand.Rand) *sepEngine {
	n := len(mean)
	e := &sepEngine{n: n, lambda: lambda, mu: lambda / 2, sigma: sigma, r: r}
	nf := float64(n)
	e.weights = make([]float64, e.mu)
	sum := 0.0
	for i := range e.weights {
		e.weights[i] = math.Log(float64(e.mu)+0.5) - math.Log(float64(i)+1)
		sum += e.weights[i]
	}
	sq := 0.0
	for i := range e.weights {
		e.weights[i] /= sum
		sq += e.weights[i] * e.weights[i]
	}
	e.muEff = 1 / sq
	e.cs = (e.muEff + 2) / (nf + e.muEff + 5)
	e.ds = 1 + 2*math.Max(0, math.Sqrt((e.muEff-1)/(nf+1))-1) + e.cs
	e.cc = (4 + e.muEff/nf) / (nf + 4 + 2*e.muEff/nf)
	c1 := 2 / ((nf+1.3)*(nf+1.3) + e.muEff)
	cmu := math.Min(1-c1, 2*(e.muEff-2+1/e.muEff)/((nf+2)*(nf+2)+e.muEff))
	// Ros & Hansen: the diagonal can be learned (n+2)/3 times faster.
	f := (nf + 2) / 3
	e.c1 = math.Min(1, c1*f)
	e.cmu = math.Min(1-e.c1, cmu*f)
	e.chiN = math.Sqrt(nf) * (1 - 1/(4*nf) + 1/(21*nf*nf))
	e.mean = slices.Clone(mean)
	e.diag = make([]float64, n)
	for i := range e.diag {
		e.diag[i] = 1
	}
	e.ps, e.pc = make([]float64, n), make([]float64, n)
	e.yw, e.zw, e.tmpMean = make([]float64, n), make([]float64, n), make([]float64, n)
	e.zs, e.ys, e.xs = make([][]float64, lambda), make([][]float64, lambda), make([][]float64, lambda)
	for k := 0; k < lambda; k++ {
		e.zs[k], e.ys[k], e.xs[k] = make([]float64, n), make([]float64, n), make([]float64, n)
	}
	e.order = make([]int, lambda)
	return e
}

func (e *sepEngine) popSize() int { return e.lambda }

// ask samples x_k = m + σ·√c ⊙ z_k with z_k ~ N(0, I), sample by sample.
func (e *sepEngine) ask() [][]float64 {
	for k := 0; k < e.lambda; k++ {
		z, y, x := e.zs[k], e.ys[k], e.xs[k]
		for j := range z {
			z[j] = e.r.NormFloat64()
			y[j] = math.Sqrt(e.diag[j]) * z[j]
			x[j] = e.mean[j] + e.sigma*y[j]
		}
	}
	return e.xs
}

// tell updates mean, paths, diagonal covariance and step size from the
// costs by sample index (ties by index). It reports convergence: the step
// is below 1e-12 of the unit cube in every coordinate, or the diagonal's
// condition number exceeds 1e14.
func (e *sepEngine) tell(costs []float64) bool {
	for i := range e.order {
		e.order[i] = i
	}
	slices.SortStableFunc(e.order, func(a, b int) int {
		switch {
		case costs[a] < costs[b]:
			return -1
		case costs[a] > costs[b]:
			return 1
		}
		return 0
	})
	clear(e.yw)
	clear(e.zw)
	for i := 0; i < e.mu; i++ {
		k, w := e.order[i], e.weights[i]
		for j := range e.yw {
			e.yw[j] += w * e.ys[k][j]
			e.zw[j] += w * e.zs[k][j]
		}
	}
	for j := range e.mean {
		e.mean[j] += e.sigma * e.yw[j]
	}
	// p_σ ← (1−c_σ)p_σ + √(c_σ(2−c_σ)μ_eff)·C^(−1/2)y_w, and C^(−1/2)y_w = z_w.
	a := math.Sqrt(e.cs * (2 - e.cs) * e.muEff)
	norm := 0.0
	for j := range e.ps {
		e.ps[j] = (1-e.cs)*e.ps[j] + a*e.zw[j]
		norm += e.ps[j] * e.ps[j]
	}
	norm = math.Sqrt(norm)
	e.gen++
	hs := 0.0
	if norm/math.Sqrt(1-math.Pow(1-e.cs, 2*float64(e.gen))) < (1.4+2/(float64(e.n)+1))*e.chiN {
		hs = 1
	}
	b := math.Sqrt(e.cc * (2 - e.cc) * e.muEff)
	for j := range e.pc {
		e.pc[j] = (1-e.cc)*e.pc[j] + hs*b*e.yw[j]
	}
	dh := (1 - hs) * e.cc * (2 - e.cc) // variance lost when h_σ stalls p_c
	lo, hi := math.Inf(1), 0.0
	for j := range e.diag {
		rankMu := 0.0
		for i := 0; i < e.mu; i++ {
			y := e.ys[e.order[i]][j]
			rankMu += e.weights[i] * y * y
		}
		e.diag[j] = (1-e.c1-e.cmu)*e.diag[j] + e.c1*(e.pc[j]*e.pc[j]+dh*e.diag[j]) + e.cmu*rankMu
		lo, hi = math.Min(lo, e.diag[j]), math.Max(hi, e.diag[j])
	}
	e.sigma *= math.Exp(e.cs / e.ds * (norm/e.chiN - 1))
	return e.sigma*math.Sqrt(hi) < 1e-12 || hi > 1e14*lo || math.IsNaN(e.sigma) || math.IsInf(e.sigma, 0)
}

func (e *sepEngine) close() {}
