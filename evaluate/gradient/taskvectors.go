package gradient

import (
	"errors"
	"fmt"
	"slices"

	"github.com/evomerge/evomerge/internal/tensor"
	"github.com/evomerge/evomerge/operators"
)

// TaskVectors are the resident inputs of AdaMerging: the base θ0 and the
// task vectors τk = θk − θ0 of every mergeable tensor (per-task tensors
// excluded), in canonical tensor order.
type TaskVectors struct {
	// Names are the mergeable tensors, in canonical order.
	Names  []string
	Shapes [][]int
	// Base[l] is θ0's tensor l.
	Base [][]float32
	// Tau[k][l] is model k's task vector for tensor l.
	Tau [][][]float32
	// Models name the models (for coefficient names); may be nil.
	Models []string
}

// NumModels is the number of task vectors.
func (tv *TaskVectors) NumModels() int { return len(tv.Tau) }

// NumTensors is the number of mergeable tensors.
func (tv *TaskVectors) NumTensors() int { return len(tv.Names) }

// NewTaskVectors loads the base and every model of src and forms the task
// vectors of every tensor that is not per-task (task; the zero value means
// "heads."). src must have a base.
func NewTaskVectors(src operators.Source, task operators.TaskTensors) (*TaskVectors, error) {
	if src == nil || !src.HasBase() {
		return nil, errors.New("gradient: task vectors need a base model θ0: give the base checkpoint")
	}
	if len(task.Patterns) == 0 {
		task = operators.DefaultTaskTensors()
	}
	n := src.NumModels()
	if n < 1 {
		return nil, errors.New("gradient: task vectors need at least one expert model")
	}
	tv := &TaskVectors{Tau: make([][][]float32, n)}
	var in operators.TensorInputs
	for _, meta := range src.Tensors() {
		if task.Match(meta.Name) {
			continue
		}
		if err := src.Load(meta.Name, &in); err != nil {
			return nil, fmt.Errorf("gradient: load tensor %q: %w", meta.Name, err)
		}
		size := meta.NumElements()
		if len(in.Base) != size {
			return nil, fmt.Errorf("gradient: the base lacks tensor %q (or has %d values, want %d): every mergeable tensor needs a base value", meta.Name, len(in.Base), size)
		}
		tv.Names = append(tv.Names, meta.Name)
		tv.Shapes = append(tv.Shapes, slices.Clone(meta.Shape))
		tv.Base = append(tv.Base, slices.Clone(in.Base))
		for k, m := range in.Models {
			if len(m) != size {
				return nil, fmt.Errorf("gradient: model %d lacks tensor %q (or has %d values, want %d): every expert needs every mergeable tensor", k+1, meta.Name, len(m), size)
			}
			t := make([]float32, size)
			operators.TaskVector(t, m, in.Base)
			tv.Tau[k] = append(tv.Tau[k], t)
		}
	}
	if len(tv.Names) == 0 {
		return nil, errors.New("gradient: no mergeable tensor: every tensor matches the per-task patterns")
	}
	return tv, nil
}

// TIES trim scopes (operators.TrimModel and operators.TrimTensor).
const (
	TrimModel  = operators.TrimModel  // top fraction of each task vector as a whole (reference AdaMerging++)
	TrimTensor = operators.TrimTensor // top fraction of each tensor of each task vector
)

// TIES returns the TIES-processed task vectors of AdaMerging++, computed
// with the operators package's TIES kernels: each task vector keeps the
// ⌈keep·n⌉ entries largest in magnitude (over the whole flattened vector
// with TrimModel, the reference's "keep top 20%"; per tensor with
// TrimTensor; operators.Trim), a sign is elected per coordinate as the sign
// of the sum of the trimmed vectors (operators.ElectSign; a zero sum takes
// the sign of the total trimmed mass over all coordinates,
// operators.MassSign), and entries disagreeing with it are dropped
// (operators.DropDisagreeing). tv is not modified.
func (tv *TaskVectors) TIES(keep float64, scope string) (*TaskVectors, error) {
	if !(keep > 0 && keep <= 1) {
		return nil, fmt.Errorf("gradient: TIES keep fraction %v: use a value in (0, 1] (the reference keeps 0.2)", keep)
	}
	if scope != TrimModel && scope != TrimTensor {
		return nil, fmt.Errorf("gradient: TIES trim scope %q: use %q or %q", scope, TrimModel, TrimTensor)
	}
	out := &TaskVectors{Names: tv.Names, Shapes: tv.Shapes, Base: tv.Base, Models: tv.Models, Tau: make([][][]float32, len(tv.Tau))}
	var scratch []float32
	for k, vecs := range tv.Tau {
		total := 0
		for _, t := range vecs {
			total += len(t)
		}
		kept := make([]float32, total)
		out.Tau[k] = make([][]float32, len(vecs))
		off := 0
		for l, t := range vecs {
			out.Tau[k][l] = kept[off : off+len(t) : off+len(t)]
			off += len(t)
		}
		scratch = operators.Trim(out.Tau[k], vecs, keep, scope, true, scratch)
	}
	zero := operators.MassSign(out.Tau)
	maxLen := 0
	for _, b := range tv.Base {
		maxLen = max(maxLen, len(b))
	}
	sign := make([]float32, maxLen)
	xs := make([][]float32, len(out.Tau))
	for l := range tv.Names {
		for k := range out.Tau {
			xs[k] = out.Tau[k][l]
		}
		s := sign[:len(tv.Base[l])]
		operators.ElectSign(s, nil, xs, zero)
		operators.DropDisagreeing(xs, nil, s)
	}
	return out, nil
}

