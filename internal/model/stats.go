package model

import (
	"context"
	"fmt"
	"math"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/par"
)

// FisherLabels selects which labels y the diagonal Fisher information
// E[(∂ log p(y|x)/∂θ)²] is taken over.
type FisherLabels string

const (
	// EmpiricalFisher uses each example's true label: F = mean over examples
	// of (∇θ log p(y_true|x))², squared per example. This is the empirical
	// Fisher FusionBench and MergeLM use for Fisher merging (they square
	// per-batch gradients; here every example's gradient is squared on its
	// own, the textbook definition).
	EmpiricalFisher FisherLabels = "empirical"
	// ExpectedFisher takes the expectation over the model's own predictive
	// distribution, exactly (no sampling): F = mean over examples of
	// Σ_y p(y|x)·(∇θ log p(y|x))², one backward pass per class. It is the
	// "true" Fisher of the Fisher-merging paper; labels are not needed.
	ExpectedFisher FisherLabels = "expected"
)

// TaskData is one model's task data for statistics: N examples of X (NCHW,
// N × InputSize values), labels Y (needed by EmpiricalFisher only) and the
// head that scores the task.
type TaskData struct {
	Head string
	X    []float32
	Y    []int32
	N    int
}

// StatsOptions select the statistics ComputeStats computes.
type StatsOptions struct {
	// Fisher computes the diagonal Fisher information of every parameter.
	Fisher bool
	// Labels is EmpiricalFisher ("" means it) or ExpectedFisher.
	Labels FisherLabels
	// Gram computes the input Gram matrix of every Linear backbone layer.
	Gram bool
	// Examples uses the first Examples examples of each task (0: all).
	// FusionBench uses 256.
	Examples int
	// Batch is the inference batch of the Gram pass (0: 64). Results do not
	// depend on it.
	Batch int
}

// Gram is the mean input Gram matrix G = XᵀX/N of one Linear layer: In×In,
// row-major, float64, from N input rows.
type Gram struct {
	In int
	N  int
	G  []float64
}

// Stats holds per-model statistics for data-aware merge operators. It
// implements operators.StatsSource: model indexes are positions in the
// models given to ComputeStats; Fisher is keyed by parameter name, Gram by
// the name of a Linear layer's weight (layers.{i}.weight).
type Stats struct {
	fisher []map[string][]float32
	grams  []map[string]*Gram
}

// ComputeStats computes the selected statistics of each model on its own
// task data (models[i] on data[i]). The models are not modified: each is
// cloned, since backward passes overwrite Param.Grad.
func ComputeStats(ctx context.Context, models []Network, data []TaskData, opt StatsOptions) (*Stats, error) {
	if len(models) != len(data) {
		return nil, fmt.Errorf("model: statistics: %d models but %d task data sets; give one data set per model", len(models), len(data))
	}
	if !opt.Fisher && !opt.Gram {
		return nil, fmt.Errorf("model: statistics: nothing selected; set StatsOptions.Fisher and/or Gram")
	}
	if opt.Examples < 0 {
		return nil, fmt.Errorf("model: statistics: Examples = %d; use 0 for all or a positive count", opt.Examples)
	}
	s := &Stats{fisher: make([]map[string][]float32, len(models)), grams: make([]map[string]*Gram, len(models))}
	for i, m := range models {
		d := data[i]
		if opt.Examples > 0 && d.N > opt.Examples {
			d = TaskData{Head: d.Head, X: d.X[:opt.Examples*m.InputSize()], N: opt.Examples}
			if data[i].Y != nil {
				d.Y = data[i].Y[:opt.Examples]
			}
		}
		work := m.Clone()
		if opt.Fisher {
			f, err := FisherInformation(ctx, work, d, opt.Labels)
			if err != nil {
				return nil, fmt.Errorf("model %d: %w", i+1, err)
			}
			s.fisher[i] = f
		}
		if opt.Gram {
			g, err := LinearGrams(ctx, work, d, opt.Batch)
			if err != nil {
				return nil, fmt.Errorf("model %d: %w", i+1, err)
			}
			s.grams[i] = g
		}
	}
	return s, nil
}

// NewStats wraps statistics computed elsewhere (e.g. loaded from a cache);
// either slice may be nil.
func NewStats(fisher []map[string][]float32, grams []map[string]*Gram) *Stats {
	return &Stats{fisher: fisher, grams: grams}
}

