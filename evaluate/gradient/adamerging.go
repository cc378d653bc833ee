package gradient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/internal/tensor"
	"github.com/evomerge/evomerge/search"
)

// taskInputs is what a gradient evaluator reads of a task: N inputs X
// (NCHW) of one split and, for labelled objectives only, their labels Y;
// Head names the model's head for it.
type taskInputs struct {
	Name string
	Head string
	X    []float32
	Y    []int32
	N    int
}

// inputsOf reads the tasks' examples on split ("" = each task's fitness
// split): the inputs, and the labels only when labelled, so an unlabelled
// objective cannot read them.
func inputsOf(ts []tasks.Task, split data.Split, labelled bool) ([]taskInputs, error) {
	out := make([]taskInputs, 0, len(ts))
	for i := range ts {
		t := &ts[i]
		s := split
		if s == "" {
			s = t.FitnessSplit
		}
		d := t.Data(s)
		if d == nil {
			return nil, fmt.Errorf("gradient: task %s has no %s examples: load them into the task (Splits[%q])", t.Name, s, s)
		}
		if d.Kind != data.Images {
			return nil, fmt.Errorf("gradient: task %s: dataset %q holds %s, and the models read images only", t.Name, d.Name, d.Kind)
		}
		in := taskInputs{Name: t.Name, Head: t.Head, X: d.X, N: d.Len()}
		if labelled {
			in.Y = d.Y
		}
		out = append(out, in)
	}
	return out, nil
}

// AdaMergingOptions configure the AdaMerging evaluator.
type AdaMergingOptions struct {
	// Batch is the number of inputs per batch (default 16) and Batches the
	// batches per task per step (default 2): the reference draws 2 × 16
	// unlabelled test images per task per update.
	Batch, Batches int
	// Full uses every input of every task at every step instead of random
	// batches (deterministic full-batch gradient; used by tests).
	Full bool
	// Supervised replaces the prediction entropy (the default, which reads
	// no labels) by cross-entropy against the tasks' labels Y.
	Supervised bool
	// Seed seeds the batch draws (stream "gradient", "adamerging",
	// "batches").
	Seed uint64
	// Split names the split whose inputs are read ("" = each task's
	// fitness split); every task needs its examples there. Labels are read
	// only when Supervised.
	Split data.Split
}

// AdaMerging is AdaMerging's gradient evaluator (search.GradientEvaluator):
// for coefficients c it builds θ(c) = θ0 + Σk c·τk into its model, runs
// forward and backward on a batch of each task through that task's head,
// and returns L = Σ_task mean-over-batch loss and the exact
// dL/dc = Σ_{l in c's group} ⟨dL/dθ[l], τk[l]⟩. It is not safe for
// concurrent use; every call draws new batches from its seeded stream.
type AdaMerging struct {
	model  model.Network
	tv     *TaskVectors
	lay    *Layout
	tasks  []taskInputs
	opt    AdaMergingOptions
	params []*model.Param // mergeable params in tv.Names order
	dst    [][]float32    // the params' Data
	acc    [][]float32    // summed dL/dθ per tensor
	xb     []float32
	yb     []int32
	idx    []int
	r      *rand.Rand
}

var _ search.GradientEvaluator = (*AdaMerging)(nil)

// NewAdaMerging builds the evaluator on the tasks' inputs of opt.Split.
// net must have every task's head and every tensor of tv; it becomes the
// evaluator's working model (its mergeable parameters are overwritten by
// every call; heads are kept).
func NewAdaMerging(net model.Network, tv *TaskVectors, lay *Layout, ts []tasks.Task, opt AdaMergingOptions) (*AdaMerging, error) {
	if net == nil || tv == nil || lay == nil {
		return nil, errors.New("gradient: AdaMerging needs a model, task vectors and a coefficient layout")
	}
	if opt.Batch == 0 {
		opt.Batch = 16
	}
	if opt.Batches == 0 {
		opt.Batches = 2
	}
	if opt.Batch < 1 || opt.Batches < 1 {
		return nil, fmt.Errorf("gradient: batch %d × %d batches: use positive sizes (default 16 × 2)", opt.Batch, opt.Batches)
	}
	params, err := bindParams(net, tv.Names, tv.Shapes)
	if err != nil {
		return nil, err
	}
	inputs, err := inputsOf(ts, opt.Split, opt.Supervised)
	if err != nil {
		return nil, err
	}
	if err := checkTasks(net, inputs, opt.Supervised); err != nil {
		return nil, err
	}
	a := &AdaMerging{model: net, tv: tv, lay: lay, tasks: inputs, opt: opt, params: params,
		r: rng.New(opt.Seed, "gradient", "adamerging", "batches")}
	for _, p := range params {
		a.dst = append(a.dst, p.Data)
		a.acc = append(a.acc, make([]float32, len(p.Data)))
	}
	return a, nil
}

