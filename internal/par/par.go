// Package par runs range-parallel kernels on one shared pool of persistent
// helper goroutines. It is what the tensor and model-layer kernels and the
// Monte Carlo hypervolume use to spread work
// over the cores; it needs only the standard library.
//
// The contract of Range:
//
//   - Deterministic chunking by a fixed grain. Range(task, n, grain) splits
//     [0, n) into the chunks [c·grain, min((c+1)·grain, n)) for c = 0, 1, …
//     and calls task.RunRange exactly once per chunk. The chunks depend on n
//     and grain alone, never on GOMAXPROCS, on how many helpers join or on
//     timing; only which goroutine runs a chunk, and when, varies.
//   - Results independent of GOMAXPROCS. A task that writes only outputs owned
//     by its chunk (a reduction keeps one partial per chunk and combines the
//     partials in chunk order after Range returns) therefore gives bit-identical
//     results for any GOMAXPROCS, including 1.
//   - The caller participates. It claims chunks like any helper and returns
//     once every chunk has finished. It waits only for helpers that actually
//     joined its call, never for one that is busy elsewhere, so Range may be
//     called from many goroutines at once and from inside a task (a nested
//     kernel) without deadlock: when every helper is busy the caller simply
//     runs all the chunks itself.
//   - Helpers grow to GOMAXPROCS−1 and park. Helper goroutines are started on
//     demand, up to the largest GOMAXPROCS−1 ever wanted, and never exit; idle
//     ones are parked on a channel and cost nothing.
//   - No allocation in steady state. Call records are recycled through a
//     FreeList (which, unlike sync.Pool, never drops items, not even under the
//     race detector) and helpers are offered work by non-blocking sends of a
//     pointer, so after warm-up Range does not allocate.
//
// Tasks must not panic: a panic on a helper goroutine ends the program.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Task is a kernel over the items [lo, hi) of a range. RunRange is called
// concurrently for disjoint chunks, so an implementation may write only the
// outputs that belong to its items.
type Task interface {
	RunRange(lo, hi int)
}

// Range runs task over [0, n) in chunks of grain items (a grain below 1 counts
// as 1), shared among the calling goroutine and up to GOMAXPROCS−1 helpers, and
// returns when every chunk is done. See the package comment for the contract.
func Range(task Task, n, grain int) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n-1)/grain + 1
	helpers := min(runtime.GOMAXPROCS(0)-1, chunks-1)
	if helpers <= 0 {
		Serial(task, n, grain)
		return
	}
	j := jobs.Get()
	if j.done == nil {
		j.done = make(chan struct{}, 1)
	}
	j.task, j.n, j.grain, j.chunks = task, n, grain, int64(chunks)
	j.next.Store(0)
	j.state.Store(0) // open: from here helpers may join
	pool.ensure(helpers)
offer:
	for range helpers {
		select {
		case pool.offers <- j:
		default: // every helper is busy and the queue is full: go on without them
			break offer
		}
	}
	j.run()
	// Every chunk is claimed. Close the call and wait for the helpers inside
	// to finish their last chunk; late helpers find it closed and leave.
	if j.state.Or(closed) != 0 {
		<-j.done
	}
	j.task = nil
	jobs.Put(j)
}

// Serial runs task over the same chunks as Range, in increasing order, on the
// calling goroutine only: for calls too small to be worth sharing.
func Serial(task Task, n, grain int) {
	grain = max(grain, 1)
	for lo := 0; lo < n; lo += grain {
		task.RunRange(lo, lo+min(grain, n-lo))
	}
}

// closed marks a call no helper may join any more; the bits above it count the
// helpers inside the call.
const closed = 1

// job is one Range call shared by the caller and the helpers that join it.
type job struct {
	task     Task
	n, grain int
	chunks   int64
	next     atomic.Int64  // next unclaimed chunk
	state    atomic.Int64  // closed bit | 2 × helpers inside
	done     chan struct{} // the last helper to leave a closed call signals here
}

// jobs recycles call records. Once a record is back here its state stays
// closed, so a stale offer still queued for it is dropped.
var jobs FreeList[job]

// run claims chunks until none is left.
func (j *job) run() {
	for {
		c := j.next.Add(1) - 1
		if c >= j.chunks {
			return
		}
		lo := int(c) * j.grain
		j.task.RunRange(lo, lo+min(j.grain, j.n-lo))
	}
}

// join enters j unless it is closed.
func (j *job) join() bool {
	for {
		s := j.state.Load()
		if s&closed != 0 {
			return false
		}
		if j.state.CompareAndSwap(s, s+2) {
			return true
		}
	}
}

// leave exits j; the last helper out of a closed call wakes the caller.
func (j *job) leave() {
	if j.state.Add(-2) == closed {
		j.done <- struct{}{}
	}
}

// workerPool is the set of persistent helpers.
type workerPool struct {
	mu      sync.Mutex
	started atomic.Int64
	offers  chan *job
}

var pool = workerPool{offers: make(chan *job, 128)}

// ensure starts helpers until there are at least n.
func (p *workerPool) ensure(n int) {
	if p.started.Load() >= int64(n) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.started.Load() < int64(n) {
		p.started.Add(1)
		go p.help()
	}
}

func (p *workerPool) help() {
	for j := range p.offers {
		if j.join() {
			j.run()
			j.leave()
		}
	}
}

// FreeList recycles values of type T. Unlike sync.Pool it never drops items
// (not at garbage collection, not under the race detector), so after warm-up it
// holds as many items as were ever in use at once and Get does not allocate.
// The zero FreeList is empty and ready to use; it is safe for concurrent use.
type FreeList[T any] struct {
	mu    sync.Mutex
	items []*T
}

// Get returns a recycled item, or a new zero T when none is free.
func (f *FreeList[T]) Get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.items); n > 0 {
		it := f.items[n-1]
		f.items[n-1] = nil
		f.items = f.items[:n-1]
		return it
	}
	return new(T)
}

// Put returns it to the list for a later Get.
func (f *FreeList[T]) Put(it *T) {
	f.mu.Lock()
	f.items = append(f.items, it)
	f.mu.Unlock()
}
