package tensor

import (
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

func vecRandom(seed uint64, name string, n int) []float32 {
	r := rng.New(seed, "tensor-vec-test", name)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func TestWeightedSumTaskSumGramAgainstFloat64(t *testing.T) {
	for _, n := range []int{1, 7, 1000, vecParallelMin + 12345} {
		base := vecRandom(1, "base", n)
		xs := [][]float32{vecRandom(2, "a", n), vecRandom(3, "b", n), vecRandom(4, "c", n)}
		w := []float32{0.5, -1.25, 2}
		ws := make([]float32, n)
		ts := make([]float32, n)
		WeightedSum(ws, w, xs)
		TaskSum(ts, base, w, xs)
		for e := range n {
			var a, b float64
			for i, x := range xs {
				a += float64(w[i]) * float64(x[e])
				b += float64(w[i]) * (float64(x[e]) - float64(base[e]))
			}
			b += float64(base[e])
			if math.Abs(float64(ws[e])-a) > 1e-5*(1+math.Abs(a)) || math.Abs(float64(ts[e])-b) > 1e-5*(1+math.Abs(b)) {
				t.Fatalf("n=%d e=%d: WeightedSum %g want %g, TaskSum %g want %g", n, e, ws[e], a, ts[e], b)
			}
		}
		g := make([]float64, 9)
		Gram(g, base, xs)
		for i := range 3 {
			for k := range 3 {
				var want float64
				for e := range n {
					want += (float64(xs[i][e]) - float64(base[e])) * (float64(xs[k][e]) - float64(base[e]))
				}
				if math.Abs(g[i*3+k]-want) > 1e-9*(1+math.Abs(want)) {
					t.Fatalf("n=%d Gram[%d,%d] = %g want %g", n, i, k, g[i*3+k], want)
				}
			}
		}
	}
}

func TestVecKernelsDeterministicAcrossGOMAXPROCS(t *testing.T) {
	n := 3*vecParallelMin + 17
	base := vecRandom(1, "base", n)
	xs := [][]float32{vecRandom(2, "a", n), vecRandom(3, "b", n)}
	w := []float32{0.3, 0.9}
	run := func(procs int) ([]float32, []float64) {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		dst := make([]float32, n)
		TaskSum(dst, base, w, xs)
		g := make([]float64, 4)
		Gram(g, base, xs)
		dm := make([]float32, n)
		DisjointMerge(dm, w, xs, true)
		return append(dst, dm...), g
	}
	d1, g1 := run(1)
	for _, p := range []int{2, 3, 8} {
		dp, gp := run(p)
		if !slices.Equal(d1, dp) || !slices.Equal(g1, gp) {
			t.Fatalf("GOMAXPROCS=%d differs from 1", p)
		}
	}
}

// sumRunner is a ForEach body: item i sums row i.
type sumRunner struct {
	x    []float32
	sums []float64
}

func (r *sumRunner) Run(i int) {
	n := len(r.x) / len(r.sums)
	r.sums[i] = Dot(r.x[i*n:(i+1)*n], r.x[i*n:(i+1)*n])
}

func TestVecKernelsDoNotAllocate(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	n := 2*vecParallelMin + 5
	base := vecRandom(1, "base", n)
	xs := [][]float32{vecRandom(2, "a", n), vecRandom(3, "b", n)}
	w := []float32{0.3, 0.9}
	dst := make([]float32, n)
	g := make([]float64, 4)
	body := &sumRunner{x: base, sums: make([]float64, 5)}
	TaskSum(dst, base, w, xs)
	Gram(g, base, xs)
	DisjointMerge(dst, w, xs, true)
	ForEach(len(body.sums), body)
	if a := testing.AllocsPerRun(20, func() {
		TaskSum(dst, base, w, xs)
		WeightedSum(dst, w, xs)
		Gram(g, base, xs)
		DisjointMerge(dst, w, xs, true)
		ForEach(len(body.sums), body)
	}); a != 0 {
		t.Fatalf("%v allocations per run", a)
	}
}

func TestSelectKthLargest(t *testing.T) {
	r := rng.New(9, "select")
	for trial := range 200 {
		n := 1 + r.IntN(300)
		x := make([]float32, n)
		for i := range x {
			// Many duplicates, including zeros.
			x[i] = float32(r.IntN(12) - 4)
			if trial%3 == 0 {
				x[i] = float32(r.NormFloat64())
			}
		}
		sorted := slices.Clone(x)
		slices.Sort(sorted)
		slices.Reverse(sorted)
		k := 1 + r.IntN(n)
		if got := SelectKthLargest(slices.Clone(x), k); got != sorted[k-1] {
			t.Fatalf("trial %d: k=%d got %g want %g", trial, k, got, sorted[k-1])
		}
	}
}

// rankOrder returns indexes by descending |x|, ties by ascending index.
func rankOrder(x []float32) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		fa, fb := math.Abs(float64(x[a])), math.Abs(float64(x[b]))
		switch {
		case fa > fb:
			return -1
		case fa < fb:
			return 1
		}
		return 0
	})
	return idx
}

