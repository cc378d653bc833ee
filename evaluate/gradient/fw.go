package gradient

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/internal/tensor"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/search"
)

// FW update rules.
const (
	RuleTaskArithmetic = "task_arithmetic" // θ ← θ + scale·(s − θ)
	RuleTIES           = "ties"            // trim (s − θ) to its top fraction, elect, θ ← θ + scale·Δ'
)

// Alignment modes.
const (
	// AlignDirection is the cosine of g with the vertex's direction s − θt:
	// the textbook LMO ⟨g, s − θt⟩ normalised per vertex, scale-free.
	AlignDirection = "direction"
	// AlignWeights is the reference code's cosine of g with the vertex's
	// full weights s.
	AlignWeights = "weights"
)

// FWOptions configure the Frank-Wolfe evaluator.
type FWOptions struct {
	// Loss is the proxy objective: model.CrossEntropy (default; needs
	// labels) or model.Entropy (unlabelled).
	Loss model.LossKind
	// Rule is RuleTaskArithmetic (default) or RuleTIES.
	Rule string
	// TIESKeep is the fraction of |s − θ| kept by the TIES rule (default
	// 0.3: the reference's mask_rate 0.7), trimmed over the whole step.
	TIESKeep float64
	// Align is AlignDirection (default) or AlignWeights.
	Align string
	// Chunk bounds the inputs of one forward/backward pass (default 256);
	// the gradient does not depend on it beyond float rounding of the sum.
	Chunk int
	// Split names the split of the proxy tasks' examples ("" = each task's
	// fitness split); labels are read only with the cross-entropy loss.
	Split data.Split
	// Unlabelled are the tasks the soft variant's AdaMerging adapts on
	// (entropy, on their inputs of Ada.Split); Ada configures it.
	Unlabelled []tasks.Task
	Ada        AdaMergingOptions
}

// FrankWolfe is FW-Merging's evaluator (search.SoftAlignmentEvaluator). It
// holds the base θ0 and the current merged model θt resident, plus one
// gradient; pool members are checkpoint files, opened (memory-mapped) and
// read one tensor at a time into a single reusable buffer whenever they are
// needed, so memory is constant in the pool size. The soft variant keeps
// the task vectors of the few selected members (one per task) resident.
type FrankWolfe struct {
	model  model.Network
	names  []string
	shapes [][]int
	base   [][]float32
	theta  [][]float32
	grad   [][]float32
	params []*model.Param
	pool   []string
	proxy  []taskInputs
	opt    FWOptions
	buf    []float32   // one tensor of one pool member
	delta  [][]float32 // step direction (one model)
	scr    []float32
	xb     []float32
	yb     []int32

	adapted     *TaskVectors
	selected    []int
	adaptations int
}

var _ search.SoftAlignmentEvaluator = (*FrankWolfe)(nil)

