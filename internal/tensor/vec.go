package tensor

import (
	"math"
	"runtime"

	"github.com/evomerge/evomerge/internal/par"
)

// Vector kernels for merging: weighted sums, task-vector sums, dot products and
// Gram matrices. Large calls are split into fixed blocks of vecBlock elements
// shared among up to GOMAXPROCS goroutines; elementwise kernels give the same
// bits whoever computes a block, and reductions keep one float64 partial per
// block and add the partials in block order, so every result is bit-identical
// for any GOMAXPROCS. Calls below vecParallelMin elements run on the calling
// goroutine. No kernel allocates in steady state.
const (
	vecBlock       = 1 << 14
	vecParallelMin = 4 * vecBlock
	// maxGramModels bounds the number of vectors of one Gram call.
	maxGramModels = 64
)

type vecKind uint8

const (
	vecWeightedSum vecKind = iota
	vecTaskSum
	vecGram
	vecDisjoint
	vecForEach
)

// vecJob is one parallel vector kernel call: a par.Task over elements in chunks
// of vecBlock (over items, one per chunk, for ForEach).
type vecJob struct {
	kind    vecKind
	n       int
	dst     []float32
	base    []float32
	xs      [][]float32
	w       []float32
	partial []float64 // vecGram: per block, m*m partial sums
	m       int
	mean    bool
	body    Runner
}

var vecJobs par.FreeList[vecJob]

// start runs j over all its blocks (items for ForEach) with whatever helpers
// are free and returns when every block is done.
func (j *vecJob) start() {
	if j.kind == vecForEach {
		par.Range(j, j.n, 1)
		return
	}
	if j.n < vecParallelMin {
		par.Serial(j, j.n, vecBlock)
		return
	}
	par.Range(j, j.n, vecBlock)
}

// RunRange runs the blocks (ForEach items) in [lo, hi); lo is a multiple of
// vecBlock (par.Task).
func (j *vecJob) RunRange(lo, hi int) {
	if j.kind == vecForEach {
		for i := lo; i < hi; i++ {
			j.body.Run(i)
		}
		return
	}
	for ; lo < hi; lo += vecBlock {
		b, end := lo/vecBlock, min(lo+vecBlock, hi)
		switch j.kind {
		case vecWeightedSum:
			weightedSumBlock(j.dst[lo:end], j.w, j.xs, lo)
		case vecTaskSum:
			taskSumBlock(j.dst[lo:end], j.base[lo:end], j.w, j.xs, lo)
		case vecGram:
			gramBlock(j.partial[b*j.m*j.m:(b+1)*j.m*j.m], j.base, j.xs, j.m, lo, end)
		case vecDisjoint:
			disjointBlock(j.dst[lo:end], j.w, j.xs, j.mean, lo)
		}
	}
}

func getVecJob(kind vecKind, n int) *vecJob {
	j := vecJobs.Get()
	j.kind, j.n = kind, n
	return j
}

func putVecJob(j *vecJob) {
	j.dst, j.base, j.xs, j.w, j.body = nil, nil, nil, nil, nil
	vecJobs.Put(j)
}

func checkVecs(n int, xs [][]float32, w []float32, what string) {
	if len(w) != len(xs) {
		panic("tensor: " + what + ": weights and vectors differ in number")
	}
	for _, x := range xs {
		if len(x) != n {
			panic("tensor: " + what + ": vector length differs from dst")
		}
	}
}

// Runner is a body of ForEach.
type Runner interface{ Run(i int) }

// ForEach calls body.Run(i) for every i in [0, n), on up to GOMAXPROCS
// goroutines, and returns when all calls are done. Calls for different i must
// be independent; each i runs exactly once, so results do not depend on the
// number of goroutines. It does not allocate when body is a pointer.
func ForEach(n int, body Runner) {
	if n <= 0 {
		return
	}
	if n == 1 || runtime.GOMAXPROCS(0) == 1 {
		for i := range n {
			body.Run(i)
		}
		return
	}
	j := getVecJob(vecForEach, n)
	j.body = body
	j.start()
	putVecJob(j)
}

