package layers

import "github.com/evomerge/evomerge/internal/par"

// rangeTask is work over the items [lo, hi) of a range. Implementations write only
// outputs that belong to their items, so chunks can run in any order on any goroutine
// and give the same result.
type rangeTask interface {
	runRange(lo, hi int)
}

// parallelRange runs task over [0, n) in the fixed chunks of grain items of
// par.Range, shared among up to GOMAXPROCS goroutines (the caller and the persistent
// helpers of internal/par). Which goroutine runs a chunk does not change the result,
// so the outcome is the same for any GOMAXPROCS. It does not allocate in steady state.
func parallelRange(task rangeTask, n, grain int) {
	if n <= 0 {
		return
	}
	a := rangeAdapters.Get()
	a.task = task
	par.Range(a, n, grain)
	a.task = nil
	rangeAdapters.Put(a)
}

// rangeAdapter presents a rangeTask as a par.Task.
type rangeAdapter struct{ task rangeTask }

func (a *rangeAdapter) RunRange(lo, hi int) { a.task.runRange(lo, hi) }

// rangeAdapters recycles adapters, so parallelRange does not allocate.
var rangeAdapters par.FreeList[rangeAdapter]
