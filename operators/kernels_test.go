package operators

import (
	"math"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tensor"
)

func TestKeepCount(t *testing.T) {
	for _, c := range []struct {
		keep    float64
		n       int
		up      bool
		want    int
		comment string
	}{
		{0.2, 10, false, 2, "exact"},
		{0.2, 10, true, 2, "exact"},
		{0.25, 9, false, 2, "floor"},
		{0.25, 9, true, 3, "ceil"},
		{0.01, 50, false, 0, "keep·n < 1 keeps none (ties operator)"},
		{0.01, 50, true, 1, "at least one (AdaMerging++, FW)"},
		{1, 7, false, 7, "all"},
		{0, 7, true, 0, "none"},
	} {
		if got := KeepCount(c.keep, c.n, c.up); got != c.want {
			t.Errorf("KeepCount(%v, %d, %v) = %d, want %d (%s)", c.keep, c.n, c.up, got, c.want, c.comment)
		}
	}
}

// The trim kernel on the example of TestTIESModelScopeKeepsExactlyKOverTheModel.
func TestTrimHandComputed(t *testing.T) {
	tau := [][]float32{{5, 1, -2, 0.5}, {9, -8, 7, 5}}
	dst := [][]float32{make([]float32, 4), make([]float32, 4)}
	// Model-wide: the 4 largest of 8 are 9, 8, 7 and the first tied 5 (tensor a).
	scratch := Trim(dst, tau, 0.5, TrimModel, false, nil)
	if !slices.Equal(dst[0], []float32{5, 0, 0, 0}) || !slices.Equal(dst[1], []float32{9, -8, 7, 0}) {
		t.Errorf("model scope: %v", dst)
	}
	if len(scratch) < TrimScratch(tau, TrimModel) {
		t.Errorf("scratch %d < %d", len(scratch), TrimScratch(tau, TrimModel))
	}
	// Per tensor: two of each.
	Trim(dst, tau, 0.5, TrimTensor, false, scratch)
	if !slices.Equal(dst[0], []float32{5, 0, -2, 0}) || !slices.Equal(dst[1], []float32{9, -8, 0, 0}) {
		t.Errorf("tensor scope: %v", dst)
	}
	// Rounding: 0.3·8 = 2.4 keeps 2 (floor) or 3 (ceil); in place.
	in := [][]float32{slices.Clone(tau[0]), slices.Clone(tau[1])}
	Trim(in, in, 0.3, TrimModel, true, scratch)
	if !slices.Equal(in[0], []float32{0, 0, 0, 0}) || !slices.Equal(in[1], []float32{9, -8, 7, 0}) {
		t.Errorf("ceil, in place: %v", in)
	}
	Trim(dst, tau, 0.3, TrimModel, false, scratch)
	if !slices.Equal(dst[0], []float32{0, 0, 0, 0}) || !slices.Equal(dst[1], []float32{9, -8, 0, 0}) {
		t.Errorf("floor: %v", dst)
	}
}

// Trim on resident tensors selects what the ties operator selects while
// streaming (one model, zero base, λ = 1: the merge is the trimmed τ), in
// both scopes, with many ties and a tensor on the parallel top-k path.
func TestTrimMatchesTIESOperator(t *testing.T) {
	r := rng.New(11, "trim")
	mk := func(name string, n int) (checkpoint.Tensor, checkpoint.Tensor) {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(math.Round(4*r.NormFloat64()) / 4) // many equal magnitudes
		}
		return checkpoint.Tensor{Name: name, Shape: []int{n}, Data: make([]float32, n)}, checkpoint.Tensor{Name: name, Shape: []int{n}, Data: d}
	}
	var base, model []checkpoint.Tensor
	for i, n := range []int{5000, 37, 700} {
		b, m := mk("layers."+string(rune('0'+i))+".weight", n)
		base, model = append(base, b), append(model, m)
	}
	names := canonicalNames(base)
	src := mustSource(t, base, model)
	byN := byName(model)
	tau := make([][]float32, len(names))
	dst := make([][]float32, len(names))
	for l, n := range names {
		tau[l] = byN[n]
		dst[l] = make([]float32, len(tau[l]))
	}
	var scratch []float32
	for _, d := range []float64{0.05, 0.2, 0.5, 0.93} {
		for _, scope := range []string{TrimTensor, TrimModel} {
			got := mergeAll(t, TIES(), src, globals("density", d, "trim_scope", scope), PlanOptions{})
			scratch = Trim(dst, tau, d, scope, false, scratch)
			for l, n := range names {
				if !slices.Equal(got[n], dst[l]) {
					t.Fatalf("density %v, scope %s, tensor %s: the kernel differs from the ties operator", d, scope, n)
				}
			}
		}
	}
}

