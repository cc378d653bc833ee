package tensor

import (
	"math"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

// specialValues returns n values mixing normal numbers with zeros of both
// signs, infinities, NaN and subnormals.
func specialValues(seed uint64, n int) []float32 {
	r := rng.New(seed, "vec-loops")
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(16) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		case 2:
			x[i] = float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			x[i] = float32(math.NaN())
		case 4:
			x[i] = float32(r.NormFloat64()) * 1e-40
		default:
			x[i] = float32(r.NormFloat64())
		}
	}
	return x
}

// The vector loops (where the CPU has them) and the Go loops give the same
// bits for every element-wise kernel, on lengths around the vector width and on
// special values.
func TestVectorLoopsMatchGoLoops(t *testing.T) {
	if !vecAVX2 {
		t.Skip("no vector loops on this CPU: the Go loops are the only path")
	}
	defer func() { vecAVX2 = vecAVX2Supported() }()
	type result [][]float32
	run := func(n int, vector bool) result {
		vecAVX2 = vector
		x, y, sg := specialValues(1, n), specialValues(2, n), specialValues(3, n)
		electSign(sg, sg)
		var out result
		d := specialValues(4, n)
		axpy(d, x, 0.75)
		out = append(out, d)
		d = make([]float32, n)
		scaleInto(d, x, -1.5)
		out = append(out, d)
		d = specialValues(5, n)
		axpyDiff(d, x, y, 0.3)
		out = append(out, d)
		d = make([]float32, n)
		addInto(d, x, y)
		out = append(out, d)
		d = make([]float32, n)
		electSign(d, x)
		out = append(out, d)
		num, den := specialValues(6, n), specialValues(7, n)
		disjointAcc(num, den, x, sg, -0.6)
		out = append(out, num, den)
		d = make([]float32, n)
		ReLU(d, x)
		out = append(out, d)
		d = make([]float32, n)
		ReLUGrad(d, y, x)
		out = append(out, d)
		d = make([]float32, n)
		subInto(d, x, y)
		out = append(out, d)
		d = make([]float32, n)
		divOrZero(d, x, y)
		out = append(out, d)
		for _, b := range [][2]float32{{0, 0.5}, {0.3, 1.2}, {0, float32(math.Inf(1))}, {2, 1}} {
			d = make([]float32, n)
			above, m := bracketScan(x, b[0], b[1], d)
			out = append(out, d[:m], []float32{float32(above), float32(m)})
		}
		for _, thr := range []float32{0, 0.5, float32(math.Inf(1))} {
			d = make([]float32, n)
			maskAbove(d, x, thr)
			out = append(out, d)
		}
		return out
	}
	for _, n := range []int{0, 1, 31, 32, 33, 63, 64, 100, 1029} {
		want, got := run(n, false), run(n, true)
		for k := range want {
			for i := range want[k] {
				if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
					t.Fatalf("n=%d kernel %d element %d: vector %v (%#x), Go %v (%#x)", n, k, i,
						got[k][i], math.Float32bits(got[k][i]), want[k][i], math.Float32bits(want[k][i]))
				}
			}
		}
	}
}

// The merge kernels give the same bits with and without the vector loops.
func TestMergeKernelsSameWithoutVectorLoops(t *testing.T) {
	if !vecAVX2 {
		t.Skip("no vector loops on this CPU")
	}
	defer func() { vecAVX2 = vecAVX2Supported() }()
	n := vecParallelMin + 1234
	base := vecRandom(1, "base", n)
	xs := [][]float32{vecRandom(2, "a", n), vecRandom(3, "b", n), vecRandom(4, "c", n)}
	w := []float32{0.3, -0.9, 1.7}
	run := func(vector bool) []float32 {
		vecAVX2 = vector
		ws, ts, dm, dn := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		WeightedSum(ws, w, xs)
		TaskSum(ts, base, w, xs)
		DisjointMerge(dm, w, xs, true)
		DisjointMerge(dn, w, xs, false)
		return append(append(append(ws, ts...), dm...), dn...)
	}
	want, got := run(false), run(true)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("element %d (kernel %d): vector %v, Go %v", i%n, i/n, got[i], want[i])
		}
	}
}

// ReLU is Go's max(x, 0), including NaN and signed zeros.
func TestReLUMatchesGoMax(t *testing.T) {
	x := specialValues(9, 1000)
	got := make([]float32, len(x))
	ReLU(got, x)
	for i, v := range x {
		want := max(v, 0)
		if math.IsNaN(float64(want)) != math.IsNaN(float64(got[i])) ||
			(!math.IsNaN(float64(want)) && math.Float32bits(got[i]) != math.Float32bits(want)) {
			t.Fatalf("ReLU(%v) = %v, want %v", v, got[i], want)
		}
	}
}
