package tensor

import (
	"runtime"

	"github.com/evomerge/evomerge/internal/par"
)

// gemmKernel is one implementation of the register-blocked inner product: a
// micro-kernel that adds alpha times an mr×kc packed panel of op(A) times a
// kc×nr packed panel of op(B) to an mr×nr block of C, plus the blocking that suits
// it. The k dimension is consumed in chunks of kc starting at 0; op(B) is packed
// once and shared, and C is split into tiles of at most mc rows, each computed (and
// its block of op(A) packed) by one goroutine.
type gemmKernel struct {
	name   string
	mr, nr int // register block of C
	kc     int // k chunk: packed panels hold kc steps
	mc     int // most rows of a tile of C (a multiple of mr)
	micro  func(kc int, alpha float32, a, b, c []float32, ldc int)
}

// Scratch sizes cover every kernel's blocking.
const (
	gemmMaxKC   = 256
	gemmMaxMC   = 192
	gemmMaxMRNR = 12 * 32

	// Products with fewer multiply-adds than this run on the calling goroutine only.
	gemmSerialWork = 64 * 64 * 64
)

// kernelGeneric is the portable Go kernel. It keeps eight scalar accumulators,
// which fit the sixteen SSE registers of amd64; wider blocks spill in pure Go.
var kernelGeneric = gemmKernel{name: "generic", mr: 2, nr: 4, kc: 256, mc: 64, micro: kernel2x4}

// gemmKernels lists the kernels the CPU supports, fastest first; activeGemm is
// the one Gemm uses (tests switch it to check every path).
var (
	gemmKernels = supportedGemmKernels()
	activeGemm  = gemmKernels[0]
)

// GemmKernel names the micro-kernel Gemm uses on this CPU: "avx512" (AVX-512F),
// "avx2-fma" (AVX2 with FMA) or "generic" (portable Go). It is chosen once at
// start-up from the CPU features reported by golang.org/x/sys/cpu.
func GemmKernel() string { return activeGemm.name }

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where op(X) is X
// or its transpose. op(A) is m×k and op(B) is k×n; A is stored m×k (k×m when transA)
// with leading dimension lda, B is stored k×n (n×k when transB) with leading dimension
// ldb, and C is m×n with leading dimension ldc.
//
// When beta is zero C is overwritten without being read (NaN or Inf in C do not
// propagate), as in BLAS. When k is zero or alpha is zero only the beta scaling is
// applied.
//
// Method: C is first scaled by beta; then, for each chunk of k (boundaries 0, kc,
// 2kc, ..., with kc = ⌈k/⌈k/256⌉⌉ a function of k alone), every mr×nr block of C receives alpha times the inner product of
// packed panels of op(A) and op(B), accumulated from zero in increasing k. The
// AVX-512 and AVX2 kernels use fused multiply-adds (also for adding alpha times the
// accumulator to C); the generic kernel multiplies and adds separately. Which kernel
// runs depends on the CPU (see GemmKernel), so results may differ in the last bits
// between machines with different vector units, but on one machine they are
// bit-identical from run to run and for any GOMAXPROCS: tiles of C are shared among
// goroutines, yet each element is computed by the same sequence of operations
// whichever tile or goroutine holds it (edge blocks run the same kernel on a copy).
// In steady state Gemm does not allocate: packing buffers and job records are
// recycled and the helper goroutines are persistent.
//
// Gemm panics (with a message prefixed "tensor:") if a dimension is negative, a
// leading dimension is too small, or a slice is too short for the given shape: these
// are programming errors.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(beta, c, ldc, 0, m, 0, n)
		return
	}
	kern := activeGemm
	procs := 1
	if m*n*k >= gemmSerialWork {
		procs = runtime.GOMAXPROCS(0)
	}
	job := gemmJobs.Get()
	job.kern = kern
	job.transA, job.transB = transA, transB
	job.m, job.n, job.k = m, n, k
	job.alpha, job.beta = alpha, beta
	job.a, job.lda, job.b, job.ldb, job.c, job.ldc = a, lda, b, ldb, c, ldc
	job.tileRows, job.tileCols = kern.tileSizes(m, n, procs)
	job.rowTiles = ceilDiv(m, job.tileRows)
	job.colTiles = ceilDiv(n, job.tileCols)
	job.colPanels = ceilDiv(n, kern.nr)
	// Equal k chunks of at most kern.kc (a short last chunk would pay the
	// C update and packing overheads for little work). The boundaries depend
	// only on k.
	job.chunks = ceilDiv(k, kern.kc)
	job.kc = ceilDiv(k, job.chunks)
	// op(B) is packed once for all tiles, a group of k chunks at a time so the
	// buffer stays bounded, then every tile of C consumes that group.
	chunkFloats := job.kc * job.colPanels * kern.nr
	group := max(1, min(job.chunks, gemmPackedBFloats/chunkFloats))
	if need := group * chunkFloats; cap(job.packed) < need {
		job.packed = make([]float32, need)
	}
	packUnitsPerChunk := ceilDiv(job.colPanels, gemmPackGroup)
	for c0 := 0; c0 < job.chunks; c0 += group {
		job.c0, job.c1 = c0, min(c0+group, job.chunks)
		job.phase = gemmPhasePack
		job.runPhase(procs, (job.c1-job.c0)*packUnitsPerChunk)
		job.phase = gemmPhaseCompute
		job.runPhase(procs, job.rowTiles*job.colTiles)
	}
	job.a, job.b, job.c = nil, nil, nil
	gemmJobs.Put(job)
}

