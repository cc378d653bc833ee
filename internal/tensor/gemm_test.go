package tensor

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

// naiveGemm is the float64 reference: C = alpha*op(A)*op(B) + beta*C.
func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			old := 0.0
			if beta != 0 {
				old = float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = float64(alpha)*s + old
		}
	}
	return out
}

func randomSlice(seed uint64, name string, n int) []float32 {
	r := rng.New(seed, "tensor-test", name)
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra columns in every leading dimension
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%g,beta=%g,pad=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// operands builds A, B, C with leading dimensions for the case.
func (tc gemmCase) operands(seed uint64) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	aRows, aCols := tc.m, tc.k
	if tc.transA {
		aRows, aCols = tc.k, tc.m
	}
	bRows, bCols := tc.k, tc.n
	if tc.transB {
		bRows, bCols = tc.n, tc.k
	}
	lda, ldb, ldc = max(1, aCols)+tc.pad, max(1, bCols)+tc.pad, max(1, tc.n)+tc.pad
	a = randomSlice(seed, "a", aRows*lda)
	b = randomSlice(seed, "b", bRows*ldb)
	c = randomSlice(seed, "c", tc.m*ldc)
	return
}

// withEachGemmKernel runs f once with each kernel this CPU supports forced as
// Gemm's kernel, and logs the kernels it cannot run here.
func withEachGemmKernel(t *testing.T, f func(t *testing.T, kern *gemmKernel)) {
	t.Helper()
	prev := activeGemm
	defer func() { activeGemm = prev }()
	for _, kern := range gemmKernels {
		activeGemm = kern
		f(t, kern)
	}
	for _, name := range []string{"avx512", "avx2-fma", "generic"} {
		if !slices.ContainsFunc(gemmKernels, func(k *gemmKernel) bool { return k.name == name }) {
			t.Logf("kernel %s not supported by this CPU: not tested here", name)
		}
	}
}

func TestGemmKernelsOfThisCPU(t *testing.T) {
	if gemmKernels[len(gemmKernels)-1] != &kernelGeneric {
		t.Fatalf("the generic kernel must always be available, last in %v", gemmKernels)
	}
	if activeGemm != gemmKernels[0] || GemmKernel() != gemmKernels[0].name {
		t.Fatalf("Gemm uses %q, want the fastest supported kernel %q", GemmKernel(), gemmKernels[0].name)
	}
	for _, kern := range gemmKernels {
		if kern.mc%kern.mr != 0 || kern.mc > gemmMaxMC || kern.kc > gemmMaxKC || kern.mr*kern.nr > gemmMaxMRNR {
			t.Errorf("kernel %s: blocking %+v does not fit the scratch buffers", kern.name, *kern)
		}
	}
}

func TestGemmMatchesFloat64Reference(t *testing.T) {
	shapes := [][3]int{
		{1, 1, 1}, {1, 1, 7}, {2, 3, 5}, {7, 11, 13}, {4, 4, 4}, {5, 4, 3},
		{17, 1, 300}, {1, 19, 300}, {300, 3, 2}, {3, 300, 2}, {130, 70, 259},
		{67, 261, 31}, {64, 64, 64}, {101, 97, 513}, {6, 5, 0}, {0, 5, 3}, {5, 0, 3},
		{12, 32, 1}, {13, 33, 257}, {6, 16, 4}, {24, 64, 9}, {1, 541, 263},
	}
	scalars := [][2]float32{{1, 0}, {1, 1}, {0.5, -1.5}, {-2, 0.25}, {0, 2}}
	var cases []gemmCase
	for si, s := range shapes {
		for _, ab := range scalars {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					cases = append(cases, gemmCase{tA, tB, s[0], s[1], s[2], ab[0], ab[1], si % 3})
				}
			}
		}
	}
	// Several tiles and k chunks for every kernel, both operand layouts.
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			cases = append(cases, gemmCase{tA, tB, 203, 541, 263, 0.5, -1.5, 1}, gemmCase{tA, tB, 389, 67, 521, 1, 0, 0})
		}
	}
	type prepared struct {
		a, b, c      []float32
		lda, ldb, ld int
		want         []float64
	}
	inputs := make([]prepared, len(cases))
	for ci, tc := range cases {
		a, lda, b, ldb, c, ldc := tc.operands(uint64(ci))
		want := naiveGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		inputs[ci] = prepared{a, b, c, lda, ldb, ldc, want}
	}
	withEachGemmKernel(t, func(t *testing.T, kern *gemmKernel) {
		for ci, tc := range cases {
			in := inputs[ci]
			c := append([]float32(nil), in.c...)
			ldc := in.ld
			Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, in.a, in.lda, in.b, in.ldb, tc.beta, c, ldc)
			tol := 1e-5 * float64(tc.k+2) * math.Max(1, math.Abs(float64(tc.alpha)))
			for i := range tc.m {
				for j := range ldc {
					got := c[i*ldc+j]
					if j >= tc.n {
						if got != in.c[i*ldc+j] {
							t.Fatalf("%s %v: padding C[%d,%d] changed from %v to %v", kern.name, tc, i, j, in.c[i*ldc+j], got)
						}
						continue
					}
					if d := math.Abs(float64(got) - in.want[i*tc.n+j]); d > tol {
						t.Fatalf("%s %v: C[%d,%d] = %v, want %v (|diff| %g > %g)", kern.name, tc, i, j, got, in.want[i*tc.n+j], d, tol)
					}
				}
			}
		}
	})
}