// Layout says which coefficient weights task vector k on tensor l.
type Layout struct {
	// Kind is LayoutTask, LayoutTensor or LayoutGroup.
	Kind string
	// GroupOf maps tensor l to its group (LayoutGroup); Groups names them.
	GroupOf []int
	Groups  []string
	models  int
	tensors int
}

// Coefficient layouts.
const (
	LayoutTask   = "task"   // one coefficient per task vector (task-wise)
	LayoutTensor = "tensor" // one per task vector and tensor (layer-wise, the paper's default)
	LayoutGroup  = "group"  // one per task vector and layer group
)

// NewLayout builds a layout for tv. groupOf names the group of a tensor
// (LayoutGroup only; nil means checkpoint.LayerGroup through the caller).
func NewLayout(kind string, tv *TaskVectors, groupOf func(string) string) (*Layout, error) {
	lay := &Layout{Kind: kind, models: tv.NumModels(), tensors: tv.NumTensors()}
	switch kind {
	case LayoutTask, LayoutTensor:
	case LayoutGroup:
		if groupOf == nil {
			return nil, errors.New("gradient: a per-group layout needs a grouping of tensor names")
		}
		index := map[string]int{}
		for _, name := range tv.Names {
			g := groupOf(name)
			i, ok := index[g]
			if !ok {
				i = len(lay.Groups)
				index[g] = i
				lay.Groups = append(lay.Groups, g)
			}
			lay.GroupOf = append(lay.GroupOf, i)
		}
	default:
		return nil, fmt.Errorf("gradient: coefficient layout %q: use %q (task-wise), %q (layer-wise per tensor) or %q (per layer group)", kind, LayoutTask, LayoutTensor, LayoutGroup)
	}
	return lay, nil
}

// Len is the number of coefficients.
func (l *Layout) Len() int {
	switch l.Kind {
	case LayoutTask:
		return l.models
	case LayoutGroup:
		return l.models * len(l.Groups)
	}
	return l.models * l.tensors
}

// Index is the coefficient of task vector k on tensor t (model-major).
func (l *Layout) Index(k, t int) int {
	switch l.Kind {
	case LayoutTask:
		return k
	case LayoutGroup:
		return k*len(l.Groups) + l.GroupOf[t]
	}
	return k*l.tensors + t
}

// Names names the coefficients like searchspace.DimName("weight", level,
// model): "weight[m]" (task), "<tensor>/weight[m]" (tensor) or
// "<group>/weight[m]" (group), so a learned result can seed a search space
// derived with the same names.
func (l *Layout) Names(tv *TaskVectors) []string {
	model := func(k int) string {
		if k < len(tv.Models) {
			return tv.Models[k]
		}
		return fmt.Sprint(k + 1)
	}
	names := make([]string, l.Len())
	for k := range l.models {
		switch l.Kind {
		case LayoutTask:
			names[k] = "weight[" + model(k) + "]"
		case LayoutGroup:
			for g, name := range l.Groups {
				names[k*len(l.Groups)+g] = name + "/weight[" + model(k) + "]"
			}
		default:
			for t, name := range tv.Names {
				names[k*l.tensors+t] = name + "/weight[" + model(k) + "]"
			}
		}
	}
	return names
}

// MergeInto writes θ = θ0 + Σk c[Index(k,l)]·τk[l] of every tensor into
// dst[l] (the caller's buffers, len matching).
func (tv *TaskVectors) MergeInto(dst [][]float32, lay *Layout, c []float64) {
	if len(c) != lay.Len() || len(dst) != len(tv.Names) {
		panic("gradient: MergeInto: coefficient or tensor count differs from the layout")
	}
	for l := range tv.Names {
		d := dst[l]
		copy(d, tv.Base[l])
		for k := range tv.Tau {
			tensor.Axpy(d, float32(c[lay.Index(k, l)]), tv.Tau[k][l])
		}
	}
}
