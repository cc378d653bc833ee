package operators

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/evomerge/evomerge/internal/tensor"
)

const (
	spaceWeights     = "weights"
	spaceTaskVectors = "task_vectors"
	// normEps: vectors with a norm at or below this are treated as zero.
	normEps = 1e-8
)

var spaceSpec = ParamSpec{Name: "space", Kind: KindChoice, Scope: ScopeGlobal, Default: C(spaceWeights),
	Choices: []string{spaceWeights, spaceTaskVectors},
	Doc:     "interpolate the weights θ_i, or the task vectors τ_i and add θ0 (mergekit nuslerp with a base)"}

// combine writes Σ c_i v_i into dst where v_i are the models (weights space)
// or their task vectors (then θ0 is added).
func combine(dst []float32, in *TensorInputs, taskSpace bool, c []float32) {
	if taskSpace {
		tensor.TaskSum(dst, in.Base, c, in.Models)
	} else {
		tensor.WeightedSum(dst, c, in.Models)
	}
}

func gramBase(in *TensorInputs, taskSpace bool) []float32 {
	if taskSpace {
		return in.Base
	}
	return nil
}

// ---- slerp ----

type slerpOp struct{}

// SLERP interpolates two models per tensor on the flattened tensor: θ1 at
// t = 0, θ2 at t = 1: sin((1−t)Ω)/sin Ω·a + sin(tΩ)/sin Ω·b with
// cos Ω = ⟨a,b⟩/(‖a‖‖b‖), applied to the un-normalised tensors. When
// |cos Ω| > dot_threshold (0.9995, mergekit; covers anti-parallel too) or a
// norm is ≤ 1e-8, it falls back to linear interpolation. With space =
// task_vectors it interpolates τ1, τ2 and adds θ0.
func SLERP() Operator { return slerpOp{} }

func (slerpOp) Name() string { return "slerp" }
func (slerpOp) Formula() string {
	return "θ = sin((1−t)Ω)/sin Ω·θ1 + sin(tΩ)/sin Ω·θ2, cos Ω = ⟨θ1,θ2⟩/‖θ1‖‖θ2‖ (lerp when |cos Ω| > dot_threshold)"
}
func (slerpOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "t", Kind: KindFloat, Scope: ScopeGlobal, Min: 0, Max: 1, Default: F(0.5), Layered: true, Doc: "interpolation position: 0 = first model, 1 = second"},
		{Name: "dot_threshold", Kind: KindFloat, Scope: ScopeGlobal, Min: 0, Max: 1, Default: F(0.9995), Doc: "|cos Ω| above which linear interpolation is used"},
		spaceSpec,
	}
}
func (slerpOp) Requirements() Requirements {
	return Requirements{Base: BaseOptional, MinModels: 2, MaxModels: 2}
}

func (slerpOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	p := env.Params
	taskSpace := p.Choice("space") == spaceTaskVectors
	if taskSpace && in.Base == nil {
		return errParam("slerp", in.Name, "space = task_vectors needs a base model")
	}
	var g [4]float64
	tensor.Gram(g[:], gramBase(in, taskSpace), in.Models)
	t := p.Float("t")
	ca, cb := slerpPair(t, g[0], g[1], g[3], p.Float("dot_threshold"))
	c := s.Floats(slotWeights, 2)
	c[0], c[1] = float32(ca), float32(cb)
	combine(dst, in, taskSpace, c)
	return nil
}

// slerpPair returns the SLERP coefficients from ⟨a,a⟩, ⟨a,b⟩, ⟨b,b⟩.
func slerpPair(t, aa, ab, bb, threshold float64) (float64, float64) {
	na, nb := math.Sqrt(aa), math.Sqrt(bb)
	if na <= normEps || nb <= normEps {
		return 1 - t, t
	}
	ca, cb, _ := tensor.SlerpCoefficients(t, ab/(na*nb), threshold)
	return ca, cb
}

// ---- multislerp ----

type multiSlerpOp struct{}

// MultiSLERP is mergekit's multislerp, a spherical weighted mean: each
// flattened tensor v_i (θ_i, or τ_i with space = task_vectors) is projected to
// the unit sphere (u_i = v_i/‖v_i‖), the weighted mean direction m̂ is taken,
// the points are mapped to the tangent space at m̂ (log map), their weighted
// tangent mean is mapped back (exp map), and the result is rescaled by the
// weighted mean of the norms. Because every step is a linear combination of
// the u_i, the result is Σ c_i v_i with c computed from the N×N Gram matrix:
// one pass to read, one to write. If the mean direction vanishes it falls
// back to the weighted average for 2 models and fails for more (as mergekit).
func MultiSLERP() Operator { return multiSlerpOp{} }