// runPhase runs the current phase's units, one unit per chunk, on the caller
// and the shared helpers; with procs == 1 the caller runs them all in one go
// (one scratch block for every tile).
func (j *gemmJob) runPhase(procs, units int) {
	if procs > 1 {
		par.Range(j, units, 1)
	} else {
		j.RunRange(0, units)
	}
}

// tileSizes returns the tile shape for an m×n product shared by up to workers
// goroutines: at most mc rows (the packed block of op(A) stays in L2) and all
// columns, split (rows first, in units of the register block) until there are at
// least two tiles per worker, then evened out. The partition only affects speed: every element of C
// gets the same operations whatever tile holds it.
func (kern *gemmKernel) tileSizes(m, n, workers int) (rows, cols int) {
	rows = min(kern.mc, roundUp(m, kern.mr))
	cols = roundUp(n, kern.nr)
	for workers > 1 && ceilDiv(m, rows)*ceilDiv(n, cols) < 2*workers {
		switch {
		case rows > 2*kern.mr:
			rows = roundUp(rows/2, kern.mr)
		case cols > kern.nr:
			cols = roundUp(cols/2, kern.nr)
		default:
			workers = 1
		}
	}
	rows = roundUp(ceilDiv(m, ceilDiv(m, rows)), kern.mr)
	cols = roundUp(ceilDiv(n, ceilDiv(n, cols)), kern.nr)
	return rows, cols
}

func ceilDiv(x, d int) int { return (x + d - 1) / d }

func roundUp(x, mult int) int { return (x + mult - 1) / mult * mult }

func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic("tensor: Gemm with negative dimension")
	}
	aRows, aCols := m, k
	if transA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	if lda < max(1, aCols) || ldb < max(1, bCols) || ldc < max(1, n) {
		panic("tensor: Gemm leading dimension smaller than the row length")
	}
	if aRows > 0 && aCols > 0 && len(a) < (aRows-1)*lda+aCols {
		panic("tensor: Gemm slice a too short")
	}
	if bRows > 0 && bCols > 0 && len(b) < (bRows-1)*ldb+bCols {
		panic("tensor: Gemm slice b too short")
	}
	if m > 0 && n > 0 && len(c) < (m-1)*ldc+n {
		panic("tensor: Gemm slice c too short")
	}
}

