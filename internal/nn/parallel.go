package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// rangeTask is work over the items [lo, hi) of a range. Implementations write only
// outputs that belong to their items, so chunks can run in any order on any goroutine
// and give the same result.
type rangeTask interface {
	runRange(lo, hi int)
}

// parallelRange runs task over [0, n) in fixed chunks of grain items, shared among up
// to GOMAXPROCS goroutines (the caller and persistent helpers). Which goroutine runs a
// chunk does not change the result, so the outcome is the same for any GOMAXPROCS. It
// does not allocate in steady state.
func parallelRange(task rangeTask, n, grain int) {
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	helpers := min(runtime.GOMAXPROCS(0)-1, chunks-1)
	if helpers <= 0 {
		if n > 0 {
			task.runRange(0, n)
		}
		return
	}
	job := rangeJobs.get()
	job.task, job.n, job.grain = task, n, grain
	job.next.Store(0)
	rangeWorkers.ensure(helpers)
	job.wg.Add(helpers)
	for range helpers {
		rangeWorkers.jobs <- job
	}
	job.run()
	job.wg.Wait()
	job.task = nil
	rangeJobs.put(job)
}

type rangeJob struct {
	task     rangeTask
	n, grain int
	next     atomic.Int64
	wg       sync.WaitGroup
}

// rangeJobs recycles job records. Unlike sync.Pool it never drops them (not at
// garbage collection, not under the race detector), so steady-state calls do not
// allocate.
var rangeJobs freeList[rangeJob]

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

func (j *rangeJob) run() {
	for {
		lo := int(j.next.Add(int64(j.grain))) - j.grain
		if lo >= j.n {
			return
		}
		j.task.runRange(lo, min(lo+j.grain, j.n))
	}
}

// rangeWorkerPool holds persistent helper goroutines; it grows to GOMAXPROCS-1 and
// idle helpers stay parked on the channel.
type rangeWorkerPool struct {
	mu    sync.Mutex
	count int
	jobs  chan *rangeJob
}

var rangeWorkers = rangeWorkerPool{jobs: make(chan *rangeJob, 64)}

func (p *rangeWorkerPool) ensure(n int) {
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
