package par

import (
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// chunkRecorder records the bounds of every RunRange call by chunk index and
// counts visits per item.
type chunkRecorder struct {
	grain  int
	bounds [][2]int // by chunk index; written once per chunk
	visits []int32
	calls  atomic.Int64
}

func newChunkRecorder(n, grain int) *chunkRecorder {
	g := max(grain, 1)
	return &chunkRecorder{grain: g, bounds: make([][2]int, (n+g-1)/g), visits: make([]int32, n)}
}

func (r *chunkRecorder) RunRange(lo, hi int) {
	r.calls.Add(1)
	r.bounds[lo/r.grain] = [2]int{lo, hi}
	for i := lo; i < hi; i++ {
		r.visits[i]++ // chunks are disjoint, so no two goroutines touch one item
	}
}

var rangeCases = []struct{ n, grain int }{{0, 4}, {1, 4}, {7, 1}, {100, 7}, {4096, 64}, {5, 0}, {5, -3}, {1000, 1000}, {1001, 1000}}

// Each chunk [c·grain, min((c+1)·grain, n)) is run exactly once, whatever
// GOMAXPROCS is, and Serial runs the same chunks.
func TestRangeRunsEachFixedChunkOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4, 8} {
		runtime.GOMAXPROCS(procs)
		for _, tc := range rangeCases {
			for _, run := range []struct {
				name string
				f    func(Task, int, int)
			}{{"Range", Range}, {"Serial", Serial}} {
				r := newChunkRecorder(tc.n, tc.grain)
				run.f(r, tc.n, tc.grain)
				for i, v := range r.visits {
					if v != 1 {
						t.Fatalf("%s procs %d n %d grain %d: item %d visited %d times", run.name, procs, tc.n, tc.grain, i, v)
					}
				}
				g := max(tc.grain, 1)
				for c, b := range r.bounds {
					if want := [2]int{c * g, min((c+1)*g, tc.n)}; b != want {
						t.Fatalf("%s procs %d n %d grain %d: chunk %d = %v, want %v", run.name, procs, tc.n, tc.grain, c, b, want)
					}
				}
				if got := r.calls.Load(); got != int64(len(r.bounds)) {
					t.Fatalf("%s procs %d n %d grain %d: %d calls for %d chunks", run.name, procs, tc.n, tc.grain, got, len(r.bounds))
				}
			}
		}
	}
}

// sumTask is a reduction: one float64 partial per chunk, combined in chunk
// order by the caller.
type sumTask struct {
	x       []float64
	grain   int
	partial []float64
}

func (s *sumTask) RunRange(lo, hi int) {
	var acc float64
	for _, v := range s.x[lo:hi] {
		acc += v * v
	}
	s.partial[lo/s.grain] = acc
}

func (s *sumTask) total() float64 {
	var t float64
	for _, p := range s.partial {
		t += p
	}
	return t
}

// GOMAXPROCS 1 and 4 see the same chunk boundaries and give bit-identical
// per-chunk partials and totals.
func TestRangeIdenticalAcrossGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const n, grain = 100_003, 977
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Sin(float64(i)) * math.Exp(float64(i%37)-18) // wide dynamic range: order matters
	}
	var bounds [][][2]int
	var partials [][]float64
	var totals []float64
	for _, procs := range []int{1, 4} {
		runtime.GOMAXPROCS(procs)
		r := newChunkRecorder(n, grain)
		Range(r, n, grain)
		bounds = append(bounds, r.bounds)
		s := &sumTask{x: x, grain: grain, partial: make([]float64, (n+grain-1)/grain)}
		Range(s, n, grain)
		partials = append(partials, s.partial)
		totals = append(totals, s.total())
	}
	if !slices.Equal(bounds[0], bounds[1]) {
		t.Fatal("chunk boundaries differ between GOMAXPROCS 1 and 4")
	}
	for c := range partials[0] {
		if math.Float64bits(partials[0][c]) != math.Float64bits(partials[1][c]) {
			t.Fatalf("chunk %d: partial %v with GOMAXPROCS 1, %v with 4", c, partials[0][c], partials[1][c])
		}
	}
	if math.Float64bits(totals[0]) != math.Float64bits(totals[1]) {
		t.Fatalf("total %v with GOMAXPROCS 1, %v with 4", totals[0], totals[1])
	}
}

// nestedTask calls Range from inside each of its chunks.
type nestedTask struct {
	inner []*chunkRecorder
}

func (t *nestedTask) RunRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		r := t.inner[i]
		Range(r, len(r.visits), 3)
	}
}

// Range called from inside a task completes (the helpers are all busy in the
// outer call) and still runs every inner chunk once; so do calls from many
// goroutines at once.
func TestRangeNestedAndConcurrent(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{2, 4} {
		runtime.GOMAXPROCS(procs)
		var wg sync.WaitGroup
		outers := make([]*nestedTask, 8)
		for g := range outers {
			o := &nestedTask{}
			for i := range 16 {
				o.inner = append(o.inner, newChunkRecorder(50+i, 3))
			}
			outers[g] = o
			wg.Go(func() { Range(o, len(o.inner), 1) })
		}
		wg.Wait()
		for g, o := range outers {
			for i, r := range o.inner {
				for e, v := range r.visits {
					if v != 1 {
						t.Fatalf("procs %d goroutine %d inner %d: item %d visited %d times", procs, g, i, e, v)
					}
				}
			}
		}
	}
}

// After warm-up, Range does not allocate.
func TestRangeDoesNotAllocate(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	s := &sumTask{x: make([]float64, 1<<16), grain: 1 << 10, partial: make([]float64, 1<<6)}
	o := &nestedTask{inner: []*chunkRecorder{newChunkRecorder(300, 3), newChunkRecorder(300, 3)}}
	for range 10 {
		Range(s, len(s.x), s.grain)
		Range(o, len(o.inner), 1)
	}
	if a := testing.AllocsPerRun(100, func() { Range(s, len(s.x), s.grain) }); a != 0 {
		t.Errorf("Range allocates %v times per call", a)
	}
	if a := testing.AllocsPerRun(100, func() { Range(o, len(o.inner), 1) }); a != 0 {
		t.Errorf("nested Range allocates %v times per call", a)
	}
}

func TestFreeListRecycles(t *testing.T) {
	var f FreeList[[4]int]
	a := f.Get()
	a[0] = 7
	f.Put(a)
	if b := f.Get(); b != a || b[0] != 7 {
		t.Fatal("Get did not return the item put back")
	}
	if c := f.Get(); c == a || *c != [4]int{} {
		t.Fatal("Get on an empty list did not return a new zero item")
	}
	f.Put(a)
	if n := testing.AllocsPerRun(100, func() { f.Put(f.Get()) }); n != 0 {
		t.Errorf("Get/Put allocates %v times", n)
	}
}

type noop struct{}

func (noop) RunRange(lo, hi int) {}

func BenchmarkRange(b *testing.B) {
	for _, chunks := range []int{2, 16, 256} {
		b.Run("chunks="+strconv.Itoa(chunks), func(b *testing.B) {
			var t noop
			for b.Loop() {
				Range(t, chunks, 1)
			}
		})
	}
}