// Every kernel computes each element with the same operations wherever it sits:
// a product equals, bit for bit, the same product computed one row or one column at
// a time (which changes the tiles, edge blocks and register blocks).
func TestGemmElementsIndependentOfBlocking(t *testing.T) {
	const m, n, k = 37, 75, 300
	a := randomSlice(7, "a", m*k)
	b := randomSlice(7, "b", k*n)
	c0 := randomSlice(7, "c", m*n)
	withEachGemmKernel(t, func(t *testing.T, kern *gemmKernel) {
		whole := append([]float32(nil), c0...)
		Gemm(false, false, m, n, k, 0.75, a, k, b, n, 0.5, whole, n)
		byRow := append([]float32(nil), c0...)
		for i := range m {
			Gemm(false, false, 1, n, k, 0.75, a[i*k:], k, b, n, 0.5, byRow[i*n:], n)
		}
		byCol := append([]float32(nil), c0...)
		for j := range n {
			Gemm(false, false, m, 1, k, 0.75, a, k, b[j:], n, 0.5, byCol[j:], n)
		}
		for e := range whole {
			if math.Float32bits(whole[e]) != math.Float32bits(byRow[e]) || math.Float32bits(whole[e]) != math.Float32bits(byCol[e]) {
				t.Fatalf("%s: element %d: whole %v, by row %v, by column %v", kern.name, e, whole[e], byRow[e], byCol[e])
			}
		}
	})
}

func TestGemmHandComputed(t *testing.T) {
	withEachGemmKernel(t, testGemmHandComputed)
}

func testGemmHandComputed(t *testing.T, kern *gemmKernel) {
	// [1 2 3; 4 5 6] * [1 0; 0 1; 1 1] = [4 5; 10 11]
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1, 1, 1}
	c := []float32{1, 1, 1, 1}
	Gemm(false, false, 2, 2, 3, 2, a, 3, b, 2, -1, c, 2)
	want := []float32{7, 9, 19, 21}
	for i := range want {
		if c[i] != want[i] {
			t.Fatalf("%s: C = %v, want %v", kern.name, c, want)
		}
	}
	// A^T with A stored 3×2: [1 4; 2 5; 3 6]; op(A) = [1 2 3; 4 5 6].
	at := []float32{1, 4, 2, 5, 3, 6}
	bt := []float32{1, 0, 1, 0, 1, 1} // op(B) = B^T of the 2×3 matrix above
	c2 := make([]float32, 4)
	Gemm(true, true, 2, 2, 3, 1, at, 2, bt, 3, 0, c2, 2)
	for i, w := range []float32{4, 5, 10, 11} {
		if c2[i] != w {
			t.Fatalf("%s: transposed C = %v, want [4 5 10 11]", kern.name, c2)
		}
	}
}

func TestGemmBetaZeroIgnoresNaN(t *testing.T) {
	withEachGemmKernel(t, testGemmBetaZeroIgnoresNaN)
}

func testGemmBetaZeroIgnoresNaN(t *testing.T, kern *gemmKernel) {
	a := []float32{1, 2}
	b := []float32{3, 4}
	c := []float32{float32(math.NaN())}
	Gemm(false, false, 1, 1, 2, 1, a, 2, b, 1, 0, c, 1)
	if c[0] != 11 {
		t.Fatalf("%s: C = %v, want 11 (beta=0 must overwrite NaN)", kern.name, c[0])
	}
	c[0] = float32(math.Inf(1))
	Gemm(false, false, 1, 1, 0, 1, a, 2, b, 1, 0, c, 1)
	if c[0] != 0 {
		t.Fatalf("%s: k=0, beta=0: C = %v, want 0", kern.name, c[0])
	}
}

func TestGemmDeterministicAcrossGOMAXPROCS(t *testing.T) {
	withEachGemmKernel(t, testGemmDeterministicAcrossGOMAXPROCS)
}