// WeightedSum sets dst = Σ_i w[i]·xs[i]. Each output element is accumulated in
// float32 in model order. dst may alias xs[0] but no other input.
func WeightedSum(dst []float32, w []float32, xs [][]float32) {
	checkVecs(len(dst), xs, w, "WeightedSum")
	if len(xs) == 0 {
		clear(dst)
		return
	}
	if len(dst) < vecParallelMin {
		weightedSumBlock(dst, w, xs, 0)
		return
	}
	j := getVecJob(vecWeightedSum, len(dst))
	j.dst, j.w, j.xs = dst, w, xs
	j.start()
	putVecJob(j)
}

// weightedSumBlock computes a block in chunks that stay in L1 while every
// model is added, in model order.
func weightedSumBlock(dst []float32, w []float32, xs [][]float32, off int) {
	const chunk = 2048
	for c0 := 0; c0 < len(dst); c0 += chunk {
		c1 := min(c0+chunk, len(dst))
		d := dst[c0:c1]
		scaleInto(d, xs[0][off+c0:off+c1], w[0])
		for i := 1; i < len(xs); i++ {
			axpy(d, xs[i][off+c0:off+c1], w[i])
		}
	}
}

// TaskSum sets dst = base + Σ_i w[i]·(xs[i] − base): the task-arithmetic sum
// computed on task vectors, so small deltas keep their precision. dst may alias
// base but not xs.
func TaskSum(dst, base []float32, w []float32, xs [][]float32) {
	n := len(dst)
	if len(base) != n {
		panic("tensor: TaskSum: base length differs from dst")
	}
	checkVecs(n, xs, w, "TaskSum")
	if n < vecParallelMin {
		taskSumBlock(dst, base, w, xs, 0)
		return
	}
	j := getVecJob(vecTaskSum, n)
	j.dst, j.base, j.w, j.xs = dst, base, w, xs
	j.start()
	putVecJob(j)
}

func taskSumBlock(dst, base []float32, w []float32, xs [][]float32, off int) {
	n := len(dst)
	const chunk = 2048
	var acc [chunk]float32
	for c0 := 0; c0 < n; c0 += chunk {
		c1 := min(c0+chunk, n)
		a := acc[:c1-c0]
		bs := base[c0:c1]
		clear(a)
		for i, x := range xs {
			axpyDiff(a, x[off+c0:off+c1], bs, w[i])
		}
		addInto(dst[c0:c1], bs, a)
	}
}

// Gram sets g (m×m, row-major, m = len(xs)) to the Gram matrix of the vectors
// v_i = xs[i] − base (xs[i] itself when base is nil): g[i*m+k] = ⟨v_i, v_k⟩,
// accumulated in float64 per fixed block and summed in block order. At most 64
// vectors.
func Gram(g []float64, base []float32, xs [][]float32) {
	m := len(xs)
	if m > maxGramModels {
		panic("tensor: Gram: more than 64 vectors")
	}
	if len(g) != m*m {
		panic("tensor: Gram: g must have len(xs)² elements")
	}
	if m == 0 {
		return
	}
	n := len(xs[0])
	for _, x := range xs {
		if len(x) != n {
			panic("tensor: Gram: vectors differ in length")
		}
	}
	if base != nil && len(base) != n {
		panic("tensor: Gram: base length differs from the vectors")
	}
	clear(g)
	if n < vecParallelMin {
		gramBlock(g, base, xs, m, 0, n)
	} else {
		j := getVecJob(vecGram, n)
		j.base, j.xs, j.m = base, xs, m
		blocks := (n + vecBlock - 1) / vecBlock
		if cap(j.partial) < blocks*m*m {
			j.partial = make([]float64, blocks*m*m)
		}
		j.partial = j.partial[:blocks*m*m]
		clear(j.partial)
		j.start()
		for b := range blocks {
			p := j.partial[b*m*m : (b+1)*m*m]
			for i := range g {
				g[i] += p[i]
			}
		}
		putVecJob(j)
	}
	for i := range m {
		for k := 0; k < i; k++ {
			g[i*m+k] = g[k*m+i]
		}
	}
}

