package operators

import (
	"context"
	"fmt"
	"math"

	"github.com/evomerge/evomerge/internal/tensor"
)

// linesOp is LiNeS over a task-vector method.
type linesOp struct {
	inner  deltaOperator
	params []ParamSpec
}

const (
	alphaAuto  = "auto"
	alphaFixed = "fixed"
)

// LiNeS wraps a task-vector method (task_arithmetic, ties, dare, dare_ties,
// breadcrumbs, della, pcb, consensus) with layer-increasing scaling: the
// inner method's merged task vector τ_m (without its λ) is scaled per tensor
// by λ(ℓ) = α + β·ℓ/(L−1) for a tensor in block ℓ of L (λ = α + β when L = 1;
// tensors outside blocks get α): θ = θ0 + λ(ℓ)·τ_m. α is either given
// (alpha_mode = fixed) or the multi-task default of the official code
// (alpha_mode = auto): α = (‖Σ_t τ_t‖₁ / ‖τ_m‖₁)/T over the whole model,
// which is 1/T for plain task arithmetic.
func LiNeS(inner Operator) (Operator, error) {
	d, ok := inner.(deltaOperator)
	if !ok {
		return nil, fmt.Errorf("lines: %q is not a task-vector method; LiNeS wraps task_arithmetic, ties, dare, dare_ties, breadcrumbs, della, pcb or consensus", inner.Name())
	}
	var ps []ParamSpec
	for _, s := range inner.Params() {
		if s.Name != "lambda" {
			ps = append(ps, s)
		}
	}
	ps = append(ps,
		ParamSpec{Name: "alpha_mode", Kind: KindChoice, Scope: ScopeGlobal, Default: C(alphaAuto), Choices: []string{alphaAuto, alphaFixed},
			Doc: "auto: α = (‖Σ τ_t‖₁/‖τ_m‖₁)/T (official multi-task default); fixed: use alpha"},
		ParamSpec{Name: "alpha", Kind: KindFloat, Scope: ScopeGlobal, Min: -10, Max: 10, Default: F(1),
			Doc: "shallowest-layer scale α (alpha_mode = fixed)"},
		ParamSpec{Name: "beta", Kind: KindFloat, Scope: ScopeGlobal, Min: -10, Max: 10, Default: F(0.5),
			Doc: "extra scale β reached at the last block"},
	)
	return linesOp{inner: d, params: ps}, nil
}

// MustLiNeS is LiNeS for operators known to be task-vector methods; it panics
// otherwise (a programmer error).
func MustLiNeS(inner Operator) Operator {
	op, err := LiNeS(inner)
	if err != nil {
		panic("operators: " + err.Error())
	}
	return op
}

func (o linesOp) Name() string {
	if o.inner.Name() == "task_arithmetic" {
		return "lines"
	}
	return "lines+" + o.inner.Name()
}
func (o linesOp) Formula() string {
	return "θ = θ0 + (α + β·ℓ/(L−1))·τ_m(" + o.inner.Name() + "), ℓ = block index"
}
func (o linesOp) Params() []ParamSpec { return o.params }
func (o linesOp) Requirements() Requirements {
	r := o.inner.Requirements()
	r.ModelWide = true
	return r
}

type linesState struct {
	inner any
	alpha float64
}

func (o linesOp) Prepare(ctx context.Context, src Source, plan *Plan) (any, error) {
	st := &linesState{}
	if pr, ok := o.inner.(Preparer); ok {
		s, err := pr.Prepare(ctx, src, plan)
		if err != nil {
			return nil, err
		}
		st.inner = s
	}
	def := plan.Resolved.def
	if def.Choice("alpha_mode") == alphaFixed {
		st.alpha = def.Float("alpha")
		return st, nil
	}
	var sumL1, mergedL1 float64
	var scratch Scratch
	var delta []float32
	err := forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		n := len(in.Base)
		if cap(delta) < n {
			delta = make([]float32, n)
		}
		d := delta[:n]
		for e := range d {
			var acc float32
			for _, m := range in.Models {
				acc += m[e] - in.Base[e]
			}
			sumL1 += math.Abs(float64(acc))
		}
		if err := o.inner.mergeDelta(d, in, &tp.Env, st.inner, &scratch); err != nil {
			return err
		}
		mergedL1 += l1(d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.alpha = 1 / float64(plan.NumModels)
	if mergedL1 > 0 {
		st.alpha = sumL1 / mergedL1 / float64(plan.NumModels)
	}
	return st, nil
}

func (o linesOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	st, ok := env.State.(*linesState)
	if !ok {
		return errParam(o.Name(), in.Name, "the model-wide pass has not run; merge through a Plan")
	}
	scale := float32(linesScale(st.alpha, env.Params.Float("beta"), env.Block, env.Layers))
	if _, ok := o.inner.(taskArithmeticOp); ok {
		// One fused pass: θ0 + Σ (λ(ℓ)·w_i) τ_i.
		w := taskWeights(s, env.Params, len(in.Models))
		for i := range w {
			w[i] *= scale
		}
		tensor.TaskSum(dst, in.Base, w, in.Models)
		return nil
	}
	if err := o.inner.mergeDelta(dst, in, env, st.inner, s); err != nil {
		return err
	}
	finishDelta(dst, in.Base, scale)
	return nil
}

func (o linesOp) mergeDelta(dst []float32, in *TensorInputs, env *Env, state any, s *Scratch) error {
	st, _ := state.(*linesState)
	var inner any
	alpha := 1.0
	if st != nil {
		inner, alpha = st.inner, st.alpha
	}
	if err := o.inner.mergeDelta(dst, in, env, inner, s); err != nil {
		return err
	}
	scale := float32(linesScale(alpha, env.Params.Float("beta"), env.Block, env.Layers))
	for i := range dst {
		dst[i] *= scale
	}
	return nil
}

// linesScale is λ(ℓ) = α + β·ℓ/(L−1); α + β when L = 1; α outside blocks.
func linesScale(alpha, beta float64, block, layers int) float64 {
	switch {
	case block < 0:
		return alpha
	case layers <= 1:
		return alpha + beta
	}
	return alpha + beta*float64(block)/float64(layers-1)
}