// bindParams finds the model's parameter of every name, checking shapes.
func bindParams(net model.Network, names []string, shapes [][]int) ([]*model.Param, error) {
	params := make([]*model.Param, len(names))
	for l, name := range names {
		p := net.Param(name)
		if p == nil {
			return nil, fmt.Errorf("gradient: the model has no parameter %q: the merged checkpoints and the model architecture differ", name)
		}
		if !sameShape(p.Shape, shapes[l]) {
			return nil, fmt.Errorf("gradient: tensor %q has shape %v in the checkpoints but %v in the model", name, shapes[l], p.Shape)
		}
		params[l] = p
	}
	return params, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkTasks(net model.Network, tasks []taskInputs, labelled bool) error {
	if len(tasks) == 0 {
		return errors.New("gradient: no task data: give at least one task's inputs")
	}
	heads := map[string]bool{}
	for _, h := range net.Heads() {
		heads[h] = true
	}
	for _, t := range tasks {
		if !heads[t.Head] {
			return fmt.Errorf("gradient: task %s: the model has no head %q: keep every task's head on the merged model", t.Name, t.Head)
		}
		if t.N < 1 || len(t.X) != t.N*net.InputSize() {
			return fmt.Errorf("gradient: task %s: %d inputs with %d values, want %d per input", t.Name, t.N, len(t.X), net.InputSize())
		}
		if labelled && len(t.Y) != t.N {
			return fmt.Errorf("gradient: task %s: a labelled objective needs one label per input (%d labels, %d inputs)", t.Name, len(t.Y), t.N)
		}
	}
	return nil
}

// NumCoefficients is the layout's coefficient count.
func (a *AdaMerging) NumCoefficients() int { return a.lay.Len() }

// Model returns the working model (holding θ of the last call).
func (a *AdaMerging) Model() model.Network { return a.model }

// SetCoefficients builds θ(c) into the working model without a pass, e.g.
// to evaluate the learned merge.
func (a *AdaMerging) SetCoefficients(c []float64) error {
	if len(c) != a.lay.Len() {
		return fmt.Errorf("gradient: %d coefficients, the layout has %d", len(c), a.lay.Len())
	}
	a.tv.MergeInto(a.dst, a.lay, c)
	return nil
}

// ResumeAt implements search.StepResumer: the next LossGrad draws the
// batches the (calls+1)-th call since construction draws, so an
// optimisation continued from a saved step sees the batches an
// uninterrupted one sees.
func (a *AdaMerging) ResumeAt(calls int) error {
	if calls < 0 {
		return fmt.Errorf("gradient: resume at call %d: use a non-negative count", calls)
	}
	a.r = rng.New(a.opt.Seed, "gradient", "adamerging", "batches")
	if a.opt.Full {
		return nil
	}
	n := a.opt.Batch * a.opt.Batches
	for range calls {
		for _, t := range a.tasks {
			for range n {
				a.r.IntN(t.N)
			}
		}
	}
	return nil
}

// LossGrad implements search.GradientEvaluator.
func (a *AdaMerging) LossGrad(ctx context.Context, values, grad []float64) (float64, error) {
	if len(values) != a.lay.Len() || len(grad) != len(values) {
		return 0, fmt.Errorf("gradient: %d coefficients and %d gradient slots, the layout has %d", len(values), len(grad), a.lay.Len())
	}
	a.tv.MergeInto(a.dst, a.lay, values)
	for _, g := range a.acc {
		clear(g)
	}
	var loss float64
	for _, t := range a.tasks {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		l, err := a.taskLossGrad(t)
		if err != nil {
			return 0, fmt.Errorf("task %s: %w", t.Name, err)
		}
		loss += l
	}
	clear(grad)
	for k := range a.tv.Tau {
		for l := range a.tv.Names {
			grad[a.lay.Index(k, l)] += tensor.Dot(a.acc[l], a.tv.Tau[k][l])
		}
	}
	return loss, nil
}

// taskLossGrad adds one task's gradient (mean loss over its batch) to acc.
func (a *AdaMerging) taskLossGrad(t taskInputs) (float64, error) {
	size := a.model.InputSize()
	var x []float32
	var y []int32
	n := t.N
	if a.opt.Full {
		x, y = t.X, t.Y
	} else {
		n = a.opt.Batch * a.opt.Batches
		if cap(a.xb) < n*size {
			a.xb = make([]float32, n*size)
		}
		x = a.xb[:n*size]
		a.idx = a.idx[:0]
		for i := range n {
			j := a.r.IntN(t.N)
			a.idx = append(a.idx, j)
			copy(x[i*size:(i+1)*size], t.X[j*size:(j+1)*size])
		}
		if a.opt.Supervised {
			if cap(a.yb) < n {
				a.yb = make([]int32, n)
			}
			y = a.yb[:n]
			for i, j := range a.idx {
				y[i] = t.Y[j]
			}
		}
	}
	kind := model.Entropy
	if a.opt.Supervised {
		kind = model.CrossEntropy
	} else {
		y = nil // the entropy objective never reads labels
	}
	loss, err := model.LossAndGrad(a.model, x, n, t.Head, y, kind)
	if err != nil {
		return 0, err
	}
	for l, p := range a.params {
		tensor.Axpy(a.acc[l], 1, p.Grad)
	}
	return loss, nil
}