// gramBlock adds the upper triangle of the block [lo,hi) to g.
func gramBlock(g []float64, base []float32, xs [][]float32, m, lo, hi int) {
	const chunk = 256
	var vbuf [maxGramModels][chunk]float64
	for c0 := lo; c0 < hi; c0 += chunk {
		c1 := min(c0+chunk, hi)
		for i := range m {
			v := vbuf[i][:c1-c0]
			x := xs[i][c0:c1]
			if base != nil {
				b := base[c0:c1]
				for e := range v {
					v[e] = float64(x[e]) - float64(b[e])
				}
			} else {
				for e := range v {
					v[e] = float64(x[e])
				}
			}
		}
		for i := range m {
			vi := vbuf[i][:c1-c0]
			for k := i; k < m; k++ {
				vk := vbuf[k][:c1-c0]
				var s float64
				for e := range vi {
					s += vi[e] * vk[e]
				}
				g[i*m+k] += s
			}
		}
	}
}

// Dot returns ⟨x, y⟩ accumulated in float64 in fixed blocks.
func Dot(x, y []float32) float64 {
	if len(x) != len(y) {
		panic("tensor: Dot: lengths differ")
	}
	var total float64
	for lo := 0; lo < len(x); lo += vecBlock {
		hi := min(lo+vecBlock, len(x))
		var s float64
		xs, ys := x[lo:hi], y[lo:hi]
		for e := range xs {
			s += float64(xs[e]) * float64(ys[e])
		}
		total += s
	}
	return total
}

// Norm returns the Euclidean norm of x, accumulated in float64.
func Norm(x []float32) float64 { return math.Sqrt(Dot(x, x)) }

// Axpy sets dst += a·x.
func Axpy(dst []float32, a float32, x []float32) {
	if len(x) != len(dst) {
		panic("tensor: Axpy: lengths differ")
	}
	axpy(dst, x, a)
}

// Scale sets dst *= a.
func Scale(dst []float32, a float32) { scaleInto(dst, dst, a) }

// Sub sets dst = x − y.
func Sub(dst, x, y []float32) {
	if len(x) != len(dst) || len(y) != len(dst) {
		panic("tensor: Sub: lengths differ")
	}
	subInto(dst, x, y)
}

// AddScaled sets dst = x + a·y.
func AddScaled(dst, x []float32, a float32, y []float32) {
	if len(x) != len(dst) || len(y) != len(dst) {
		panic("tensor: AddScaled: lengths differ")
	}
	for i := range dst {
		dst[i] = x[i] + float32(a*y[i])
	}
}

// AbsInto sets dst = |x|.
func AbsInto(dst, x []float32) {
	if len(x) != len(dst) {
		panic("tensor: AbsInto: lengths differ")
	}
	for i := range dst {
		dst[i] = float32(math.Abs(float64(x[i])))
	}
}

// L1 returns Σ|x|, accumulated in float64.
func L1(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += math.Abs(float64(v))
	}
	return s
}

// ReLU sets dst = max(x, 0) element-wise, as Go's max: NaN stays NaN and −0
// becomes +0. dst may alias x.
func ReLU(dst, x []float32) {
	if len(x) != len(dst) {
		panic("tensor: ReLU: lengths differ")
	}
	for i := reluFast(dst, x); i < len(dst); i++ {
		v := x[i]
		dst[i] = math.Float32frombits(math.Float32bits(v) & -uint32(b2i(!(v <= 0))))
	}
}

// ReLUGrad sets dx = dy where x > 0 and +0 elsewhere (the gradient of ReLU,
// taken as 0 at 0 and for NaN). dx may alias dy.
func ReLUGrad(dx, dy, x []float32) {
	if len(dy) != len(dx) || len(x) != len(dx) {
		panic("tensor: ReLUGrad: lengths differ")
	}
	for i := reluGradFast(dx, dy, x); i < len(dx); i++ {
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & -uint32(b2i(x[i] > 0)))
	}
}