func TestTopKAndBandMagnitudeMatchRankReference(t *testing.T) {
	r := rng.New(10, "band")
	for trial := range 300 {
		n := 1 + r.IntN(60)
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(9) - 4)
		}
		order := rankOrder(x)
		top, keep := r.IntN(n+1), r.IntN(n+2)
		scratch := make([]float32, n)
		got := make([]float32, n)
		BandMagnitude(got, x, top, keep, scratch)
		want := make([]float32, n)
		for rank, i := range order {
			if rank >= top && rank < top+keep {
				want[i] = x[i]
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: band(top=%d, keep=%d) of %v = %v, want %v", trial, top, keep, x, got, want)
		}
		TopKMagnitude(got, x, keep, scratch)
		clear(want)
		for rank, i := range order {
			if rank < keep {
				want[i] = x[i]
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: topk(%d) of %v = %v, want %v", trial, keep, x, got, want)
		}
	}
}

func TestDisjointMergeHandComputed(t *testing.T) {
	xs := [][]float32{{1, -2, 3, 0}, {-2, 1, 1, 0}}
	dst := make([]float32, 4)
	DisjointMerge(dst, []float32{1, 1}, xs, true)
	// Σ = [-1,-1,4,0] -> signs [-,-,+,+]; agreeing means: -2, -2, 2, 0.
	if want := []float32{-2, -2, 2, 0}; !slices.Equal(dst, want) {
		t.Fatalf("mean: %v want %v", dst, want)
	}
	DisjointMerge(dst, []float32{1, 3}, xs, false)
	// Weighted: Δ2 = [-6,3,3,0]; Σ = [-5,1,6,0]; sums: -6, 3, 6, 0.
	if want := []float32{-6, 3, 6, 0}; !slices.Equal(dst, want) {
		t.Fatalf("sum: %v want %v", dst, want)
	}
}

func TestSlerpCoefficients(t *testing.T) {
	ca, cb, lin := SlerpCoefficients(0.5, 0, 0.9995)
	if lin || math.Abs(ca-1/math.Sqrt2) > 1e-12 || math.Abs(cb-1/math.Sqrt2) > 1e-12 {
		t.Fatalf("orthogonal midpoint: %g %g %v", ca, cb, lin)
	}
	for _, c := range []float64{0.99999, -0.99999} {
		ca, cb, lin = SlerpCoefficients(0.25, c, 0.9995)
		if !lin || ca != 0.75 || cb != 0.25 {
			t.Fatalf("cos %g: %g %g %v", c, ca, cb, lin)
		}
	}
}

func TestKthLargestMagnitudeRadixPath(t *testing.T) {
	r := rng.New(11, "radix")
	for trial := range 20 {
		n := radixSelectMin + r.IntN(20000)
		x := make([]float32, n)
		for i := range x {
			switch trial % 3 {
			case 0:
				x[i] = float32(r.NormFloat64())
			case 1:
				x[i] = float32(r.IntN(7) - 3) // heavy ties, zeros
			default:
				x[i] = float32(r.NormFloat64()) * 1e-30 // subnormal range
			}
		}
		abs := make([]float32, n)
		AbsInto(abs, x)
		slices.Sort(abs)
		slices.Reverse(abs)
		scratch := make([]float32, n)
		orig := slices.Clone(x)
		for _, k := range []int{1, 2, n / 10, n / 2, n - 1, n} {
			if k < 1 {
				continue
			}
			if got := KthLargestMagnitude(x, k, scratch); got != abs[k-1] {
				t.Fatalf("trial %d k=%d: got %g want %g", trial, k, got, abs[k-1])
			}
		}
		if !slices.Equal(x, orig) {
			t.Fatal("input modified")
		}
	}
}