// scaleMatrix sets C[i0:i1, j0:j1] *= beta, writing zeros when beta is zero.
func scaleMatrix(beta float32, c []float32, ldc, i0, i1, j0, j1 int) {
	if beta == 1 {
		return
	}
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemmJob is one Gemm call shared by the caller and its helpers. Each phase is one
// par.Range over its units; which goroutine computes a tile does not change its value.
type gemmJob struct {
	kern               *gemmKernel
	transA, transB     bool
	m, n, k            int
	alpha, beta        float32
	a, b, c            []float32
	lda, ldb, ldc      int
	tileRows, tileCols int
	rowTiles, colTiles int
	colPanels, chunks  int
	kc                 int       // k chunk length (the last chunk may be shorter)
	packed             []float32 // op(B) for chunks [c0, c1), chunk by chunk
	c0, c1             int
	phase              gemmPhase
}

type gemmPhase uint8

const (
	gemmPhasePack    gemmPhase = iota // units: (chunk, group of column panels)
	gemmPhaseCompute                  // units: tiles of C
)

// gemmPackedBFloats bounds the packed op(B) of one Gemm call (16 MiB); larger
// operands are packed and consumed a group of k chunks at a time.
const gemmPackedBFloats = 4 << 20

// gemmPackGroup is the number of column panels one packing unit handles.
const gemmPackGroup = 8

var gemmJobs par.FreeList[gemmJob]

// gemmScratch holds the packed block of op(A) of one goroutine working on one
// tile, and a block of C for edge blocks.
type gemmScratch struct {
	a [gemmMaxMC * gemmMaxKC]float32
	c [gemmMaxMRNR]float32
}

// gemmScratches recycles scratch blocks; after warm-up it holds one per
// goroutine that ever needed one at the same time, so Gemm does not allocate.
var gemmScratches par.FreeList[gemmScratch]

// RunRange runs the units [lo, hi) of the current phase (par.Task).
func (j *gemmJob) RunRange(lo, hi int) {
	var s *gemmScratch
	if j.phase == gemmPhaseCompute {
		s = gemmScratches.Get()
	}
	nr, kcMax := j.kern.nr, j.kc
	for u := lo; u < hi; u++ {
		if j.phase == gemmPhasePack {
			perChunk := ceilDiv(j.colPanels, gemmPackGroup)
			chunk := j.c0 + u/perChunk
			g0 := u % perChunk * gemmPackGroup
			g1 := min(g0+gemmPackGroup, j.colPanels)
			p0 := chunk * kcMax
			kc := min(kcMax, j.k-p0)
			base := (chunk - j.c0) * kcMax * j.colPanels * nr
			dst := j.packed[base+g0*nr*kc : base+g1*nr*kc]
			packB(dst, nr, j.transB, j.b, j.ldb, g0*nr, min(g1*nr, j.n), p0, kc)
			continue
		}
		rt, ct := u/j.colTiles, u%j.colTiles
		i0 := rt * j.tileRows
		j0 := ct * j.tileCols
		j.tile(s, i0, min(i0+j.tileRows, j.m), j0, min(j0+j.tileCols, j.n))
	}
	if s != nil {
		gemmScratches.Put(s)
	}
}

// tile computes the contribution of chunks [c0, c1) of k to C[i0:i1, j0:j1]
// (scaling C by beta first when c0 is the first chunk). j0 is a multiple of nr.
func (j *gemmJob) tile(s *gemmScratch, i0, i1, j0, j1 int) {
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	if j.c0 == 0 {
		scaleMatrix(j.beta, j.c, j.ldc, i0, i1, j0, j1)
	}
	rowPanels := ceilDiv(i1-i0, mr)
	colPanels := ceilDiv(j1-j0, nr)
	c, ldc := j.c, j.ldc
	for chunk := j.c0; chunk < j.c1; chunk++ {
		p0 := chunk * j.kc
		kc := min(j.kc, j.k-p0)
		pa := s.a[:rowPanels*mr*kc]
		packA(pa, mr, j.transA, j.a, j.lda, i0, i1, p0, kc)
		pb := j.packed[(chunk-j.c0)*j.kc*j.colPanels*nr:]
		pb = pb[(j0/nr)*nr*kc : (j0/nr+colPanels)*nr*kc]
		// Each packed panel of B stays in L1 while all panels of A stream past it.
		for cp := range colPanels {
			bp := pb[cp*nr*kc : (cp+1)*nr*kc]
			cj := j0 + cp*nr
			cols := min(nr, j1-cj)
			for rp := range rowPanels {
				ap := pa[rp*mr*kc : (rp+1)*mr*kc]
				ci := i0 + rp*mr
				rows := min(mr, i1-ci)
				if rows == mr && cols == nr {
					kern.micro(kc, j.alpha, ap, bp, c[ci*ldc+cj:], ldc)
					continue
				}
				// Edge block: the same kernel on a copy of the valid part of C.
				tmp := s.c[:mr*nr]
				for r := range mr {
					row := tmp[r*nr : (r+1)*nr]
					if r < rows {
						copy(row, c[(ci+r)*ldc+cj:(ci+r)*ldc+cj+cols])
						clear(row[cols:])
					} else {
						clear(row)
					}
				}
				kern.micro(kc, j.alpha, ap, bp, tmp, nr)
				for r := range rows {
					copy(c[(ci+r)*ldc+cj:(ci+r)*ldc+cj+cols], tmp[r*nr:r*nr+cols])
				}
			}
		}
	}
}

// packA stores op(A)[i0:i1, p0:p0+kc] as consecutive panels of mr rows, each panel
// laid out column by column (mr values per k step), zero-padded past i1.
func packA(dst []float32, mr int, trans bool, a []float32, lda, i0, i1, p0, kc int) {
	for base := i0; base < i1; base += mr {
		panel := dst[(base-i0)*kc : (base-i0+mr)*kc]
		rows := min(mr, i1-base)
		if trans {
			packContiguous(panel, mr, a, lda, p0*lda+base, rows, kc)
		} else {
			packInterleaved(panel, mr, a, lda, base*lda+p0, rows, kc)
		}
	}
}

// packB stores op(B)[p0:p0+kc, j0:j1] as consecutive panels of nr columns, each
// panel laid out row by row (nr values per k step), zero-padded past j1.
func packB(dst []float32, nr int, trans bool, b []float32, ldb, j0, j1, p0, kc int) {
	for base := j0; base < j1; base += nr {
		panel := dst[(base-j0)*kc : (base-j0+nr)*kc]
		cols := min(nr, j1-base)
		if trans {
			packInterleaved(panel, nr, b, ldb, base*ldb+p0, cols, kc)
		} else {
			packContiguous(panel, nr, b, ldb, p0*ldb+base, cols, kc)
		}
	}
}

// packContiguous fills the panel dst (w values per step, kc steps) from kc source
// rows of w contiguous values: step p reads src[off+p*ld : off+p*ld+valid] and
// zero-pads the rest.
func packContiguous(dst []float32, w int, src []float32, ld, off, valid, kc int) {
	for p := range kc {
		d := dst[p*w : (p+1)*w]
		o := off + p*ld
		copy(d, src[o:o+valid])
		clear(d[valid:])
	}
}

// packInterleaved fills the panel dst (w values per step, kc steps) from valid
// source lines of kc contiguous values (line r at src[off+r*ld:]): dst[p*w+r] is
// element p of line r; lines valid..w-1 are zero. Eight lines at a time go
// through 8×8 transposes where the CPU has AVX2; the rest are interleaved four
// lines at a time so each step writes four adjacent values.
func packInterleaved(dst []float32, w int, src []float32, ld, off, valid, kc int) {
	dst = dst[:w*kc]
	r := 0
	for ; r+8 <= valid; r += 8 {
		o := off + r*ld
		done := transposePack8Fast(dst[r:], w, src[o:], ld, kc)
		if done == 0 {
			break
		}
		for q := range 8 {
			line := src[o+q*ld : o+q*ld+kc]
			for p := done; p < kc; p++ {
				dst[p*w+r+q] = line[p]
			}
		}
	}
	for ; r+4 <= valid; r += 4 {
		o := off + r*ld
		s0 := src[o : o+kc]
		s1 := src[o+ld : o+ld+kc][:len(s0)]
		s2 := src[o+2*ld : o+2*ld+kc][:len(s0)]
		s3 := src[o+3*ld : o+3*ld+kc][:len(s0)]
		for p := range s0 {
			q := dst[p*w+r : p*w+r+4 : p*w+r+4]
			q[0], q[1], q[2], q[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; r < valid; r++ {
		o := off + r*ld
		for p, v := range src[o : o+kc] {
			dst[p*w+r] = v
		}
	}
	if valid < w {
		for p := range kc {
			clear(dst[p*w+valid : (p+1)*w])
		}
	}
}

// kernel2x4 adds alpha * (packed A panel) * (packed B panel) to the 2×4 block of C at
// c with leading dimension ldc. The k loop runs in order, so each element's reduction
// order is fixed. Eight accumulators keep the loop within the sixteen SSE registers of
// amd64; wider register blocks spill to the stack and run slower in pure Go.
func kernel2x4(kc int, alpha float32, a, b, c []float32, ldc int) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	a = a[:2*kc]
	b = b[:4*kc]
	// Two k steps per iteration (same order as one at a time) halve the loop overhead.
	p := 0
	for ; p+1 < kc; p += 2 {
		ap := a[2*p : 2*p+4 : 2*p+4]
		bp := b[4*p : 4*p+8 : 4*p+8]
		a0, a1 := ap[0], ap[1]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a0, a1 = ap[2], ap[3]
		b0, b1, b2, b3 = bp[4], bp[5], bp[6], bp[7]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	if p < kc {
		ap := a[2*p : 2*p+2 : 2*p+2]
		bp := b[4*p : 4*p+4 : 4*p+4]
		a0, a1 := ap[0], ap[1]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r0 := c[0:4:4]
	r0[0] += alpha * c00
	r0[1] += alpha * c01
	r0[2] += alpha * c02
	r0[3] += alpha * c03
	r1 := c[ldc : ldc+4 : ldc+4]
	r1[0] += alpha * c10
	r1[1] += alpha * c11
	r1[2] += alpha * c12
	r1[3] += alpha * c13
}
