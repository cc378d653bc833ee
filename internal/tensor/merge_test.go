package tensor

import (
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

// The parallel top-k path (several parts, tie budgets carried across parts)
// keeps exactly the rank prefix, whatever GOMAXPROCS is.
func TestTopKMagnitudeParallelMatchesRankReference(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	r := rng.New(12, "topk-parallel")
	n := 3*topKParallelMin + 123
	for trial := range 4 {
		x := make([]float32, n)
		for i := range x {
			switch trial {
			case 3:
				// One magnitude: the threshold's bin holds every value, too many
				// to keep a copy in scratch, so the counting pass runs.
				x[i] = float32(1 - 2*r.IntN(2))
			case 0:
				x[i] = float32(r.IntN(9) - 4) // heavy ties, zeros, both signs
			case 1:
				x[i] = float32(r.NormFloat64())
			default:
				x[i] = float32(r.NormFloat64()) * 1e-30 // subnormal range
			}
		}
		order := rankOrder(x)
		for _, k := range []int{1, n / 7, n / 2, n - 5} {
			want := make([]float32, n)
			for _, i := range order[:k] {
				want[i] = x[i]
			}
			for _, procs := range []int{1, 2, 3, 8} {
				runtime.GOMAXPROCS(procs)
				got := make([]float32, n)
				TopKMagnitude(got, x, k, make([]float32, n))
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("trial %d k=%d GOMAXPROCS=%d: element %d = %v, want %v", trial, k, procs, i, got[i], want[i])
					}
				}
				// In place (dst aliases x).
				inPlace := slices.Clone(x)
				TopKMagnitude(inPlace, inPlace, k, make([]float32, n))
				if !slices.Equal(inPlace, want) {
					t.Fatalf("trial %d k=%d GOMAXPROCS=%d: in-place result differs", trial, k, procs)
				}
			}
		}
	}
}

func TestTopKMagnitudeDoesNotAllocate(t *testing.T) {
	n := 2*topKParallelMin + 7
	x := vecRandom(1, "a", n)
	dst := make([]float32, n)
	scratch := make([]float32, n)
	TopKMagnitude(dst, x, n/5, scratch)
	if a := testing.AllocsPerRun(10, func() { TopKMagnitude(dst, x, n/5, scratch) }); a != 0 {
		t.Fatalf("%v allocations per call", a)
	}
}

type nestedTopK struct {
	xs, dsts, scratch [][]float32
	k                 int
}

func (b *nestedTopK) Run(i int) { TopKMagnitude(b.dsts[i], b.xs[i], b.k, b.scratch[i]) }

// A parallel kernel inside a ForEach body (the operators trim every model in
// parallel) completes even when every helper is busy, with the same result as
// a call on its own.
func TestNestedParallelKernelsComplete(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	n := 2*topKParallelMin + 11
	b := &nestedTopK{k: n / 3}
	for i := range 4 {
		b.xs = append(b.xs, vecRandom(uint64(i), "nested", n))
		b.dsts = append(b.dsts, make([]float32, n))
		b.scratch = append(b.scratch, make([]float32, n))
	}
	ForEach(len(b.xs), b)
	for i, x := range b.xs {
		want := make([]float32, n)
		TopKMagnitude(want, x, b.k, make([]float32, n))
		if !slices.Equal(b.dsts[i], want) {
			t.Fatalf("model %d: nested result differs from a direct call", i)
		}
	}
}

// KeepMagnitudeAbove equals the scalar rule (keep |x| > thr, then the first
// ties entries equal to thr), with and without the vector loops.
func TestKeepMagnitudeAboveMatchesScalarRule(t *testing.T) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	r := rng.New(13, "keep-above")
	for trial := range 40 {
		n := r.IntN(300)
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(7) - 3)
		}
		if trial%5 == 0 && n > 0 {
			x[r.IntN(n)] = float32(math.NaN())
		}
		thr := float32(r.IntN(4))
		ties := r.IntN(n/4+2) - 1
		want := make([]float32, n)
		left := ties
		for i, v := range x {
			a := float32(math.Abs(float64(v)))
			switch {
			case a > thr:
				want[i] = v
			case a == thr && left > 0:
				want[i] = v
				left--
			}
		}
		for _, vector := range []bool{false, true} {
			vecAVX2 = vector && vecAVX2Supported()
			got := make([]float32, n)
			KeepMagnitudeAbove(got, x, thr, ties)
			inPlace := slices.Clone(x)
			KeepMagnitudeAbove(inPlace, inPlace, thr, ties)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(inPlace[i]) != math.Float32bits(want[i]) {
					t.Fatalf("trial %d (vector %v, thr %v, ties %d): element %d = %v (in place %v), want %v", trial, vecAVX2, thr, ties, i, got[i], inPlace[i], want[i])
				}
			}
		}
	}
}

// The sampled bracket misses when the strided sample is unrepresentative; the
// histogram passes then give the exact answer. Checked with and without the
// vector loops, against sorting.
func TestKthLargestMagnitudeWhenTheSampleMisleads(t *testing.T) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	r := rng.New(14, "bracket-miss")
	n := 1 << 16
	x := make([]float32, n)
	for i := range x {
		if i%8 == 0 { // exactly the sampled positions
			x[i] = -100
		} else {
			x[i] = float32(r.Float64())
		}
	}
	sorted := make([]float32, n)
	AbsInto(sorted, x)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	for _, vector := range []bool{false, true} {
		vecAVX2 = vector && vecAVX2Supported()
		for _, k := range []int{1, n / 8, n/8 + 1, n / 2, n} {
			if got := KthLargestMagnitude(x, k, make([]float32, n)); got != sorted[k-1] {
				t.Fatalf("vector=%v k=%d: got %v, want %v", vecAVX2, k, got, sorted[k-1])
			}
		}
		order := rankOrder(x)
		for _, k := range []int{n / 8, n / 3} {
			got := make([]float32, n)
			TopKMagnitude(got, x, k, make([]float32, n))
			want := make([]float32, n)
			for _, i := range order[:k] {
				want[i] = x[i]
			}
			if !slices.Equal(got, want) {
				t.Fatalf("vector=%v: TopKMagnitude(k=%d) differs from the rank reference", vecAVX2, k)
			}
		}
	}
}
