package operators

import (
	"context"
	"fmt"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// PlanOptions configure a merge beyond the operator's parameters.
type PlanOptions struct {
	// Seed drives stochastic operators (DARE, DELLA).
	Seed uint64
	// Stats provides Fisher / Gram statistics; required by operators that
	// declare them.
	Stats StatsSource
	// TaskTensors selects per-task tensors; nil means DefaultTaskTensors.
	TaskTensors *TaskTensors
}

// TensorPlan is one tensor of a merge.
type TensorPlan struct {
	Meta TensorMeta
	// PerTask tensors are copied from their owner, never merged.
	PerTask bool
	Env     Env
}

// Plan is a validated merge: the operator, every tensor in canonical order
// with its resolved parameters, and (after Prepare) the operator's model-wide
// state. A Plan is read-only once prepared and can be shared by workers.
type Plan struct {
	Op        Operator
	Tensors   []TensorPlan
	NumModels int
	HasBase   bool
	Resolved  *Resolved
	// TaskTensors selects the per-task tensors (copied, never merged).
	TaskTensors TaskTensors
	index       map[string]int
	prepared    bool
}

// NewPlan checks the operator's requirements against the inputs, resolves the
// settings for every tensor and computes block indexes, the layer count L and
// each mergeable tensor's offset in the canonical flattened order.
func NewPlan(op Operator, src Source, s Settings, opt PlanOptions) (*Plan, error) {
	req := op.Requirements()
	n := src.NumModels()
	if n < req.MinModels || (req.MaxModels > 0 && n > req.MaxModels) {
		return nil, fmt.Errorf("%s: got %d expert models, want %s", op.Name(), n, modelRange(req))
	}
	if req.Base == BaseRequired && !src.HasBase() {
		return nil, fmt.Errorf("%s: this method works on task vectors and needs a base model θ0: give the checkpoint the experts were fine-tuned from (base = \"...\" in a merge recipe)", op.Name())
	}
	if (req.Fisher || req.Gram) && opt.Stats == nil {
		what := "Fisher information"
		if req.Gram {
			what = "input Gram matrices"
		}
		return nil, fmt.Errorf("%s: this method needs %s computed on each model's task data; none were given", op.Name(), what)
	}
	tasks := DefaultTaskTensors()
	if opt.TaskTensors != nil {
		tasks = *opt.TaskTensors
	}
	if err := tasks.Validate(); err != nil {
		return nil, err
	}
	metas := src.Tensors()
	names := make([]string, 0, len(metas))
	p := &Plan{Op: op, NumModels: n, HasBase: src.HasBase(), TaskTensors: tasks, index: make(map[string]int, len(metas))}
	layers := 0
	for _, m := range metas {
		if _, dup := p.index[m.Name]; dup {
			return nil, fmt.Errorf("tensor %q is listed twice by the inputs", m.Name)
		}
		p.index[m.Name] = len(p.Tensors)
		tp := TensorPlan{Meta: m, PerTask: tasks.Match(m.Name)}
		tp.Env.Block = -1
		if b, ok := checkpoint.BlockIndex(m.Name); ok {
			tp.Env.Block = b
			if !tp.PerTask && b+1 > layers {
				layers = b + 1
			}
		}
		p.Tensors = append(p.Tensors, tp)
		if !tp.PerTask {
			names = append(names, m.Name)
		}
	}
	res, err := Resolve(op.Params(), s, names, n, checkpoint.LayerGroup)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.Name(), err)
	}
	p.Resolved = res
	var offset int64
	for i := range p.Tensors {
		tp := &p.Tensors[i]
		tp.Env.Layers = layers
		tp.Env.Seed = opt.Seed
		tp.Env.Stats = opt.Stats
		if tp.PerTask {
			continue
		}
		tp.Env.Params = res.For(tp.Meta.Name)
		tp.Env.Offset = offset
		offset += int64(tp.Meta.NumElements())
	}
	for i := range p.Tensors {
		p.Tensors[i].Env.Total = offset
	}
	return p, nil
}

// Lookup returns the plan of the named tensor.
func (p *Plan) Lookup(name string) (*TensorPlan, bool) {
	i, ok := p.index[name]
	if !ok {
		return nil, false
	}
	return &p.Tensors[i], true
}

// Prepare runs the operator's model-wide pass (a no-op for operators that do
// not implement Preparer) and stores its state in every tensor's Env.
func (p *Plan) Prepare(ctx context.Context, src Source) error {
	if p.prepared {
		return nil
	}
	if pr, ok := p.Op.(Preparer); ok {
		state, err := pr.Prepare(ctx, src, p)
		if err != nil {
			return err
		}
		for i := range p.Tensors {
			p.Tensors[i].Env.State = state
		}
	}
	p.prepared = true
	return nil
}

// MergeTensor merges (or, for a per-task tensor, copies) one tensor into dst.
// The plan must have been prepared.
func (p *Plan) MergeTensor(dst []float32, in *TensorInputs, s *Scratch) error {
	tp, ok := p.Lookup(in.Name)
	if !ok {
		return fmt.Errorf("tensor %q is not part of this merge", in.Name)
	}
	if n := tp.Meta.NumElements(); len(dst) != n {
		return fmt.Errorf("tensor %q: output buffer has %d elements, want %d", in.Name, len(dst), n)
	}
	if tp.PerTask {
		return CopyTaskTensor(dst, in)
	}
	if !p.prepared {
		if _, needs := p.Op.(Preparer); needs {
			return fmt.Errorf("%s: tensor %q merged before the model-wide pass; call Plan.Prepare first", p.Op.Name(), in.Name)
		}
	}
	if err := checkInputs(p.Op, dst, in); err != nil {
		return err
	}
	return p.Op.Merge(dst, in, &tp.Env, s)
}