// ElectSign + DropDisagreeing keep exactly what tensor.DisjointMerge (the
// ties operator's fused election and merge) sums; values and weights are
// small dyadic numbers, so every sum is exact and zero sums occur.
func TestElectAndDropMatchDisjointMerge(t *testing.T) {
	r := rng.New(12, "elect")
	const n, models = 3000, 4
	xs := make([][]float32, models)
	for i := range xs {
		xs[i] = make([]float32, n)
		for e := range xs[i] {
			xs[i][e] = float32(r.IntN(7) - 3)
		}
	}
	for _, w := range [][]float32{nil, {1, 0.5, 2, 1.25}, {1, -0.5, 2, 0}} {
		unit := w
		if unit == nil {
			unit = []float32{1, 1, 1, 1}
		}
		want := make([]float32, n)
		tensor.DisjointMerge(want, unit, xs, false)
		kept := make([][]float32, models)
		for i := range kept {
			kept[i] = slices.Clone(xs[i])
		}
		sign := make([]float32, n)
		ElectSign(sign, w, kept, 1)
		DropDisagreeing(kept, w, sign)
		for e := range n {
			var s float32
			for i := range kept {
				s += unit[i] * kept[i][e]
			}
			if s != want[e] {
				t.Fatalf("weights %v, entry %d: Σ kept = %v, disjoint sum %v", w, e, s, want[e])
			}
			for i := range kept {
				if v := unit[i] * kept[i][e]; v*sign[e] < 0 {
					t.Fatalf("weights %v, entry %d: model %d disagrees with the elected sign", w, e, i)
				}
			}
		}
	}
	// The zero-sum rule: unit weights, sums of 0 take the given sign.
	a, b := []float32{2, -1, 0}, []float32{-2, 1, 0}
	sign := make([]float32, 3)
	ElectSign(sign, nil, [][]float32{a, b}, -1)
	if !slices.Equal(sign, []float32{-1, -1, -1}) {
		t.Errorf("zero sums: sign %v", sign)
	}
	DropDisagreeing([][]float32{a, b}, nil, sign)
	if !slices.Equal(a, []float32{0, -1, 0}) || !slices.Equal(b, []float32{-2, 0, 0}) {
		t.Errorf("dropped: %v %v", a, b)
	}
}

func TestMassSignAndTaskVectorKernels(t *testing.T) {
	if g := MassSign([][][]float32{{{1, -2}}, {{0.5}, {-0.25}}}); g != -1 {
		t.Errorf("MassSign = %v, want -1", g)
	}
	if g := MassSign([][][]float32{{{1, -1}}}); g != 1 {
		t.Errorf("MassSign of zero mass = %v, want +1", g)
	}
	theta, base := []float32{3, -1, 2.5}, []float32{1, 1, 0.5}
	tau := make([]float32, 3)
	TaskVector(tau, theta, base)
	if !slices.Equal(tau, []float32{2, -2, 2}) {
		t.Errorf("TaskVector = %v", tau)
	}
	acc := []float32{1, 1, 1}
	AddTaskVector(acc, 0.5, theta, base)
	if !slices.Equal(acc, []float32{2, 0, 2}) {
		t.Errorf("AddTaskVector = %v", acc)
	}
}

func TestKernelsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	r := rng.New(13, "alloc")
	tau := [][]float32{make([]float32, 9000), make([]float32, 300)}
	dst := [][]float32{make([]float32, 9000), make([]float32, 300)}
	for _, v := range tau {
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
	}
	scratch := Trim(dst, tau, 0.2, TrimModel, true, nil)
	sign := make([]float32, 9000)
	xs := [][]float32{dst[0], tau[0]}
	for _, scope := range []string{TrimModel, TrimTensor} {
		if a := testing.AllocsPerRun(5, func() {
			Trim(dst, tau, 0.2, scope, true, scratch)
			ElectSign(sign, nil, xs, 1)
			DropDisagreeing(xs, nil, sign)
			TaskVector(dst[1], tau[1], dst[1])
			AddTaskVector(dst[1], 0.3, tau[1], dst[1])
		}); a != 0 {
			t.Errorf("%s: %v allocations", scope, a)
		}
	}
}