// NewFrankWolfe builds the evaluator. net must have every task's head and
// every tensor of base (its mergeable parameters are overwritten); base
// holds θ0's mergeable tensors and init θ0 of the search (nil: start at the
// base); pool lists the member checkpoint paths, which must each hold every
// tensor of base with the same shape (checked here, reading headers only).
func NewFrankWolfe(net model.Network, base *TaskVectors, init [][]float32, pool []string, proxy []tasks.Task, opt FWOptions) (*FrankWolfe, error) {
	if net == nil || base == nil {
		return nil, errors.New("gradient: FW needs a model and the base tensors")
	}
	if len(pool) == 0 {
		return nil, errors.New("gradient: FW needs a pool of at least one checkpoint")
	}
	if opt.Rule == "" {
		opt.Rule = RuleTaskArithmetic
	}
	if opt.Rule != RuleTaskArithmetic && opt.Rule != RuleTIES {
		return nil, fmt.Errorf("gradient: FW update rule %q: use %q or %q", opt.Rule, RuleTaskArithmetic, RuleTIES)
	}
	if opt.TIESKeep == 0 {
		opt.TIESKeep = 0.3
	}
	if !(opt.TIESKeep > 0 && opt.TIESKeep <= 1) {
		return nil, fmt.Errorf("gradient: FW TIES keep fraction %v: use a value in (0, 1]", opt.TIESKeep)
	}
	if opt.Align == "" {
		opt.Align = AlignDirection
	}
	if opt.Align != AlignDirection && opt.Align != AlignWeights {
		return nil, fmt.Errorf("gradient: FW alignment %q: use %q or %q", opt.Align, AlignDirection, AlignWeights)
	}
	if opt.Chunk == 0 {
		opt.Chunk = 256
	}
	if opt.Chunk < 1 {
		return nil, fmt.Errorf("gradient: FW chunk %d: use a positive size", opt.Chunk)
	}
	if opt.Loss != model.Entropy && opt.Loss != model.CrossEntropy {
		return nil, fmt.Errorf("gradient: loss %v: use entropy or cross-entropy", opt.Loss)
	}
	params, err := bindParams(net, base.Names, base.Shapes)
	if err != nil {
		return nil, err
	}
	inputs, err := inputsOf(proxy, opt.Split, opt.Loss == model.CrossEntropy)
	if err != nil {
		return nil, err
	}
	if err := checkTasks(net, inputs, opt.Loss == model.CrossEntropy); err != nil {
		return nil, err
	}
	if len(opt.Unlabelled) > 0 {
		unlabelled, err := inputsOf(opt.Unlabelled, opt.Ada.Split, false)
		if err != nil {
			return nil, err
		}
		if err := checkTasks(net, unlabelled, false); err != nil {
			return nil, err
		}
	}
	for i, path := range pool {
		if err := checkMember(path, base); err != nil {
			return nil, fmt.Errorf("gradient: pool member %d: %w", i, err)
		}
	}
	f := &FrankWolfe{model: net, names: base.Names, shapes: base.Shapes, base: base.Base, params: params,
		pool: slices.Clone(pool), proxy: inputs, opt: opt}
	maxLen := 0
	for l, b := range base.Base {
		t := slices.Clone(b)
		if init != nil {
			if len(init) != len(base.Base) || len(init[l]) != len(b) {
				return nil, fmt.Errorf("gradient: the initial model's tensor %q does not match the base", base.Names[l])
			}
			copy(t, init[l])
		}
		f.theta = append(f.theta, t)
		f.grad = append(f.grad, make([]float32, len(b)))
		f.delta = append(f.delta, make([]float32, len(b)))
		maxLen = max(maxLen, len(b))
	}
	f.buf = make([]float32, maxLen)
	return f, nil
}

// checkMember reads a checkpoint's header and checks it holds every tensor.
func checkMember(path string, base *TaskVectors) error {
	r, err := checkpoint.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for l, name := range base.Names {
		info, ok := r.Info(name)
		if !ok {
			return fmt.Errorf("%s lacks tensor %q: every pool member needs every mergeable tensor", path, name)
		}
		if !sameShape(info.Shape, base.Shapes[l]) {
			return fmt.Errorf("%s: tensor %q has shape %v, the base has %v", path, name, info.Shape, base.Shapes[l])
		}
	}
	return nil
}

// PoolSize implements search.AlignmentEvaluator.
func (f *FrankWolfe) PoolSize() int { return len(f.pool) }

// NumTensors implements search.AlignmentEvaluator.
func (f *FrankWolfe) NumTensors() int { return len(f.names) }

// NumTasks implements search.AlignmentEvaluator.
func (f *FrankWolfe) NumTasks() int { return len(f.proxy) }

// Theta returns the current merged tensors (owned by the evaluator).
func (f *FrankWolfe) Theta() [][]float32 { return f.theta }

// Names returns the mergeable tensor names.
func (f *FrankWolfe) Names() []string { return f.names }

// LoadTheta copies θt into the working model, e.g. for evaluation.
func (f *FrankWolfe) LoadTheta() model.Network {
	for l, p := range f.params {
		copy(p.Data, f.theta[l])
	}
	return f.model
}

// gradient sets f.grad to dL/dθ at θt for one task (or all, task < 0) and
// returns L = Σ tasks mean loss over the proxy inputs.
func (f *FrankWolfe) gradient(ctx context.Context, task int) (float64, error) {
	f.LoadTheta()
	for _, g := range f.grad {
		clear(g)
	}
	var loss float64
	size := f.model.InputSize()
	for i, t := range f.proxy {
		if task >= 0 && i != task {
			continue
		}
		for lo := 0; lo < t.N; lo += f.opt.Chunk {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			hi := min(t.N, lo+f.opt.Chunk)
			var y []int32
			if f.opt.Loss == model.CrossEntropy {
				y = t.Y[lo:hi]
			}
			l, err := model.LossAndGrad(f.model, t.X[lo*size:hi*size], hi-lo, t.Head, y, f.opt.Loss)
			if err != nil {
				return 0, fmt.Errorf("task %s: %w", t.Name, err)
			}
			w := float32(hi-lo) / float32(t.N)
			loss += l * float64(hi-lo) / float64(t.N)
			for l, p := range f.params {
				tensor.Axpy(f.grad[l], w, p.Grad)
			}
		}
	}
	return loss, nil
}