func (multiSlerpOp) Name() string { return "multislerp" }
func (multiSlerpOp) Formula() string {
	return "θ = (Σ w_i‖v_i‖)·exp_m̂(Σ w_i log_m̂(v_i/‖v_i‖)), m̂ = normalised Σ w_i v_i/‖v_i‖"
}
func (multiSlerpOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "weight", Kind: KindFloat, Scope: ScopeModel, Min: 0, Max: 10, Default: F(1), Layered: true, Doc: "per-model weight w_i"},
		normalizeSpec(true),
		spaceSpec,
	}
}
func (multiSlerpOp) Requirements() Requirements {
	return Requirements{Base: BaseOptional, MinModels: 2, MaxModels: maxGramModels}
}

const maxGramModels = 64

func (multiSlerpOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	p := env.Params
	n := len(in.Models)
	taskSpace := p.Choice("space") == spaceTaskVectors
	if taskSpace && in.Base == nil {
		return errParam("multislerp", in.Name, "space = task_vectors needs a base model")
	}
	g := s.Float64s(slotF64Gram, n*n)
	tensor.Gram(g, gramBase(in, taskSpace), in.Models)
	w := s.Float64s(slotF64Coef, n)
	var z float64
	for i := range w {
		w[i] = p.ModelFloat("weight", i)
		z += w[i]
	}
	if p.Bool("normalize") {
		if z < sumWeightEps {
			return errParam("multislerp", in.Name, "the weights sum to %g; give at least one positive weight", z)
		}
		for i := range w {
			w[i] /= z
		}
	}
	c := s.Float64s(slotF64Solve, 4*n)
	coef, err := multislerpCoefficients(c[:n], c[n:4*n], g, w)
	if err != nil {
		return errParam("multislerp", in.Name, "%v", err)
	}
	out := s.Floats(slotWeights, n)
	for i := range out {
		out[i] = float32(coef[i])
	}
	combine(dst, in, taskSpace, out)
	return nil
}

// multislerpCoefficients returns c with result = Σ c_i v_i for the spherical
// weighted mean of vectors with Gram matrix g and weights w. tmp needs 3n.
func multislerpCoefficients(c, tmp []float64, g []float64, w []float64) ([]float64, error) {
	n := len(w)
	r := tmp[:n]         // norms
	a := tmp[n : 2*n]    // coefficients on u of m (then of the tangent mean)
	cu := tmp[2*n : 3*n] // cos between u_i and m̂
	var meanNorm float64
	for i := range n {
		r[i] = math.Sqrt(math.Max(g[i*n+i], 0))
		meanNorm += w[i] * r[i]
	}
	// gu(i,j) = ⟨u_i,u_j⟩; a zero vector has u = 0.
	gu := func(i, j int) float64 {
		if r[i] <= normEps || r[j] <= normEps {
			return 0
		}
		return g[i*n+j] / (r[i] * r[j])
	}
	// m = Σ w_j u_j; ‖m‖² = wᵀ Gu w.
	var mm float64
	for i := range n {
		for j := range n {
			mm += w[i] * w[j] * gu(i, j)
		}
	}
	mnorm := math.Sqrt(math.Max(mm, 0))
	if slices.Max(r) <= normEps {
		// Every vector is zero: so is the result.
		clear(c)
		return c, nil
	}
	if mnorm < 1e-8 {
		if n == 2 {
			// Weighted average of the original vectors.
			z := w[0] + w[1]
			if math.Abs(z) < sumWeightEps {
				z = 1
			}
			c[0], c[1] = w[0]/z, w[1]/z
			return c, nil
		}
		return nil, fmt.Errorf("the weighted mean direction of the %d models is zero; multislerp is undefined (use linear)", n)
	}
	// cos_i = ⟨u_i, m̂⟩ = Σ_j w_j gu(i,j) / ‖m‖.
	for i := range n {
		var s float64
		for j := range n {
			s += w[j] * gu(i, j)
		}
		cu[i] = math.Max(-1, math.Min(1, s/mnorm))
	}
	// Tangent mean T = Σ_i w_i k_i (u_i − cos_i m̂), k_i = θ_i/sin θ_i; in the
	// u basis: a_j = w_j k_j − (Σ_i w_i k_i cos_i)·w_j/‖m‖.
	var kc float64
	for i := range n {
		k := logScale(cu[i])
		if r[i] <= normEps {
			k = 0
		}
		a[i] = w[i] * k
		kc += w[i] * k * cu[i]
	}
	for j := range n {
		a[j] -= kc * w[j] / mnorm
	}
	var tt float64
	for i := range n {
		for j := range n {
			tt += a[i] * a[j] * gu(i, j)
		}
	}
	phi := math.Sqrt(math.Max(tt, 0))
	// dir = cos φ·m̂ + sin φ/φ·T (sinc → 1 as φ → 0).
	sinc := 1.0
	if phi > 1e-12 {
		sinc = math.Sin(phi) / phi
	}
	cosPhi := math.Cos(phi)
	for j := range n {
		b := cosPhi*w[j]/mnorm + sinc*a[j]
		if r[j] <= normEps {
			c[j] = 0
			continue
		}
		c[j] = meanNorm * b / r[j]
	}
	return c, nil
}

