package cmaes

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// fullEngine drives gonum's optimize.CmaEsChol through its optimize.Method
// protocol (Init, then Run with an operations and a results channel) instead
// of optimize.Minimize: Minimize hands samples to concurrent workers that
// know only x, not the sample's index, while the protocol gives every sample
// an ID. Run samples a whole generation sequentially on its goroutine, so the
// samples depend only on Src.
//
// Invariant: between calls, the CmaEsChol goroutine is blocked receiving a
// result, so close can always stop it with a PostIteration.
type fullEngine struct {
	dim, pop int
	cma      *optimize.CmaEsChol
	ops      chan optimize.Task
	results  chan optimize.Task
	done     chan struct{}
	xs       [][]float64
	next     optimize.Operation // what the method sent after the last generation
	started  bool
	closed   bool
}

func newFullEngine(mean []float64, sigma float64, pop int, src rand.Source) *fullEngine {
	dim := len(mean)
	// CmaEsChol samples from N(mean, Σ) with Σ starting at InitCholesky
	// (the identity by default, whatever InitStepSize is): its step size
	// σ never multiplies the samples, it only divides the path and rank-μ
	// updates. So the initial spread is Σ0 = σ0²·I, and InitStepSize is 1,
	// which keeps σ dimensionless: with σ0 also passed as InitStepSize the
	// updates change with the scale of the coordinates (a small σ0 then
	// stalls; TestFullEngineScaleInvariant).
	diag := mat.NewDiagDense(dim, nil)
	for i := 0; i < dim; i++ {
		diag.SetDiag(i, sigma*sigma)
	}
	var chol mat.Cholesky
	if !chol.Factorize(diag) {
		panic("cmaes: σ0²·I is not positive definite")
	}
	cma := &optimize.CmaEsChol{InitStepSize: 1, InitCholesky: &chol, Population: pop, Src: src, ForgetBest: true}
	n := cma.Init(dim, pop) // one task per sample of a generation
	e := &fullEngine{dim: dim, pop: n, cma: cma,
		ops: make(chan optimize.Task), results: make(chan optimize.Task), done: make(chan struct{})}
	tasks := make([]optimize.Task, n)
	for i := range tasks {
		// tasks[0].X is the initial mean.
		tasks[i].Location = &optimize.Location{X: append([]float64(nil), mean...)}
	}
	e.xs = make([][]float64, n)
	for i := range e.xs {
		e.xs[i] = make([]float64, dim)
	}
	go func() {
		defer close(e.done)
		cma.Run(e.ops, e.results, tasks)
	}()
	return e
}

func (e *fullEngine) popSize() int { return e.pop }

// ask returns the next generation's samples, indexed by task ID.
func (e *fullEngine) ask() [][]float64 {
	if e.started {
		// Reply to the MajorIteration the method sent after the last
		// generation; it then samples the next one.
		e.results <- optimize.Task{Op: optimize.MajorIteration}
	}
	e.started = true
	for k := 0; k < e.pop; k++ {
		t := <-e.ops
		if t.Op != optimize.FuncEvaluation {
			panic("cmaes: CmaEsChol sent " + t.Op.String() + " while sampling")
		}
		copy(e.xs[t.ID], t.X)
	}
	return e.xs
}

// tell returns the costs by task ID and reports whether CmaEsChol
// converged (its StopLogDet criterion).
func (e *fullEngine) tell(costs []float64) bool {
	for i, f := range costs {
		// A fresh Location per result: CmaEsChol reads it after the
		// hand-over and writes its best point into the last one.
		loc := &optimize.Location{X: make([]float64, e.dim), F: f}
		e.results <- optimize.Task{ID: i, Op: optimize.FuncEvaluation, Location: loc}
	}
	t := <-e.ops
	e.next = t.Op
	return t.Op == optimize.MethodDone
}

// close stops the CmaEsChol goroutine and waits for it.
func (e *fullEngine) close() {
	if e.closed {
		return
	}
	e.closed = true
	e.results <- optimize.Task{Op: optimize.PostIteration}
	close(e.results)
	for range e.ops {
	}
	<-e.done
}
