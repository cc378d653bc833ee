package layers

import (
	"fmt"
	"runtime"
	"testing"
)

// countTask records how often each item is visited and the bounds of every
// chunk, by chunk index.
type countTask struct {
	grain  int
	visits []int32
	bounds [][2]int
}

func (c *countTask) runRange(lo, hi int) {
	c.bounds[lo/c.grain] = [2]int{lo, hi}
	for i := lo; i < hi; i++ {
		c.visits[i]++ // ranges are disjoint, so no two goroutines touch the same item
	}
}

func TestParallelRangeVisitsEveryItemOnce(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		for _, tc := range []struct{ n, grain int }{{0, 4}, {1, 4}, {7, 1}, {100, 7}, {4096, 64}, {5, 0}} {
			g := max(tc.grain, 1)
			task := &countTask{grain: g, visits: make([]int32, tc.n), bounds: make([][2]int, (tc.n+g-1)/g)}
			parallelRange(task, tc.n, tc.grain)
			for i, v := range task.visits {
				if v != 1 {
					t.Fatalf("procs %d, n %d, grain %d: item %d visited %d times", procs, tc.n, tc.grain, i, v)
				}
			}
			for c, b := range task.bounds {
				if want := [2]int{c * g, min((c+1)*g, tc.n)}; b != want {
					t.Fatalf("procs %d, n %d, grain %d: chunk %d = %v, want %v", procs, tc.n, tc.grain, c, b, want)
				}
			}
		}
	}
}

func TestParallelRangeDoesNotAllocate(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	task := &countTask{grain: 8, visits: make([]int32, 1000), bounds: make([][2]int, 125)}
	parallelRange(task, 1000, 8)
	if a := testing.AllocsPerRun(50, func() { parallelRange(task, 1000, 8) }); a != 0 {
		t.Errorf("parallelRange allocates %v times per call", a)
	}
}

type noopTask struct{}

func (noopTask) runRange(lo, hi int) {}

// BenchmarkParallelRange measures the cost of one call with trivial chunks.
func BenchmarkParallelRange(b *testing.B) {
	for _, chunks := range []int{2, 16, 256} {
		b.Run(fmt.Sprintf("chunks=%d", chunks), func(b *testing.B) {
			for b.Loop() {
				parallelRange(noopTask{}, chunks, 1)
			}
		})
	}
}
