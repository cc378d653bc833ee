package operators

import (
	"context"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ---- fisher ----

type fisherOp struct{}

// Fisher is diagonal Fisher merging: θ_p = Σ λ_i (F_i,p + ε) θ_i,p /
// Σ λ_i (F_i,p + ε). With normalize_fisher (FusionBench default) λ_i is also
// multiplied by c_i ∝ 1/‖F_i‖₂ (norm over all mergeable tensors, Σ c_i = 1),
// so models with large gradients do not dominate. A tensor without Fisher
// information for a model uses F = 0 (ε only), i.e. a λ-weighted average.
func Fisher() Operator { return fisherOp{} }

func (fisherOp) Name() string { return "fisher" }
func (fisherOp) Formula() string {
	return "θ = Σ λ_i (F_i + ε) θ_i / Σ λ_i (F_i + ε), F_i = diagonal Fisher"
}
func (fisherOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "weight", Kind: KindFloat, Scope: ScopeModel, Min: 0, Max: 10, Default: F(1), Layered: true, Doc: "per-model scale λ_i"},
		{Name: "epsilon", Kind: KindFloat, Scope: ScopeGlobal, Min: 0, Max: 1, Default: F(1e-6), Doc: "floor ε added to every Fisher value"},
		{Name: "normalize_fisher", Kind: KindBool, Scope: ScopeGlobal, Default: B(true), Doc: "scale each model by 1/‖F_i‖₂ (normalised to sum 1)"},
	}
}
func (fisherOp) Requirements() Requirements {
	return Requirements{Base: BaseUnused, MinModels: 1, Fisher: true, ModelWide: true}
}

type fisherState struct{ scale []float64 }

func (fisherOp) Prepare(ctx context.Context, src Source, plan *Plan) (any, error) {
	n := plan.NumModels
	st := &fisherState{scale: make([]float64, n)}
	for i := range st.scale {
		st.scale[i] = 1
	}
	if !plan.Resolved.def.Bool("normalize_fisher") {
		return st, nil
	}
	sq := make([]float64, n)
	var buf []float32
	for i := range plan.Tensors {
		tp := &plan.Tensors[i]
		if tp.PerTask {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ne := tp.Meta.NumElements()
		if cap(buf) < ne {
			buf = make([]float32, ne)
		}
		for m := range n {
			ok, err := tp.Env.Stats.Fisher(m, tp.Meta.Name, buf[:ne])
			if err != nil {
				return nil, err
			}
			if ok {
				for _, v := range buf[:ne] {
					sq[m] += float64(v) * float64(v)
				}
			}
		}
	}
	var z float64
	for m := range n {
		if sq[m] > 0 {
			st.scale[m] = 1 / math.Sqrt(sq[m])
		}
		z += st.scale[m]
	}
	for m := range n {
		st.scale[m] /= z
	}
	return st, nil
}

func (fisherOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	p := env.Params
	n := len(in.Models)
	eps := float32(p.Float("epsilon"))
	num := s.Float64s(slotF64Solve, len(dst))
	den := s.Float64s(slotF64Coef, len(dst))
	clear(num)
	clear(den)
	f := s.Floats(slotTmp, len(dst))
	for i, m := range in.Models {
		lam := p.ModelFloat("weight", i)
		if st, ok := env.State.(*fisherState); ok {
			lam *= st.scale[i]
		}
		ok, err := env.Stats.Fisher(i, in.Name, f)
		if err != nil {
			return err
		}
		if !ok {
			clear(f)
		}
		for e, x := range m {
			c := lam * float64(f[e]+eps)
			num[e] += c * float64(x)
			den[e] += c
		}
	}
	for e := range dst {
		if den[e] > 0 {
			dst[e] = float32(num[e] / den[e])
		} else {
			// All weights zero: unweighted average.
			var a float64
			for _, m := range in.Models {
				a += float64(m[e])
			}
			dst[e] = float32(a / float64(n))
		}
	}
	return nil
}

// ---- regmean ----

type regMeanOp struct{}

// RegMean merges each linear weight W_i ([out, in]) in closed form from the
// input Gram matrices G_i = X_iᵀX_i/n_i: with G̃_i = α·G_i + (1−α)·diag(G_i)
// (off-diagonals scaled by α), Wᵀ = (Σ c_i G̃_i)⁻¹ Σ c_i G̃_i W_iᵀ, where
// c_i = n_i (the paper's Σ X_iᵀX_i; weight_by_examples = true) or 1. The
// system is solved in float64 by Cholesky (LU if not positive definite).
// Input dimensions that no model's data ever activates get the average of
// the models' weight columns (the regression does not constrain them).
// Tensors without a Gram matrix (biases, norms) are averaged.
func RegMean() Operator { return regMeanOp{} }

func (regMeanOp) Name() string { return "regmean" }
func (regMeanOp) Formula() string {
	return "Wᵀ = (Σ G̃_i)⁻¹ Σ G̃_i W_iᵀ, G̃_i = α G_i + (1−α) diag(G_i); other tensors averaged"
}
func (regMeanOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "alpha", Kind: KindFloat, Scope: ScopeGlobal, Min: 0, Max: 1, Default: F(0.95), Layered: true,
			Doc: "off-diagonal scale α of the Gram matrices (FusionBench CLIP 0.95; 0.1 in other configs)"},
		{Name: "weight_by_examples", Kind: KindBool, Scope: ScopeGlobal, Default: B(true),
			Doc: "weight each Gram by its number of examples (Σ XᵀX, paper) instead of the mean Gram"},
	}
}
func (regMeanOp) Requirements() Requirements {
	return Requirements{Base: BaseUnused, MinModels: 1, Gram: true}
}