// MergeAll merges every tensor of src in canonical order, one at a time: out
// returns the destination buffer of a tensor and done is called once it is
// filled. It runs the model-wide pass first when the operator needs it. The
// kernels themselves use every core.
func MergeAll(ctx context.Context, p *Plan, src Source, out func(TensorMeta) []float32, done func(TensorMeta, []float32) error) error {
	if err := p.Prepare(ctx, src); err != nil {
		return err
	}
	var in TensorInputs
	var s Scratch
	for i := range p.Tensors {
		if err := ctx.Err(); err != nil {
			return err
		}
		meta := p.Tensors[i].Meta
		if err := src.Load(meta.Name, &in); err != nil {
			return err
		}
		in.Name, in.Shape = meta.Name, meta.Shape
		dst := out(meta)
		if err := p.MergeTensor(dst, &in, &s); err != nil {
			return err
		}
		if done != nil {
			if err := done(meta, dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// forEachMergeable loads every mergeable tensor in canonical order and calls
// fn; model-wide passes use it.
func forEachMergeable(ctx context.Context, p *Plan, src Source, fn func(tp *TensorPlan, in *TensorInputs) error) error {
	var in TensorInputs
	for i := range p.Tensors {
		tp := &p.Tensors[i]
		if tp.PerTask {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := src.Load(tp.Meta.Name, &in); err != nil {
			return err
		}
		in.Name, in.Shape = tp.Meta.Name, tp.Meta.Shape
		n := tp.Meta.NumElements()
		if in.Base != nil && len(in.Base) != n {
			return fmt.Errorf("%s: tensor %q: base has %d elements, want %d", p.Op.Name(), tp.Meta.Name, len(in.Base), n)
		}
		for j, m := range in.Models {
			if m == nil {
				return fmt.Errorf("%s: tensor %q is missing from model %d; mergeable tensors must be in every model", p.Op.Name(), tp.Meta.Name, j+1)
			}
			if len(m) != n {
				return fmt.Errorf("%s: tensor %q: model %d has %d elements, want %d; the models' shapes differ", p.Op.Name(), tp.Meta.Name, j+1, len(m), n)
			}
		}
		if err := fn(tp, &in); err != nil {
			return err
		}
	}
	return nil
}

// MemSource is an in-memory Source over named tensors, for tests, search
// workers that keep the pool resident, and small models.
type MemSource struct {
	base   map[string][]float32
	models []map[string][]float32
	metas  []TensorMeta
}

// NewMemSource builds a Source from a base (nil for none) and expert models.
// Every tensor with the same name must have the same shape in every input.
func NewMemSource(base []checkpoint.Tensor, models ...[]checkpoint.Tensor) (*MemSource, error) {
	s := &MemSource{}
	shapes := map[string][]int{}
	add := func(ts []checkpoint.Tensor, who string) (map[string][]float32, error) {
		m := make(map[string][]float32, len(ts))
		for _, t := range ts {
			meta := TensorMeta{Name: t.Name, Shape: t.Shape}
			if meta.NumElements() != len(t.Data) {
				return nil, fmt.Errorf("%s: tensor %q has shape %v but %d values", who, t.Name, t.Shape, len(t.Data))
			}
			if prev, ok := shapes[t.Name]; ok {
				if !sameShape(prev, t.Shape) {
					return nil, fmt.Errorf("%s: tensor %q has shape %v, another input has %v; the models' architectures differ", who, t.Name, t.Shape, prev)
				}
			} else {
				shapes[t.Name] = t.Shape
				s.metas = append(s.metas, meta)
			}
			m[t.Name] = t.Data
		}
		return m, nil
	}
	var err error
	if base != nil {
		if s.base, err = add(base, "base model"); err != nil {
			return nil, err
		}
	}
	for i, ts := range models {
		m, err := add(ts, fmt.Sprintf("model %d", i+1))
		if err != nil {
			return nil, err
		}
		s.models = append(s.models, m)
	}
	names := make([]string, len(s.metas))
	for i, m := range s.metas {
		names[i] = m.Name
	}
	checkpoint.SortNames(names)
	sorted := make([]TensorMeta, len(names))
	for i, n := range names {
		sorted[i] = TensorMeta{Name: n, Shape: shapes[n]}
	}
	s.metas = sorted
	return s, nil
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

// NumModels implements Source.
func (s *MemSource) NumModels() int { return len(s.models) }

// HasBase implements Source.
func (s *MemSource) HasBase() bool { return s.base != nil }

// Tensors implements Source.
func (s *MemSource) Tensors() []TensorMeta { return s.metas }

// Load implements Source; the slices point at the source's storage.
func (s *MemSource) Load(name string, in *TensorInputs) error {
	in.Name = name
	in.Base = nil
	if s.base != nil {
		in.Base = s.base[name]
	}
	if cap(in.Models) < len(s.models) {
		in.Models = make([][]float32, len(s.models))
	}
	in.Models = in.Models[:len(s.models)]
	for i, m := range s.models {
		in.Models[i] = m[name]
	}
	return nil
}
