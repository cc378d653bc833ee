package mapmerge

import (
	"math"
	"math/rand/v2"
	"sort"
)

// LatinHypercube returns n points of [0,1]^d: every axis is cut into n equal
// strata and each stratum holds exactly one point, at a uniform position
// inside it; the strata are matched across axes by independent permutations.
func LatinHypercube(n, d int, r *rand.Rand) [][]float64 {
	pts := make([][]float64, n)
	for i := range pts {
		pts[i] = make([]float64, d)
	}
	perm := make([]int, n)
	for j := range d {
		for i := range perm {
			perm[i] = i
		}
		r.Shuffle(n, func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		for i := range n {
			pts[i][j] = (float64(perm[i]) + r.Float64()) / float64(n)
		}
	}
	return pts
}

// OneHots returns the d unit vectors e_i of [0,1]^d: each task vector alone
// at full strength.
func OneHots(d int) [][]float64 {
	out := make([][]float64, d)
	for i := range out {
		out[i] = make([]float64, d)
		out[i][i] = 1
	}
	return out
}

// Angles writes the hyperspherical angles of a non-negative vector c (d ≥ 2)
// into dst (len d−1): φ_k = atan2(‖c_{k+1..d}‖, c_k), each in [0, π/2].
func Angles(dst, c []float64) []float64 {
	d := len(c)
	if dst == nil {
		dst = make([]float64, d-1)
	}
	tail := 0.0
	for k := d - 1; k >= 1; k-- {
		tail += c[k] * c[k]
		dst[k-1] = math.Atan2(math.Sqrt(tail), c[k-1])
	}
	return dst
}

// Direction writes the unit vector with hyperspherical angles phi into dst
// (len(phi)+1): u_1 = cos φ_1, u_k = sin φ_1 ⋯ sin φ_{k−1} cos φ_k,
// u_d = sin φ_1 ⋯ sin φ_{d−1}.
func Direction(dst, phi []float64) []float64 {
	d := len(phi) + 1
	if dst == nil {
		dst = make([]float64, d)
	}
	prod := 1.0
	for k := range d - 1 {
		dst[k] = prod * math.Cos(phi[k])
		prod *= math.Sin(phi[k])
	}
	dst[d-1] = prod
	return dst
}

// AdaptiveSampler is Bayesian MAP's error-driven sampling (search-algorithms
// §2.7) with the fixes of this package: the angle space of c ≥ 0 is cut into
// Bins bins per angle; a bin's score is the mean squared residual of its
// points plus Lambda times the spread of bootstrap means (drop 20% of the
// bin's points, Bootstraps times); empty bins get a floor score (the mean of
// the non-empty bins' scores) instead of −∞, so unexplored directions keep
// being explored; scores are divided by their maximum before the softmax of
// temperature Temperature (the reference applies it to raw squared errors,
// whose scale makes it nearly uniform); a new point takes a bin from the
// softmax, uniform angles inside it, and a radius uniform over
// [MinRadius, 1] of the way from the origin to the boundary of the unit box
// along that direction (the reference's fixed radius U(0.2, 0.8) never
// reaches the far corner).
type AdaptiveSampler struct {
	Bins        int
	Lambda      float64
	Bootstraps  int
	Temperature float64
	MinRadius   float64
}

// DefaultAdaptiveSampler returns the reference settings for d coefficients:
// 4 bins per angle below 4 dimensions, else 2; λ = 0.5; 30 bootstraps;
// temperature 0.07; minimum radius 0.2.
func DefaultAdaptiveSampler(d int) AdaptiveSampler {
	bins := 2
	if d < 4 {
		bins = 4
	}
	return AdaptiveSampler{Bins: bins, Lambda: 0.5, Bootstraps: 30, Temperature: 0.07, MinRadius: 0.2}
}

// BinOf returns the index of the bin holding unit-cube point c (d ≥ 2).
func (s AdaptiveSampler) BinOf(c []float64) int {
	phi := Angles(nil, c)
	idx := 0
	for _, a := range phi {
		b := min(int(a/(math.Pi/2)*float64(s.Bins)), s.Bins-1)
		idx = idx*s.Bins + b
	}
	return idx
}

// Probabilities returns the sampling probability of every bin given the
// points (unit-cube coordinates) and their squared residuals.
func (s AdaptiveSampler) Probabilities(points [][]float64, sqErr []float64, r *rand.Rand) []float64 {
	d := len(points[0])
	nb := 1
	for range d - 1 {
		nb *= s.Bins
	}
	members := make([][]float64, nb)
	for i, p := range points {
		b := s.BinOf(p)
		members[b] = append(members[b], sqErr[i])
	}
	score := make([]float64, nb)
	filled, sum := 0, 0.0
	for b, errs := range members {
		if len(errs) == 0 {
			continue
		}
		score[b] = mean(errs) + s.Lambda*s.bootstrapSpread(errs, r)
		filled++
		sum += score[b]
	}
	top := 0.0
	for b, errs := range members {
		if len(errs) == 0 && filled > 0 {
			score[b] = sum / float64(filled)
		}
		top = max(top, score[b])
	}
	probs := make([]float64, nb)
	if top <= 0 {
		for b := range probs {
			probs[b] = 1 / float64(nb)
		}
		return probs
	}
	z := 0.0
	for b := range probs {
		probs[b] = math.Exp((score[b]/top - 1) / s.Temperature)
		z += probs[b]
	}
	for b := range probs {
		probs[b] /= z
	}
	return probs
}

// bootstrapSpread is the standard deviation of the means of subsamples that
// drop 20% of errs.
func (s AdaptiveSampler) bootstrapSpread(errs []float64, r *rand.Rand) float64 {
	keep := len(errs) - len(errs)/5
	if keep == len(errs) || s.Bootstraps < 2 {
		return 0
	}
	means := make([]float64, s.Bootstraps)
	idx := make([]int, len(errs))
	for t := range means {
		for i := range idx {
			idx[i] = i
		}
		r.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		sum := 0.0
		for _, i := range idx[:keep] {
			sum += errs[i]
		}
		means[t] = sum / float64(keep)
	}
	m := mean(means)
	v := 0.0
	for _, x := range means {
		v += (x - m) * (x - m)
	}
	return math.Sqrt(v / float64(len(means)-1))
}

// Sample draws one unit-cube point from bin probabilities probs.
func (s AdaptiveSampler) Sample(probs []float64, d int, r *rand.Rand) []float64 {
	u, acc, bin := r.Float64(), 0.0, len(probs)-1
	for b, p := range probs {
		acc += p
		if u < acc {
			bin = b
			break
		}
	}
	phi := make([]float64, d-1)
	for k := d - 2; k >= 0; k-- {
		cell := bin % s.Bins
		bin /= s.Bins
		phi[k] = (float64(cell) + r.Float64()) / float64(s.Bins) * math.Pi / 2
	}
	dir := Direction(nil, phi)
	top := 0.0
	for _, v := range dir {
		top = max(top, v)
	}
	radius := (s.MinRadius + (1-s.MinRadius)*r.Float64()) / top
	for k := range dir {
		dir[k] = min(max(dir[k]*radius, 0), 1)
	}
	return dir
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// spreadIndexes returns k indexes of 0..n−1 evenly spaced (all when k ≥ n).
func spreadIndexes(n, k int) []int {
	if k >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	if k == 1 {
		return []int{n / 2}
	}
	seen := map[int]bool{}
	var out []int
	for i := range k {
		j := int(math.Round(float64(i) * float64(n-1) / float64(k-1)))
		if !seen[j] {
			seen[j] = true
			out = append(out, j)
		}
	}
	sort.Ints(out)
	return out
}