// cosine returns the alignment of vertex tensor s with the gradient g at
// θ: cos(g, s − θ) or cos(g, s); 0 when either norm is 0.
func (f *FrankWolfe) cosine(g, s, theta []float32) float64 {
	var dot, ss, gg float64
	if f.opt.Align == AlignWeights {
		for i, gv := range g {
			d := float64(s[i])
			dot += float64(gv) * d
			ss += d * d
			gg += float64(gv) * float64(gv)
		}
	} else {
		for i, gv := range g {
			d := float64(s[i]) - float64(theta[i])
			dot += float64(gv) * d
			ss += d * d
			gg += float64(gv) * float64(gv)
		}
	}
	if ss == 0 || gg == 0 {
		return 0
	}
	return dot / math.Sqrt(ss*gg)
}

// Align implements search.AlignmentEvaluator: one gradient pass, then each
// pool member streamed from disk, one tensor at a time.
func (f *FrankWolfe) Align(ctx context.Context, task int, align [][]float64) (float64, error) {
	K, L := len(f.pool), len(f.names)
	if len(align) != K+1 {
		return 0, fmt.Errorf("gradient: FW alignment table has %d rows, want %d (pool + base)", len(align), K+1)
	}
	if task >= len(f.proxy) {
		return 0, fmt.Errorf("gradient: FW task %d of %d", task, len(f.proxy))
	}
	loss, err := f.gradient(ctx, task)
	if err != nil {
		return 0, err
	}
	for k, path := range f.pool {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if len(align[k]) != L {
			return 0, fmt.Errorf("gradient: FW alignment row %d has %d entries, want %d", k, len(align[k]), L)
		}
		err := f.forEachTensor(path, nil, func(l int, s []float32) {
			align[k][l] = f.cosine(f.grad[l], s, f.theta[l])
		})
		if err != nil {
			return 0, fmt.Errorf("gradient: pool member %d: %w", k, err)
		}
	}
	for l := range L {
		align[K][l] = f.cosine(f.grad[l], f.base[l], f.theta[l])
	}
	return loss, nil
}

// forEachTensor opens path and reads the tensors l with want[l] (all when
// want is nil) one at a time into the reusable buffer.
func (f *FrankWolfe) forEachTensor(path string, want []bool, fn func(l int, s []float32)) error {
	r, err := checkpoint.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for l, name := range f.names {
		if want != nil && !want[l] {
			continue
		}
		s := f.buf[:len(f.theta[l])]
		if err := r.ReadInto(name, s); err != nil {
			return err
		}
		fn(l, s)
	}
	return nil
}

