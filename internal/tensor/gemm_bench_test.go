package tensor

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

var gemmBenchSizes = []int{64, 128, 256, 512, 1024}

func reportGFLOPs(b *testing.B, n int) {
	flops := 2 * float64(n) * float64(n) * float64(n) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGemm measures C = A*B for square matrices (NN) and C = A*B^T (NT, the
// layout of a Linear layer's forward pass).
func BenchmarkGemm(b *testing.B) {
	for _, n := range gemmBenchSizes {
		for _, transB := range []bool{false, true} {
			name := fmt.Sprintf("n=%d/NN", n)
			if transB {
				name = fmt.Sprintf("n=%d/NT", n)
			}
			b.Run(name, func(b *testing.B) {
				x := randomSlice(1, "a", n*n)
				y := randomSlice(1, "b", n*n)
				z := make([]float32, n*n)
				b.ResetTimer()
				for b.Loop() {
					Gemm(false, transB, n, n, n, 1, x, n, y, n, 0, z, n)
				}
				reportGFLOPs(b, n)
			})
		}
	}
}

// BenchmarkGonumSgemm is the same product through gonum's blas32 (pure Go with assembly
// vector kernels), for comparison.
func BenchmarkGonumSgemm(b *testing.B) {
	for _, n := range gemmBenchSizes {
		for _, transB := range []bool{false, true} {
			name := fmt.Sprintf("n=%d/NN", n)
			tB := blas.NoTrans
			if transB {
				name = fmt.Sprintf("n=%d/NT", n)
				tB = blas.Trans
			}
			b.Run(name, func(b *testing.B) {
				x := blas32.General{Rows: n, Cols: n, Stride: n, Data: randomSlice(1, "a", n*n)}
				y := blas32.General{Rows: n, Cols: n, Stride: n, Data: randomSlice(1, "b", n*n)}
				z := blas32.General{Rows: n, Cols: n, Stride: n, Data: make([]float32, n*n)}
				b.ResetTimer()
				for b.Loop() {
					blas32.Gemm(blas.NoTrans, tB, 1, x, y, 0, z)
				}
				reportGFLOPs(b, n)
			})
		}
	}
}
