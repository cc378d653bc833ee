package operators

import (
	"math"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// flatten concatenates a merge result (or model) in canonical order.
func flatten(names []string, m map[string][]float32) []float64 {
	var out []float64
	for _, n := range names {
		for _, v := range m[n] {
			out = append(out, float64(v))
		}
	}
	return out
}

func canonicalNames(ts []checkpoint.Tensor) []string {
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	checkpoint.SortNames(names)
	return names
}

// nearestRankQuantile is the ascending value at round(q·(D−1)).
func nearestRankQuantile(x []float64, q float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[int(math.Round(q*float64(len(s)-1)))]
}

// PCB against a direct float64 implementation over the flattened model.
func TestPCBMatchesFlatReference(t *testing.T) {
	base := randomModel(1, "base", 1)
	models := [][]checkpoint.Tensor{perturb(base, 2, "a", 0.3), perturb(base, 3, "b", 0.3), perturb(base, 4, "c", 0.3)}
	names := canonicalNames(base)
	ratio, clip, lambda := 0.3, 0.05, 0.8
	got := mergeAll(t, PCB(), mustSource(t, base, models...), globals("ratio", ratio, "clip", clip, "lambda", lambda), PlanOptions{})

	b0 := flatten(names, byName(base))
	n := len(models)
	taus := make([][]float64, n)
	for i, m := range models {
		th := flatten(names, byName(m))
		taus[i] = make([]float64, len(th))
		for e := range th {
			taus[i][e] = float64(float32(th[e]) - float32(b0[e]))
		}
		abs := make([]float64, len(th))
		for e, v := range taus[i] {
			abs[e] = math.Abs(v)
		}
		lo, hi := nearestRankQuantile(abs, clip), nearestRankQuantile(abs, 1-clip)
		for e, v := range taus[i] {
			taus[i][e] = math.Copysign(math.Min(math.Max(math.Abs(v), lo), hi), v)
		}
	}
	d := len(b0)
	sum := make([]float64, d)
	for _, t := range taus {
		for e, v := range t {
			sum[e] += v
		}
	}
	betas := make([][]float64, n)
	for i, tv := range taus {
		sq := make([]float64, d)
		for e, v := range tv {
			sq[e] = v * v
		}
		mn, mx := slices.Min(sq), slices.Max(sq)
		betas[i] = make([]float64, d)
		for e, v := range tv {
			betas[i][e] = math.Exp(float64(n)*(sq[e]-mn)/(mx-mn)) * math.Tanh(v*sum[e])
		}
		q := nearestRankQuantile(betas[i], 1-ratio)
		bmax := slices.Max(betas[i])
		for e := range betas[i] {
			betas[i][e] = (math.Max(betas[i][e], q) - q) / (bmax - q)
		}
	}
	flat := flatten(names, got)
	for e := range d {
		var num, den float64
		for i := range n {
			num += betas[i][e] * taus[i][e]
			den += betas[i][e]
		}
		want := b0[e] + lambda*num/math.Max(den, 1e-12)
		if math.Abs(flat[e]-want) > 2e-4*(1+math.Abs(want)) {
			t.Fatalf("element %d: got %g want %g", e, flat[e], want)
		}
	}
}

// TIES with merge = mean on random inputs: every merged delta is a mean of
// trimmed task-vector entries (0 when trimmed), so it lies in their hull.
func TestTIESPropertiesOnRandomInputs(t *testing.T) {
	for seed := range uint64(20) {
		base := randomModel(seed, "base", 1)
		models := [][]checkpoint.Tensor{perturb(base, seed+100, "a", 0.2), perturb(base, seed+200, "b", 0.2), perturb(base, seed+300, "c", 0.2)}
		density := 0.1 + 0.8*float64(seed)/20
		got := mergeAll(t, TIES(), mustSource(t, base, models...), globals("density", density), PlanOptions{})
		b := byName(base)
		for _, tn := range base {
			for e := range tn.Data {
				m := float64(got[tn.Name][e]) - float64(b[tn.Name][e])
				lo, hi := 0.0, 0.0 // trimmed entries are 0
				for _, mod := range models {
					tau := float64(byName(mod)[tn.Name][e]) - float64(b[tn.Name][e])
					lo, hi = math.Min(lo, tau), math.Max(hi, tau)
				}
				if m < lo-1e-5 || m > hi+1e-5 {
					t.Fatalf("seed %d %s[%d]: merged delta %g outside [%g, %g]", seed, tn.Name, e, m, lo, hi)
				}
			}
		}
	}
}

// Linear with non-negative weights stays inside the elementwise hull; SLERP
// of unit vectors stays on the unit sphere; model stock's ratio stays in
// [0, 1] (the merge is between θ0 and the mean).
func TestInterpolationPropertiesOnRandomInputs(t *testing.T) {
	for seed := range uint64(20) {
		a, b := randomModel(seed, "a", 1), randomModel(seed, "b", 1)
		w := []Value{F(float64(seed%5) + 0.5), F(float64(seed%3) + 0.1)}
		got := mergeAll(t, Linear(), mustSource(t, nil, a, b), Settings{Default: Values{Models: map[string][]Value{"weight": w}}}, PlanOptions{})
		for i, tn := range a {
			for e := range tn.Data {
				lo := math.Min(float64(tn.Data[e]), float64(b[i].Data[e]))
				hi := math.Max(float64(tn.Data[e]), float64(b[i].Data[e]))
				if v := float64(got[tn.Name][e]); v < lo-1e-6 || v > hi+1e-6 {
					t.Fatalf("linear outside hull: %g not in [%g, %g]", v, lo, hi)
				}
			}
		}
		unit := func(ts []checkpoint.Tensor) []checkpoint.Tensor {
			out := make([]checkpoint.Tensor, len(ts))
			for i, t := range ts {
				nrm := float32(norm(t.Data))
				d := make([]float32, len(t.Data))
				for e := range d {
					d[e] = t.Data[e] / nrm
				}
				out[i] = checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: d}
			}
			return out
		}
		tt := float64(seed) / 19
		got = mergeAll(t, SLERP(), mustSource(t, nil, unit(a), unit(b)), globals("t", tt), PlanOptions{})
		for _, tn := range a {
			if nrm := norm(got[tn.Name]); math.Abs(nrm-1) > 1e-5 {
				t.Fatalf("slerp t=%g %s: norm %g", tt, tn.Name, nrm)
			}
		}
		base := randomModel(seed, "base", 1)
		ms := [][]checkpoint.Tensor{perturb(base, seed, "x", 0.1), perturb(base, seed+1, "y", 0.1), perturb(base, seed+2, "z", 0.1)}
		got = mergeAll(t, ModelStock(), mustSource(t, base, ms...), Settings{}, PlanOptions{})
		bb := byName(base)
		for _, tn := range base {
			var dot, mm float64
			for e := range tn.Data {
				var mean float64
				for _, m := range ms {
					mean += (float64(byName(m)[tn.Name][e]) - float64(bb[tn.Name][e])) / 3
				}
				dot += (float64(got[tn.Name][e]) - float64(bb[tn.Name][e])) * mean
				mm += mean * mean
			}
			if r := dot / mm; r < -1e-6 || r > 1+1e-6 {
				t.Fatalf("model stock ratio %g outside [0, 1]", r)
			}
		}
	}
}

func TestRadixSortHigh32IsStableByHighHalf(t *testing.T) {
	for trial := range 50 {
		n := 1 + trial*37
		keys := make([]uint64, n)
		for i := range keys {
			// Few distinct magnitudes so ties are common; low half = index.
			hi := uint64((i*7919+trial)%13) << (8 * uint(trial%4))
			keys[i] = hi<<32 | uint64(i)
		}
		want := slices.Clone(keys)
		slices.SortStableFunc(want, func(a, b uint64) int {
			switch {
			case a>>32 < b>>32:
				return -1
			case a>>32 > b>>32:
				return 1
			}
			return 0
		})
		radixSortHigh32(keys, make([]uint64, n))
		if !slices.Equal(keys, want) {
			t.Fatalf("trial %d: radix order differs from a stable sort", trial)
		}
	}
}
