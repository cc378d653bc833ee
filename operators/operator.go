package operators

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// BaseNeed says whether an operator uses the base model θ0.
type BaseNeed int

// Base requirements.
const (
	// BaseUnused: the operator merges θ1..θN only; a given base is ignored
	// (except as a source of per-task tensors it owns).
	BaseUnused BaseNeed = iota
	// BaseOptional: the operator works with or without a base.
	BaseOptional
	// BaseRequired: the operator works on task vectors τi = θi − θ0.
	BaseRequired
)

// Requirements are what an operator needs, declared as data so a merge can be
// checked before any tensor is read.
type Requirements struct {
	Base BaseNeed
	// MinModels and MaxModels bound the number of expert models N (θ1..θN,
	// the base not counted). MaxModels 0 means no upper bound.
	MinModels, MaxModels int
	// Fisher: the operator reads per-model diagonal Fisher information
	// through StatsSource.Fisher.
	Fisher bool
	// Gram: the operator reads per-model input Gram matrices of linear weight
	// tensors through StatsSource.Gram.
	Gram bool
	// ModelWide: the operator implements Preparer and needs a pass over every
	// tensor before merging any (model-wide thresholds, layer counts, norms).
	ModelWide bool
	// Stochastic: the result depends on Env.Seed.
	Stochastic bool
}

// TensorInputs are the inputs of one tensor's merge. Operators never write to
// them.
type TensorInputs struct {
	Name  string
	Shape []int
	// Base is θ0's tensor, nil when there is no base.
	Base []float32
	// Models are θ1..θN's tensors, each of the same length as dst.
	Models [][]float32
	// buffers are conversion buffers a Source keeps with these inputs
	// (MappedSource.Load), so reusing one TensorInputs reuses them.
	buffers InputBuffers
}

// StatsSource provides data-derived statistics to data-aware operators. It is
// implemented outside operators (internal/model computes the statistics on
// a task's data); model indexes are 0-based positions in θ1..θN.
type StatsSource interface {
	// Fisher writes model's diagonal Fisher information E[(∂ log p/∂θ)²] for
	// the tensor into dst (len(dst) = number of elements). ok is false when the
	// statistic is not available for this tensor (the operator then falls back
	// as documented).
	Fisher(model int, tensor string, dst []float32) (ok bool, err error)
	// Gram writes the mean input Gram matrix G = XᵀX/n of the linear layer whose
	// weight is tensor ([out, in], PyTorch layout) into dst (in×in, row-major,
	// float64) and returns n, the number of input rows it was computed from.
	// ok is false when the tensor is not the weight of a linear layer.
	Gram(model int, tensor string, dst []float64) (n int, ok bool, err error)
}

// Env is the per-tensor context of a merge: resolved parameter values and
// everything an operator needs beyond the tensors themselves.
type Env struct {
	Params *Params
	// Block is the tensor's block index parsed from its name, -1 when none.
	Block int
	// Layers is the number of blocks L of the model (max block index + 1).
	Layers int
	// Offset is the position of the tensor's first element in the canonical
	// flattened order of the mergeable tensors; Total is that order's length D.
	Offset, Total int64
	// Seed is the merge seed; stochastic operators derive one stream per
	// (operator, model, tensor) from it.
	Seed uint64
	// Stats is nil unless the merge was given statistics.
	Stats StatsSource
	// State is what the operator's Prepare returned; nil otherwise.
	State any
}

// Operator is one merge method. Merge writes the merged tensor into dst
// (len(dst) = number of elements of the tensor) using s for temporaries, so a
// worker that reuses dst and s merges without allocating in steady state.
// Operators hold no mutable state: one value serves any number of concurrent
// workers, each with its own Scratch.
type Operator interface {
	Name() string
	// Formula is a one-line formula for listings.
	Formula() string
	Params() []ParamSpec
	Requirements() Requirements
	Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error
}

// Preparer is implemented by operators that need statistics over all tensors
// before merging any (Requirements.ModelWide). Prepare reads the inputs
// through src (tensor by tensor, in canonical order) and returns the state that
// Merge receives as Env.State.
type Preparer interface {
	Prepare(ctx context.Context, src Source, plan *Plan) (any, error)
}

// TensorMeta names a tensor and its shape.
type TensorMeta struct {
	Name  string
	Shape []int
}

// NumElements is the product of the shape.
func (t TensorMeta) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Source gives access to the inputs of a merge one tensor at a time.
type Source interface {
	// NumModels is N, the number of expert models θ1..θN.
	NumModels() int
	// HasBase reports whether a base θ0 is given.
	HasBase() bool
	// Tensors lists every tensor of the union of the inputs, in canonical
	// order (checkpoint.SortNames).
	Tensors() []TensorMeta
	// Load points in at the named tensor of the base and of each model. A
	// model or base lacking the tensor gets a nil slice. Load may reuse in's
	// slices (or buffers it keeps with in) as buffers, or point them at
	// read-only storage it owns: the slices are read-only to the caller and
	// valid until the next Load into in.
	Load(name string, in *TensorInputs) error
}