// logScale returns θ/sin θ for θ = arccos(cos), the scale of the log map.
func logScale(cos float64) float64 {
	theta := math.Acos(cos)
	if theta < 1e-6 {
		return 1
	}
	return theta / math.Sin(theta)
}

// ---- model stock ----

type modelStockOp struct{}

// ModelStock is Model Stock per tensor: cos θ is the mean pairwise cosine of
// the task vectors (mergekit; a zero-norm task vector contributes cos 0),
// t = N cos θ / (1 + (N−1) cos θ) (t = 0 when the denominator is ≈ 0; clamped
// to [0, 1] unless clamp = false), θ = t·mean(θ_i) + (1−t)·θ0.
func ModelStock() Operator { return modelStockOp{} }

func (modelStockOp) Name() string { return "model_stock" }
func (modelStockOp) Formula() string {
	return "θ = θ0 + t·mean(τ_i), t = N cos θ/(1+(N−1)cos θ), cos θ = mean pairwise cosine of τ_i"
}
func (modelStockOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "clamp", Kind: KindBool, Scope: ScopeGlobal, Default: B(true), Doc: "clamp t to [0, 1]"},
	}
}
func (modelStockOp) Requirements() Requirements {
	return Requirements{Base: BaseRequired, MinModels: 2, MaxModels: maxGramModels}
}

func (modelStockOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	n := len(in.Models)
	g := s.Float64s(slotF64Gram, n*n)
	tensor.Gram(g, in.Base, in.Models)
	t := modelStockRatio(g, n, env.Params.Bool("clamp"))
	c := s.Floats(slotWeights, n)
	for i := range c {
		c[i] = float32(t / float64(n))
	}
	tensor.TaskSum(dst, in.Base, c, in.Models)
	return nil
}

func modelStockRatio(g []float64, n int, clamp bool) float64 {
	var sum float64
	pairs := 0
	for i := range n {
		for j := i + 1; j < n; j++ {
			ni, nj := math.Sqrt(g[i*n+i]), math.Sqrt(g[j*n+j])
			if ni > normEps && nj > normEps {
				sum += g[i*n+j] / (ni * nj)
			}
			pairs++
		}
	}
	cos := sum / float64(pairs)
	den := 1 + float64(n-1)*cos
	t := 0.0
	if math.Abs(den) > 1e-8 {
		t = float64(n) * cos / den
	}
	if clamp {
		t = math.Max(0, math.Min(1, t))
	}
	return t
}

// ---- M2N2 split-point crossover ----

type m2n2Op struct{}

const (
	angleGlobal  = "global"
	angleSegment = "segment"
)

// M2N2Crossover is M2N2's split-point SLERP crossover of two parents over the
// whole model. The model is the concatenation of its mergeable tensors in
// canonical order (checkpoint.SortNames; row-major within a tensor), length
// D; the cut index split ∈ [0, D] can fall inside any tensor. Elements before
// the cut use t = ratio, elements from the cut on use t = 1 − ratio. With
// angle = global (default, as the reference code) one Ω is computed on the
// full vectors; with angle = segment each side uses its own Ω. Linear
// interpolation is used where sin Ω ≤ 1e-6 (or a norm is zero).
func M2N2Crossover() Operator { return m2n2Op{} }

