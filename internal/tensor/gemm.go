package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Blocking parameters of Gemm. A C tile of at most gemmTileRows x gemmTileCols is one
// unit of parallel work; the k dimension is consumed in chunks of gemmKC so the packed
// panels stay in cache. The micro-kernel computes gemmMR x gemmNR outputs at a time.
const (
	gemmMR       = 2
	gemmNR       = 4
	gemmKC       = 256
	gemmTileRows = 64
	gemmTileCols = 256

	// Products with fewer multiply-adds than this run on the calling goroutine only.
	gemmSerialWork = 48 * 48 * 48
)

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where op(X) is X
// or its transpose. op(A) is m×k and op(B) is k×n; A is stored m×k (k×m when transA)
// with leading dimension lda, B is stored k×n (n×k when transB) with leading dimension
// ldb, and C is m×n with leading dimension ldc.
//
// When beta is zero C is overwritten without being read (NaN or Inf in C do not
// propagate), as in BLAS. When k is zero or alpha is zero only the beta scaling is
// applied.
//
// The work is split into fixed tiles of C that are shared among up to GOMAXPROCS
// goroutines. Every element of C is reduced over k in the same fixed order whichever
// goroutine computes it, so results are bit-identical for any GOMAXPROCS. In steady
// state Gemm does not allocate: packing buffers and job records are recycled and the
// helper goroutines are persistent.
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
	job := gemmJobs.get()
	job.transA, job.transB = transA, transB
	job.m, job.n, job.k = m, n, k
	job.alpha, job.beta = alpha, beta
	job.a, job.lda, job.b, job.ldb, job.c, job.ldc = a, lda, b, ldb, c, ldc
	job.tileRows, job.tileCols = gemmTileSizes(m, n)
	job.rowTiles = (m + job.tileRows - 1) / job.tileRows
	job.colTiles = (n + job.tileCols - 1) / job.tileCols
	tiles := job.rowTiles * job.colTiles
	job.next.Store(0)

	helpers := 0
	if m*n*k >= gemmSerialWork {
		helpers = min(runtime.GOMAXPROCS(0)-1, tiles-1)
	}
	if helpers > 0 {
		workers.ensure(helpers)
		job.wg.Add(helpers)
		for range helpers {
			workers.jobs <- job
		}
	}
	job.run()
	job.wg.Wait()
	job.a, job.b, job.c = nil, nil, nil
	gemmJobs.put(job)
}

// gemmTileSizes returns the tile shape for an m×n product. It depends only on m and n,
// so the partition of C is fixed whatever the number of goroutines.
func gemmTileSizes(m, n int) (rows, cols int) {
	rows = gemmTileRows
	cols = gemmTileCols
	// Skinny products: use narrower tiles along the long side so both cores get work.
	if m <= gemmTileRows && n > 64 {
		cols = max(64, min(gemmTileCols, roundUp((n+3)/4, gemmNR)))
	}
	if n <= gemmTileCols && m > 16 {
		rows = max(16, min(gemmTileRows, roundUp((m+3)/4, gemmMR)))
	}
	return rows, cols
}

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

// gemmJob is one Gemm call shared by the caller and its helpers. Tiles are claimed
// through an atomic counter; which goroutine computes a tile does not change its value.
type gemmJob struct {
	transA, transB     bool
	m, n, k            int
	alpha, beta        float32
	a, b, c            []float32
	lda, ldb, ldc      int
	tileRows, tileCols int
	rowTiles, colTiles int
	next               atomic.Int64
	wg                 sync.WaitGroup
}

var gemmJobs freeList[gemmJob]

// gemmScratch holds the packed panels of one goroutine working on one tile.
type gemmScratch struct {
	a [gemmTileRows * gemmKC]float32
	b [gemmTileCols * gemmKC]float32
	c [gemmMR * gemmNR]float32
}

var gemmScratches freeList[gemmScratch]

// freeList recycles records and scratch buffers. Unlike sync.Pool it never drops
// items (not at garbage collection, not under the race detector), so after warm-up
// it holds one item per goroutine that ever needed one at the same time and Gemm
// does not allocate.
type freeList[T any] struct {
	mu    sync.Mutex
	items []*T
}

func (f *freeList[T]) get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.items); n > 0 {
		it := f.items[n-1]
		f.items = f.items[:n-1]
		return it
	}
	return new(T)
}

func (f *freeList[T]) put(it *T) {
	f.mu.Lock()
	f.items = append(f.items, it)
	f.mu.Unlock()
}

// workerPool is a set of persistent goroutines that help with large Gemm calls. It grows
// to GOMAXPROCS-1 goroutines and never shrinks; idle helpers block on a channel.
type workerPool struct {
	mu    sync.Mutex
	count int
	jobs  chan *gemmJob
}

