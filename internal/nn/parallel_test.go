package nn

import (
	"runtime"
	"testing"
)

// countTask records how often each item is visited.
type countTask struct{ visits []int32 }

func (c *countTask) runRange(lo, hi int) {
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
			task := &countTask{visits: make([]int32, tc.n)}
			parallelRange(task, tc.n, tc.grain)
			for i, v := range task.visits {
				if v != 1 {
					t.Fatalf("procs %d, n %d, grain %d: item %d visited %d times", procs, tc.n, tc.grain, i, v)
				}
			}
		}
	}
}
