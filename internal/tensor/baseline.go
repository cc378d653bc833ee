package tensor

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// GonumGemm computes C = alpha*op(A)*op(B) + beta*C with the arguments of Gemm,
// through gonum's blas32 (pure Go). It is the baseline that benchmarks compare
// Gemm with; models use Gemm.
func GonumGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	aRows, aCols, tA := m, k, blas.NoTrans
	if transA {
		aRows, aCols, tA = k, m, blas.Trans
	}
	bRows, bCols, tB := k, n, blas.NoTrans
	if transB {
		bRows, bCols, tB = n, k, blas.Trans
	}
	if k == 0 {
		scaleMatrix(beta, c, ldc, 0, m, 0, n)
		return
	}
	blas32.Gemm(tA, tB, alpha,
		blas32.General{Rows: aRows, Cols: aCols, Stride: lda, Data: a},
		blas32.General{Rows: bRows, Cols: bCols, Stride: ldb, Data: b},
		beta, blas32.General{Rows: m, Cols: n, Stride: ldc, Data: c})
}