// Scratch holds a worker's reusable temporaries. The zero value is ready to use.
// Slots are numbered by the operator; a slot keeps its capacity across calls.
type Scratch struct {
	f32 [][]float32
	f64 [][]float64
	i32 [][]int32
	u8  [][]uint8
	u64 [][]uint64
	// views is a reusable header for per-model slices.
	views, views2 [][]float32
	// sparsify is the reusable parallel job of the TIES/DARE family.
	sparsify sparsifyJob
}

// Floats returns float32 slot i with length n (contents unspecified).
func (s *Scratch) Floats(i, n int) []float32 { return grow(&s.f32, i, n) }

// Float64s returns float64 slot i with length n (contents unspecified).
func (s *Scratch) Float64s(i, n int) []float64 { return grow(&s.f64, i, n) }

// Int32s returns int32 slot i with length n (contents unspecified).
func (s *Scratch) Int32s(i, n int) []int32 { return grow(&s.i32, i, n) }

// Uint64s returns uint64 slot i with length n (contents unspecified).
func (s *Scratch) Uint64s(i, n int) []uint64 { return grow(&s.u64, i, n) }

// Bytes returns byte slot i with length n (contents unspecified).
func (s *Scratch) Bytes(i, n int) []uint8 { return grow(&s.u8, i, n) }

func grow[T any](slots *[][]T, i, n int) []T {
	for len(*slots) <= i {
		*slots = append(*slots, nil)
	}
	b := (*slots)[i]
	if cap(b) < n {
		b = make([]T, n)
		(*slots)[i] = b
	}
	return b[:n]
}

// TaskTensors decides which tensors are per-task (classification heads and
// the like). Per-task tensors are never merged: each is copied unchanged from
// its owner, the first expert θi (in model order) that has it, or from the base
// when no expert has it. A pattern matches a name it is a prefix of, or that it
// matches as a path.Match glob ("*" does not cross "/").
type TaskTensors struct {
	Patterns []string
}

// DefaultTaskTensors treats every tensor under "heads." as per-task.
func DefaultTaskTensors() TaskTensors { return TaskTensors{Patterns: []string{"heads."}} }

// Match reports whether name is a per-task tensor.
func (t TaskTensors) Match(name string) bool {
	for _, p := range t.Patterns {
		if strings.HasPrefix(name, p) {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Validate checks the patterns are well-formed globs.
func (t TaskTensors) Validate() error {
	for _, p := range t.Patterns {
		if p == "" {
			return fmt.Errorf("per-task tensor pattern is empty; give a prefix such as \"heads.\"")
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("per-task tensor pattern %q is not a valid glob: %v", p, err)
		}
	}
	return nil
}

// CopyTaskTensor writes a per-task tensor into dst from its owner (the first
// model that has it, else the base). It fails when no input has it.
func CopyTaskTensor(dst []float32, in *TensorInputs) error {
	for _, m := range in.Models {
		if m != nil {
			return copyChecked(dst, m, in.Name)
		}
	}
	if in.Base != nil {
		return copyChecked(dst, in.Base, in.Name)
	}
	return fmt.Errorf("per-task tensor %q: no input model has it", in.Name)
}

func copyChecked(dst, src []float32, name string) error {
	if len(src) != len(dst) {
		return fmt.Errorf("tensor %q: input has %d elements, output has %d", name, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

// checkInputs verifies the shared preconditions of a per-tensor merge.
func checkInputs(op Operator, dst []float32, in *TensorInputs) error {
	req := op.Requirements()
	n := len(in.Models)
	if n < req.MinModels || (req.MaxModels > 0 && n > req.MaxModels) {
		return fmt.Errorf("%s: tensor %q: got %d expert models, want %s", op.Name(), in.Name, n, modelRange(req))
	}
	if req.Base == BaseRequired && in.Base == nil {
		return fmt.Errorf("%s: tensor %q: this method needs a base model θ0; give one (e.g. the pre-trained checkpoint)", op.Name(), in.Name)
	}
	if in.Base != nil && len(in.Base) != len(dst) {
		return fmt.Errorf("%s: tensor %q: base has %d elements, output has %d", op.Name(), in.Name, len(in.Base), len(dst))
	}
	for i, m := range in.Models {
		if m == nil {
			return fmt.Errorf("%s: tensor %q is missing from model %d; mergeable tensors must be in every model", op.Name(), in.Name, i+1)
		}
		if len(m) != len(dst) {
			return fmt.Errorf("%s: tensor %q: model %d has %d elements, output has %d; the models' shapes differ", op.Name(), in.Name, i+1, len(m), len(dst))
		}
	}
	return nil
}

func modelRange(req Requirements) string {
	switch {
	case req.MaxModels == 0:
		return fmt.Sprintf("at least %d", req.MinModels)
	case req.MaxModels == req.MinModels:
		return fmt.Sprintf("exactly %d", req.MinModels)
	default:
		return fmt.Sprintf("%d to %d", req.MinModels, req.MaxModels)
	}
}