// Fisher implements operators.StatsSource.
func (s *Stats) Fisher(model int, tensor string, dst []float32) (bool, error) {
	if model < 0 || model >= len(s.fisher) || s.fisher[model] == nil {
		return false, nil
	}
	f, ok := s.fisher[model][tensor]
	if !ok {
		return false, nil
	}
	if len(f) != len(dst) {
		return false, fmt.Errorf("model: Fisher information of model %d tensor %q has %d values, the merge expects %d; the statistics were computed for another architecture", model+1, tensor, len(f), len(dst))
	}
	copy(dst, f)
	return true, nil
}

// Gram implements operators.StatsSource.
func (s *Stats) Gram(model int, tensor string, dst []float64) (int, bool, error) {
	if model < 0 || model >= len(s.grams) || s.grams[model] == nil {
		return 0, false, nil
	}
	g, ok := s.grams[model][tensor]
	if !ok {
		return 0, false, nil
	}
	if len(g.G) != len(dst) {
		return 0, false, fmt.Errorf("model: Gram matrix of model %d tensor %q is %d×%d, the merge expects %d values; the statistics were computed for another architecture", model+1, tensor, g.In, g.In, len(dst))
	}
	copy(dst, g.G)
	return g.N, true, nil
}

// FisherTensors returns model i's Fisher information as checkpoint tensors
// (canonical order), e.g. to cache it; nil when none was computed.
func (s *Stats) FisherTensors(model int, m Network) []checkpoint.Tensor {
	if model < 0 || model >= len(s.fisher) || s.fisher[model] == nil {
		return nil
	}
	var out []checkpoint.Tensor
	for _, p := range m.Params() {
		if f, ok := s.fisher[model][p.Name]; ok {
			out = append(out, checkpoint.Tensor{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: f})
		}
	}
	return out
}

func checkTaskData(m Network, d TaskData, needLabels bool) error {
	if m.Classes(d.Head) == 0 {
		return fmt.Errorf("model: statistics: model has no head %q (heads: %v)", d.Head, m.Heads())
	}
	if d.N < 1 {
		return fmt.Errorf("model: statistics need at least one example, got %d", d.N)
	}
	if len(d.X) != d.N*m.InputSize() {
		return fmt.Errorf("model: statistics: input has %d values, want %d examples × %d", len(d.X), d.N, m.InputSize())
	}
	if needLabels && len(d.Y) != d.N {
		return fmt.Errorf("model: statistics: %d labels for %d examples; the empirical Fisher needs one label per example", len(d.Y), d.N)
	}
	return nil
}

// FisherInformation returns the diagonal Fisher information of every
// parameter of m on d: the mean over examples of the squared per-example
// gradient of log p(y|x) (see FisherLabels for which y). Parameters of other
// heads get zeros. It overwrites m's Param.Grad.
func FisherInformation(ctx context.Context, m Network, d TaskData, labels FisherLabels) (map[string][]float32, error) {
	if labels == "" {
		labels = EmpiricalFisher
	}
	if labels != EmpiricalFisher && labels != ExpectedFisher {
		return nil, fmt.Errorf("model: Fisher labels %q: use %q or %q", labels, EmpiricalFisher, ExpectedFisher)
	}
	if err := checkTaskData(m, d, labels == EmpiricalFisher); err != nil {
		return nil, err
	}
	params := m.Params()
	acc := make([][]float64, len(params))
	for i, p := range params {
		acc[i] = make([]float64, len(p.Data))
	}
	classes := m.Classes(d.Head)
	size := m.InputSize()
	probs := make([]float64, classes)
	label := make([]int32, 1)
	addSquares := func(weight float64) {
		for i, p := range params {
			a := acc[i]
			for j, g := range p.Grad {
				a[j] += weight * float64(g) * float64(g)
			}
		}
	}
	for e := range d.N {
		if e%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		x := d.X[e*size : (e+1)*size]
		if labels == EmpiricalFisher {
			label[0] = d.Y[e]
			if _, err := LossAndGrad(m, x, 1, d.Head, label, CrossEntropy); err != nil {
				return nil, err
			}
			// The gradient of the cross-entropy is −∇ log p; its square is the same.
			addSquares(1)
			continue
		}
		logits, err := m.Logits(x, 1, d.Head)
		if err != nil {
			return nil, err
		}
		softmax64(probs, logits)
		for y := range classes {
			if probs[y] == 0 {
				continue
			}
			label[0] = int32(y)
			if _, err := LossAndGrad(m, x, 1, d.Head, label, CrossEntropy); err != nil {
				return nil, err
			}
			addSquares(probs[y])
		}
	}
	out := make(map[string][]float32, len(params))
	inv := 1 / float64(d.N)
	for i, p := range params {
		f := make([]float32, len(p.Data))
		for j, v := range acc[i] {
			f[j] = float32(v * inv)
		}
		out[p.Name] = f
	}
	return out, nil
}