// Step implements search.AlignmentEvaluator.
func (f *FrankWolfe) Step(ctx context.Context, vertex []int, scale float64) error {
	L := len(f.names)
	if len(vertex) != L {
		return fmt.Errorf("gradient: FW step with %d vertices for %d tensors", len(vertex), L)
	}
	for l, v := range vertex {
		switch {
		case v == search.VertexStay:
			clear(f.delta[l])
		case v == search.VertexBase:
			operators.TaskVector(f.delta[l], f.base[l], f.theta[l])
		case v < 0 || v >= len(f.pool):
			return fmt.Errorf("gradient: FW vertex %d of tensor %q is not a pool member (pool of %d)", v, f.names[l], len(f.pool))
		}
	}
	// Stream each chosen member once, for the tensors that chose it.
	want := make([]bool, L)
	for k, path := range f.pool {
		any := false
		for l, v := range vertex {
			want[l] = v == k
			any = any || want[l]
		}
		if !any {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err := f.forEachTensor(path, want, func(l int, s []float32) { operators.TaskVector(f.delta[l], s, f.theta[l]) })
		if err != nil {
			return fmt.Errorf("gradient: pool member %d: %w", k, err)
		}
	}
	if f.opt.Rule == RuleTIES {
		f.tiesTrim()
	}
	for l := range f.theta {
		tensor.Axpy(f.theta[l], float32(scale), f.delta[l])
	}
	return nil
}

// tiesTrim applies TIES to the single step direction: keep the ⌈TIESKeep·n⌉
// entries of largest magnitude over the whole model (operators.Trim with
// TrimModel), in place, reusing f.scr. With one vector the elected sign of
// every entry is its own, so the disjoint mean leaves the kept entries
// unchanged.
func (f *FrankWolfe) tiesTrim() {
	f.scr = operators.Trim(f.delta, f.delta, f.opt.TIESKeep, operators.TrimModel, true, f.scr)
}

// Adapt implements search.SoftAlignmentEvaluator: it loads the selected
// members' directions τk = θk − θt (resident, one per selected member) and
// returns an AdaMerging evaluator over per-tensor coefficients of them,
// with θt as the base, on the unlabelled tasks.
func (f *FrankWolfe) Adapt(ctx context.Context, selected []int) (search.GradientEvaluator, error) {
	if len(f.opt.Unlabelled) == 0 {
		return nil, errors.New("gradient: FW-Soft needs unlabelled task inputs for its AdaMerging step (FWOptions.Unlabelled)")
	}
	tv := &TaskVectors{Names: f.names, Shapes: f.shapes, Base: make([][]float32, len(f.theta))}
	for l, t := range f.theta {
		tv.Base[l] = slices.Clone(t)
	}
	for _, k := range selected {
		if k < 0 || k >= len(f.pool) {
			return nil, fmt.Errorf("gradient: FW-Soft selected %d, not a pool member (pool of %d)", k, len(f.pool))
		}
		vec := make([][]float32, len(f.names))
		err := f.forEachTensor(f.pool[k], nil, func(l int, s []float32) {
			vec[l] = make([]float32, len(s))
			operators.TaskVector(vec[l], s, f.theta[l])
		})
		if err != nil {
			return nil, fmt.Errorf("gradient: pool member %d: %w", k, err)
		}
		tv.Tau = append(tv.Tau, vec)
	}
	lay, err := NewLayout(LayoutTensor, tv, nil)
	if err != nil {
		return nil, err
	}
	adaOpt := f.opt.Ada
	adaOpt.Seed = rng.Derive(f.opt.Ada.Seed, "soft", strconv.Itoa(f.adaptations))
	f.adaptations++
	ada, err := NewAdaMerging(f.model, tv, lay, f.opt.Unlabelled, adaOpt)
	if err != nil {
		return nil, err
	}
	f.adapted, f.selected = tv, slices.Clone(selected)
	return ada, nil
}

// Apply implements search.SoftAlignmentEvaluator.
func (f *FrankWolfe) Apply(ctx context.Context, selected []int, c []float64) error {
	if f.adapted == nil || !slices.Equal(selected, f.selected) {
		return errors.New("gradient: FW-Soft Apply must follow Adapt with the same selection")
	}
	lay, err := NewLayout(LayoutTensor, f.adapted, nil)
	if err != nil {
		return err
	}
	if len(c) != lay.Len() {
		return fmt.Errorf("gradient: FW-Soft got %d coefficients for %d", len(c), lay.Len())
	}
	f.adapted.MergeInto(f.theta, lay, c)
	f.adapted, f.selected = nil, nil
	return nil
}

// InitTaskArithmetic sets θt = θ0 + λ·Σk (θk − θ0) over the whole pool,
// streaming one member at a time: the reference's default start (task
// arithmetic with λ = 0.3). It brings every pool member in, irrelevant ones
// included, before Frank-Wolfe selects anything.
func (f *FrankWolfe) InitTaskArithmetic(ctx context.Context, lambda float64) error {
	if math.IsNaN(lambda) || math.IsInf(lambda, 0) {
		return fmt.Errorf("gradient: FW initial λ %v: use a finite number (the reference uses 0.3)", lambda)
	}
	for l := range f.theta {
		copy(f.theta[l], f.base[l])
	}
	for k, path := range f.pool {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := f.forEachTensor(path, nil, func(l int, s []float32) {
			operators.AddTaskVector(f.theta[l], float32(lambda), s, f.base[l])
		})
		if err != nil {
			return fmt.Errorf("gradient: pool member %d: %w", k, err)
		}
	}
	return nil
}