func (m2n2Op) Name() string { return "m2n2" }
func (m2n2Op) Formula() string {
	return "child_d = SLERP(t_d, θ1, θ2), t_d = ratio for d < split, 1 − ratio after; one angle over the whole model"
}
func (m2n2Op) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "split", Kind: KindInt, Scope: ScopeGlobal, Min: 0, Max: math.MaxInt32 * 1024, Default: I(0),
			Doc: "cut index into the flattened model (0..D)"},
		{Name: "ratio", Kind: KindFloat, Scope: ScopeGlobal, Min: 0, Max: 1, Default: F(0.5), Doc: "mixing ratio w before the cut (1 − w after)"},
		{Name: "angle", Kind: KindChoice, Scope: ScopeGlobal, Default: C(angleGlobal), Choices: []string{angleGlobal, angleSegment},
			Doc: "one SLERP angle over the whole model (reference code) or one per segment (paper as written)"},
	}
}
func (m2n2Op) Requirements() Requirements {
	return Requirements{Base: BaseUnused, MinModels: 2, MaxModels: 2, ModelWide: true}
}

// m2n2State holds the dot products of the two parents: [0] over the whole
// model, [1] before the cut, [2] from the cut on; each (aa, ab, bb).
type m2n2State struct {
	dots  [3][3]float64
	split int64
}

func (m2n2Op) Prepare(ctx context.Context, src Source, plan *Plan) (any, error) {
	def := plan.Resolved.def
	split := int64(def.Int("split"))
	var total int64
	for i := range plan.Tensors {
		if !plan.Tensors[i].PerTask {
			total += int64(plan.Tensors[i].Meta.NumElements())
		}
	}
	if split > total {
		return nil, fmt.Errorf("m2n2: split = %d is beyond the model's %d parameters; give 0..%d", split, total, total)
	}
	st := &m2n2State{split: split}
	err := forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		a, b := in.Models[0], in.Models[1]
		cut := int(max(0, min(split-tp.Env.Offset, int64(len(a)))))
		for seg, lo, hi := 1, 0, cut; seg <= 2; seg, lo, hi = seg+1, cut, len(a) {
			if lo == hi {
				continue
			}
			aa, ab, bb := tensor.Dot(a[lo:hi], a[lo:hi]), tensor.Dot(a[lo:hi], b[lo:hi]), tensor.Dot(b[lo:hi], b[lo:hi])
			st.dots[seg][0] += aa
			st.dots[seg][1] += ab
			st.dots[seg][2] += bb
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k := range 3 {
		st.dots[0][k] = st.dots[1][k] + st.dots[2][k]
	}
	return st, nil
}

func (m2n2Op) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	st, ok := env.State.(*m2n2State)
	if !ok {
		return errParam("m2n2", in.Name, "the model-wide pass has not run; merge through a Plan")
	}
	p := env.Params
	if int64(p.Int("split")) != st.split {
		return errParam("m2n2", in.Name, "split must be set at the method level, not per group or tensor")
	}
	ratio := p.Float("ratio")
	cut := int(max(0, min(st.split-env.Offset, int64(len(dst)))))
	segment := p.Choice("angle") == angleSegment
	c := s.Floats(slotWeights, 2)
	for seg, lo, hi := 1, 0, cut; seg <= 2; seg, lo, hi = seg+1, cut, len(dst) {
		if lo == hi {
			continue
		}
		t := ratio
		if seg == 2 {
			t = 1 - ratio
		}
		d := st.dots[0]
		if segment {
			d = st.dots[seg]
		}
		ca, cb := m2n2Coefficients(t, d[0], d[1], d[2])
		c[0], c[1] = float32(ca), float32(cb)
		views := s.modelSlices(2)
		views[0], views[1] = in.Models[0][lo:hi], in.Models[1][lo:hi]
		tensor.WeightedSum(dst[lo:hi], c, views)
	}
	return nil
}

// m2n2Coefficients follows the reference code: Ω = arccos(clip(cos, −1, 1)),
// linear when sin Ω ≤ 1e-6.
func m2n2Coefficients(t, aa, ab, bb float64) (float64, float64) {
	na, nb := math.Sqrt(aa), math.Sqrt(bb)
	if na <= normEps || nb <= normEps {
		return 1 - t, t
	}
	omega := math.Acos(math.Max(-1, math.Min(1, ab/(na*nb))))
	so := math.Sin(omega)
	if so <= 1e-6 {
		return 1 - t, t
	}
	return math.Sin((1-t)*omega) / so, math.Sin(t*omega) / so
}
