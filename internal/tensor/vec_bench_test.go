package tensor

import (
	"slices"
	"testing"
)

const vecBenchN = 4 << 20

func BenchmarkVecCopy(b *testing.B) {
	src := vecRandom(1, "a", 4*vecBenchN)
	dst := make([]float32, len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		copy(dst, src)
	}
}

func BenchmarkWeightedSum4(b *testing.B) {
	xs := [][]float32{vecRandom(1, "a", vecBenchN), vecRandom(2, "b", vecBenchN), vecRandom(3, "c", vecBenchN), vecRandom(4, "d", vecBenchN)}
	w := []float32{0.1, 0.2, 0.3, 0.4}
	dst := make([]float32, vecBenchN)
	b.SetBytes(int64(4 * 4 * vecBenchN))
	for b.Loop() {
		WeightedSum(dst, w, xs)
	}
}

func BenchmarkTaskSum4(b *testing.B) {
	base := vecRandom(9, "base", vecBenchN)
	xs := [][]float32{vecRandom(1, "a", vecBenchN), vecRandom(2, "b", vecBenchN), vecRandom(3, "c", vecBenchN), vecRandom(4, "d", vecBenchN)}
	w := []float32{0.1, 0.2, 0.3, 0.4}
	dst := make([]float32, vecBenchN)
	b.SetBytes(int64(5 * 4 * vecBenchN))
	for b.Loop() {
		TaskSum(dst, base, w, xs)
	}
}

func BenchmarkGram4(b *testing.B) {
	base := vecRandom(9, "base", vecBenchN)
	xs := [][]float32{vecRandom(1, "a", vecBenchN), vecRandom(2, "b", vecBenchN), vecRandom(3, "c", vecBenchN), vecRandom(4, "d", vecBenchN)}
	g := make([]float64, 16)
	b.SetBytes(int64(5 * 4 * vecBenchN))
	for b.Loop() {
		Gram(g, base, xs)
	}
}

// Top-k threshold by histogram selection against a full sort.
func BenchmarkTopKMagnitude(b *testing.B) {
	x := vecRandom(1, "a", vecBenchN)
	dst := make([]float32, vecBenchN)
	scratch := make([]float32, vecBenchN)
	b.SetBytes(int64(4 * vecBenchN))
	for b.Loop() {
		TopKMagnitude(dst, x, vecBenchN/5, scratch)
	}
}

func BenchmarkTopKBySort(b *testing.B) {
	x := vecRandom(1, "a", vecBenchN)
	scratch := make([]float32, vecBenchN)
	b.SetBytes(int64(4 * vecBenchN))
	for b.Loop() {
		AbsInto(scratch, x)
		slices.Sort(scratch)
	}
}

func BenchmarkDisjointMerge4(b *testing.B) {
	xs := [][]float32{vecRandom(1, "a", vecBenchN), vecRandom(2, "b", vecBenchN), vecRandom(3, "c", vecBenchN), vecRandom(4, "d", vecBenchN)}
	w := []float32{1, 1, 1, 1}
	dst := make([]float32, vecBenchN)
	b.SetBytes(int64(4 * 4 * vecBenchN))
	for b.Loop() {
		DisjointMerge(dst, w, xs, true)
	}
}