func testGemmDeterministicAcrossGOMAXPROCS(t *testing.T, kern *gemmKernel) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for ci, tc := range []gemmCase{
		{false, false, 200, 300, 517, 1, 0, 0},
		{true, false, 97, 410, 300, 0.5, 1, 1},
		{false, true, 3, 900, 700, 1, 0.5, 0},
		{true, true, 333, 65, 129, -1, 0, 2},
	} {
		a, lda, b, ldb, c0, ldc := tc.operands(uint64(100 + ci))
		var results [][]float32
		for _, procs := range []int{1, 2, 3, 8} {
			runtime.GOMAXPROCS(procs)
			c := append([]float32(nil), c0...)
			Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			results = append(results, c)
		}
		for r := 1; r < len(results); r++ {
			for i := range results[0] {
				if math.Float32bits(results[r][i]) != math.Float32bits(results[0][i]) {
					t.Fatalf("%s %v: element %d differs between GOMAXPROCS settings: %v vs %v", kern.name, tc, i, results[r][i], results[0][i])
				}
			}
		}
	}
}

func TestGemmDoesNotAllocate(t *testing.T) {
	withEachGemmKernel(t, testGemmDoesNotAllocate)
}

func testGemmDoesNotAllocate(t *testing.T, kern *gemmKernel) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	for _, size := range []int{8, 256} {
		a := randomSlice(1, "a", size*size)
		b := randomSlice(1, "b", size*size)
		c := make([]float32, size*size)
		Gemm(false, false, size, size, size, 1, a, size, b, size, 0, c, size) // warm-up
		allocs := testing.AllocsPerRun(20, func() {
			Gemm(false, true, size, size, size, 1, a, size, b, size, 0, c, size)
		})
		if allocs > 0.1 {
			t.Errorf("%s: Gemm %d³ allocates %.2f times per call, want 0", kern.name, size, allocs)
		}
	}
}

func TestGemmPanicsOnBadArguments(t *testing.T) {
	tests := []struct {
		name string
		call func()
	}{
		{"negative m", func() { Gemm(false, false, -1, 1, 1, 1, nil, 1, nil, 1, 0, nil, 1) }},
		{"short a", func() {
			Gemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"short c", func() {
			Gemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}},
		{"small lda", func() {
			Gemm(true, false, 3, 2, 2, 1, make([]float32, 6), 2, make([]float32, 4), 2, 0, make([]float32, 6), 2)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, ok := r.(string)
				if !ok || len(msg) < 7 || msg[:7] != "tensor:" {
					t.Fatalf("recovered %v, want a panic message starting with \"tensor:\"", r)
				}
			}()
			tc.call()
		})
	}
}

// GonumGemm (the benchmark baseline) agrees with the float64 reference too.
func TestGonumGemmMatchesFloat64Reference(t *testing.T) {
	for ci, tc := range []gemmCase{
		{false, false, 7, 11, 13, 1, 0, 0}, {true, true, 9, 5, 17, 0.5, -1, 1},
		{false, true, 1, 1, 1, 2, 1, 2}, {true, false, 3, 4, 0, 1, 0.5, 0},
	} {
		a, lda, b, ldb, c, ldc := tc.operands(uint64(200 + ci))
		want := naiveGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		GonumGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		for i := range tc.m {
			for j := range tc.n {
				if d := math.Abs(float64(c[i*ldc+j]) - want[i*tc.n+j]); d > 1e-5*float64(tc.k+2) {
					t.Fatalf("%v: C[%d,%d] = %v, want %v", tc, i, j, c[i*ldc+j], want[i*tc.n+j])
				}
			}
		}
	}
}

// packInterleaved (8×8 transposes where available, then four and single lines)
// writes dst[p*w+r] = line r's element p and zeroes the lines past valid.
func TestPackInterleaved(t *testing.T) {
	defer func(v bool) { vecAVX2 = v }(vecAVX2)
	for _, vector := range []bool{false, true} {
		vecAVX2 = vector && vecAVX2Supported()
		for _, tc := range []struct{ w, valid, kc, ld int }{
			{32, 32, 256, 300}, {32, 29, 17, 40}, {12, 12, 9, 9}, {12, 7, 64, 70}, {16, 16, 8, 8},
			{6, 6, 33, 33}, {4, 3, 5, 7}, {32, 8, 7, 7}, {12, 11, 1, 1},
		} {
			src := randomSlice(uint64(tc.w*1000+tc.kc), "pack", (tc.valid-1)*tc.ld+tc.kc+3)
			dst := randomSlice(5, "dst", tc.w*tc.kc)
			packInterleaved(dst, tc.w, src, tc.ld, 3, tc.valid, tc.kc)
			for p := range tc.kc {
				for r := range tc.w {
					want := float32(0)
					if r < tc.valid {
						want = src[3+r*tc.ld+p]
					}
					if got := dst[p*tc.w+r]; got != want {
						t.Fatalf("vector=%v %+v: dst[%d*w+%d] = %v, want %v", vecAVX2, tc, p, r, got, want)
					}
				}
			}
		}
	}
}