func (regMeanOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	n := len(in.Models)
	average := func() {
		for e := range dst {
			var a float64
			for _, m := range in.Models {
				a += float64(m[e])
			}
			dst[e] = float32(a / float64(n))
		}
	}
	if len(in.Shape) != 2 {
		average()
		return nil
	}
	out, din := in.Shape[0], in.Shape[1]
	alpha := env.Params.Float("alpha")
	byCount := env.Params.Bool("weight_by_examples")
	g := s.Float64s(slotF64Gram, din*din)
	a := mat.NewSymDense(din, nil)
	b := mat.NewDense(din, out, nil)
	wf := mat.NewDense(out, din, nil)
	var term mat.Dense
	for i, w := range in.Models {
		cnt, ok, err := env.Stats.Gram(i, in.Name, g)
		if err != nil {
			return err
		}
		if !ok {
			if i > 0 {
				return errParam("regmean", in.Name, "model %d has no Gram matrix but model 1 does; compute statistics for every model", i+1)
			}
			average()
			return nil
		}
		c := 1.0
		if byCount {
			c = float64(cnt)
		}
		for r := range din {
			for k := range din {
				v := g[r*din+k]
				if r != k {
					v *= alpha
				}
				g[r*din+k] = c * v
			}
		}
		gt := mat.NewDense(din, din, g)
		for r := range din {
			for k := r; k < din; k++ {
				a.SetSym(r, k, a.At(r, k)+g[r*din+k])
			}
		}
		// B += G̃_i W_iᵀ.
		raw := wf.RawMatrix().Data
		for e, v := range w {
			raw[e] = float64(v)
		}
		term.Mul(gt, wf.T())
		b.Add(b, &term)
	}
	// Input dimensions that no model ever activates (a zero diagonal of the
	// summed Gram, e.g. MNIST border pixels) leave their weight columns
	// unconstrained by the regression and make the system singular for any
	// α. Their columns are averaged instead: the row and column of A are
	// zero, so A[k][k] = 1 and B[k] = mean_i W_i[:, k] decouple them.
	for k := range din {
		if a.At(k, k) != 0 {
			continue
		}
		a.SetSym(k, k, 1)
		for o := range out {
			var mean float64
			for _, w := range in.Models {
				mean += float64(w[o*din+k])
			}
			b.Set(k, o, mean/float64(n))
		}
	}
	var x mat.Dense
	var chol mat.Cholesky
	if chol.Factorize(a) {
		if err := chol.SolveTo(&x, b); err != nil {
			return errParam("regmean", in.Name, "solving the regression: %v", err)
		}
	} else {
		var lu mat.LU
		lu.Factorize(a)
		if err := lu.SolveTo(&x, false, b); err != nil {
			return errParam("regmean", in.Name, "the summed Gram matrix is singular (%v); lower alpha below 1 or compute statistics on more examples", err)
		}
	}
	for o := range out {
		for k := range din {
			dst[o*din+k] = float32(x.At(k, o))
		}
	}
	return nil
}