// softmax64 writes softmax(z) into p in float64.
func softmax64(p []float64, z []float32) {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, float64(v))
	}
	var s float64
	for i, v := range z {
		p[i] = math.Exp(float64(v) - mx)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
}

// LinearGrams returns, for every Linear layer of m's backbone, the mean Gram
// matrix XᵀX/N of the layer's inputs over d's examples (for a Linear after
// convolutions, X is the flattened feature map), keyed by the layer's weight
// name. Heads are not included: they are never merged. Sums run in float64
// in example order, so the result does not depend on batch or core count.
func LinearGrams(ctx context.Context, m Network, d TaskData, batch int) (map[string]*Gram, error) {
	if batch == 0 {
		batch = 64
	}
	if batch < 0 {
		return nil, fmt.Errorf("model: Gram batch %d: use 0 for the default or a positive count", batch)
	}
	if err := checkTaskData(m, d, false); err != nil {
		return nil, err
	}
	// The layers are known before any forward pass (their inputs are not).
	var targets []*Gram
	out := map[string]*Gram{}
	for _, in := range m.LinearInputs() {
		g := &Gram{In: in.In, N: d.N, G: make([]float64, in.In*in.In)}
		targets = append(targets, g)
		out[in.Weight] = g
	}
	if len(targets) == 0 {
		return out, nil
	}
	size := m.InputSize()
	for i0 := 0; i0 < d.N; i0 += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		i1 := min(d.N, i0+batch)
		x := d.X[i0*size : i1*size]
		// The forward pass leaves every Linear layer's input in the
		// network's buffers (the batch x itself for a first layer).
		if _, err := m.Logits(x, i1-i0, d.Head); err != nil {
			return nil, err
		}
		for k, in := range m.LinearInputs() {
			if in.In != targets[k].In || len(in.X) != (i1-i0)*in.In {
				panic("model: LinearInputs changed between passes")
			}
			accumulateGram(targets[k].G, in.X, i1-i0, in.In)
		}
	}
	inv := 1 / float64(d.N)
	for _, t := range targets {
		g, n := t.G, t.In
		for a := range n {
			for b := a; b < n; b++ {
				v := g[a*n+b] * inv
				g[a*n+b] = v
				g[b*n+a] = v
			}
		}
	}
	return out, nil
}

// accumulateGram adds Σ_rows xᵀx to the upper triangle of g (n×n) from rows
// of x (rows × n). Rows of g are shared among goroutines (one chunk per row of
// g); each entry is summed by one goroutine in row order, so results are
// deterministic.
func accumulateGram(g []float64, x []float32, rows, n int) {
	if len(x) != rows*n || len(g) != n*n {
		panic("model: accumulateGram: mismatched lengths")
	}
	t := gramTasks.Get()
	t.g, t.x, t.rows, t.n = g, x, rows, n
	if n*n*rows < gramParallelWork {
		t.RunRange(0, n)
	} else {
		par.Range(t, n, 1)
	}
	t.g, t.x = nil, nil
	gramTasks.Put(t)
}

// gramParallelWork is the number of multiply-adds from which accumulateGram
// runs in parallel.
const gramParallelWork = 1 << 17

// gramTask is one accumulateGram call; its items are the rows of g.
type gramTask struct {
	g       []float64
	x       []float32
	rows, n int
}

var gramTasks par.FreeList[gramTask]

// RunRange implements par.Task: rows [lo, hi) of g.
func (t *gramTask) RunRange(lo, hi int) {
	g, x, n := t.g, t.x, t.n
	for a := lo; a < hi; a++ {
		ga := g[a*n : (a+1)*n]
		for r := range t.rows {
			row := x[r*n : (r+1)*n]
			xa := float64(row[a])
			if xa == 0 {
				continue // ReLU outputs are often zero
			}
			for b := a; b < n; b++ {
				ga[b] += xa * float64(row[b])
			}
		}
	}
}