var workers = workerPool{jobs: make(chan *gemmJob, 64)}

func (p *workerPool) ensure(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.count < n {
		p.count++
		go func() {
			for job := range p.jobs {
				job.run()
				job.wg.Done()
			}
		}()
	}
}

func (j *gemmJob) run() {
	s := gemmScratches.get()
	tiles := int64(j.rowTiles * j.colTiles)
	for {
		t := j.next.Add(1) - 1
		if t >= tiles {
			break
		}
		rt, ct := int(t)/j.colTiles, int(t)%j.colTiles
		i0 := rt * j.tileRows
		j0 := ct * j.tileCols
		j.tile(s, i0, min(i0+j.tileRows, j.m), j0, min(j0+j.tileCols, j.n))
	}
	gemmScratches.put(s)
}

// tile computes C[i0:i1, j0:j1].
func (j *gemmJob) tile(s *gemmScratch, i0, i1, j0, j1 int) {
	scaleMatrix(j.beta, j.c, j.ldc, i0, i1, j0, j1)
	rows, cols := i1-i0, j1-j0
	rowPanels := (rows + gemmMR - 1) / gemmMR
	colPanels := (cols + gemmNR - 1) / gemmNR
	for p0 := 0; p0 < j.k; p0 += gemmKC {
		kc := min(gemmKC, j.k-p0)
		packA(s.a[:rowPanels*gemmMR*kc], j.transA, j.a, j.lda, i0, i1, p0, kc)
		packB(s.b[:colPanels*gemmNR*kc], j.transB, j.b, j.ldb, j0, j1, p0, kc)
		for cp := range colPanels {
			bp := s.b[cp*gemmNR*kc : (cp+1)*gemmNR*kc]
			cj := j0 + cp*gemmNR
			nr := min(gemmNR, j1-cj)
			for rp := range rowPanels {
				ap := s.a[rp*gemmMR*kc : (rp+1)*gemmMR*kc]
				ci := i0 + rp*gemmMR
				mr := min(gemmMR, i1-ci)
				if mr == gemmMR && nr == gemmNR {
					kernel2x4(kc, j.alpha, ap, bp, j.c[ci*j.ldc+cj:], j.ldc)
					continue
				}
				// Edge panel: compute into scratch, then add the valid part.
				tmp := s.c[:]
				clear(tmp)
				kernel2x4(kc, j.alpha, ap, bp, tmp, gemmNR)
				for r := range mr {
					crow := j.c[(ci+r)*j.ldc+cj : (ci+r)*j.ldc+cj+nr]
					for q := range crow {
						crow[q] += tmp[r*gemmNR+q]
					}
				}
			}
		}
	}
}

// packA stores op(A)[i0:i1, p0:p0+kc] as consecutive panels of gemmMR rows, each panel
// laid out column by column (gemmMR values per k step), zero-padded past i1.
func packA(dst []float32, trans bool, a []float32, lda, i0, i1, p0, kc int) {
	for pi := 0; pi*gemmMR < i1-i0; pi++ {
		panel := dst[pi*gemmMR*kc : (pi+1)*gemmMR*kc]
		base := i0 + pi*gemmMR
		for r := range gemmMR {
			i := base + r
			if i >= i1 {
				for p := range kc {
					panel[p*gemmMR+r] = 0
				}
				continue
			}
			if trans {
				for p := range kc {
					panel[p*gemmMR+r] = a[(p0+p)*lda+i]
				}
			} else {
				row := a[i*lda+p0 : i*lda+p0+kc]
				for p, v := range row {
					panel[p*gemmMR+r] = v
				}
			}
		}
	}
}

// packB stores op(B)[p0:p0+kc, j0:j1] as consecutive panels of gemmNR columns, each
// panel laid out row by row (gemmNR values per k step), zero-padded past j1.
func packB(dst []float32, trans bool, b []float32, ldb, j0, j1, p0, kc int) {
	for pj := 0; pj*gemmNR < j1-j0; pj++ {
		panel := dst[pj*gemmNR*kc : (pj+1)*gemmNR*kc]
		base := j0 + pj*gemmNR
		for q := range gemmNR {
			jj := base + q
			if jj >= j1 {
				for p := range kc {
					panel[p*gemmNR+q] = 0
				}
				continue
			}
			if trans {
				col := b[jj*ldb+p0 : jj*ldb+p0+kc]
				for p, v := range col {
					panel[p*gemmNR+q] = v
				}
			} else {
				for p := range kc {
					panel[p*gemmNR+q] = b[(p0+p)*ldb+jj]
				}
			}
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
