package operators

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/evomerge/evomerge/internal/tensor"
)

// The generalized task-arithmetic family (TIES, DARE, DARE-TIES, Breadcrumbs,
// DELLA) follows one pipeline per tensor, as mergekit's:
//
//  1. τ_i = θ_i − θ0, sparsified per model with its own density (and gamma /
//     epsilon): magnitude top-k, Bernoulli drop, magnitude band, or MAGPRUNE;
//  2. with consensus: elect γ = sign(Σ w_i τ̃_i) (ties → +) and combine the
//     weighted entries agreeing with γ, as their weighted mean (÷ Σ_agree w_i)
//     or sum; without consensus: Σ w_i τ̃_i (÷ Σ w_i with normalize);
//  3. θ = θ0 + λ·τ_m.
type sparsifier int

const (
	sparsifyMagnitude sparsifier = iota // TIES trim: keep the top density fraction by |τ|
	sparsifyRandom                      // DARE: Bernoulli(density) keep
	sparsifyBand                        // Breadcrumbs: drop the top gamma and the bottom 1−density−gamma
	sparsifyMagprune                    // DELLA: rank-based keep probabilities
)

// consensusMode says how step 2 is chosen.
type consensusMode int

const (
	consensusAlways consensusMode = iota
	consensusNever
	consensusParam // the "consensus" bool parameter decides
)

type gtaOp struct {
	name, formula string
	kind          sparsifier
	consensus     consensusMode
	params        []ParamSpec
	stochastic    bool
}

// TIES is TIES-Merging: trim each τ_i to its top density fraction by
// magnitude (per tensor, mergekit; or over the whole model with trim_scope =
// model, as the paper and FusionBench — an exact model-wide k-th value), elect
// signs by summed weighted mass, disjoint mean (paper) or sum (FusionBench),
// θ0 + λ·τ_m. Exactly k = floor(density·n) entries are kept (ties at the
// threshold in index order); density·n < 1 keeps none.
func TIES() Operator {
	return tiesOp{&gtaOp{
		name: "ties", kind: sparsifyMagnitude, consensus: consensusAlways,
		formula: "θ = θ0 + λ·disjoint_merge(elect_sign(Σ w_i·topk(τ_i, density)))",
		params: []ParamSpec{
			weightSpec,
			densitySpec(0.2, "fraction of each task vector kept by magnitude (paper 0.2; mergekit default 1)"),
			{Name: "trim_scope", Kind: KindChoice, Scope: ScopeGlobal, Default: C(TrimTensor), Choices: []string{TrimTensor, TrimModel},
				Doc: "top-k per tensor (mergekit) or over the whole model (paper, FusionBench)"},
			mergeModeSpec(mergeMean),
			lambdaSpec,
		},
	}}
}

// DARE is DARE on top of task arithmetic (mergekit dare_linear): each τ_i
// entry is kept with probability density and rescaled by 1/density (paper) or
// by per-tensor L1 matching (mergekit), then θ0 + λ·Σ w_i τ̃_i.
func DARE() Operator {
	return &gtaOp{
		name: "dare", kind: sparsifyRandom, consensus: consensusNever, stochastic: true,
		formula: "θ = θ0 + λ·Σ w_i·(m_i ⊙ τ_i)/density, m_i ~ Bernoulli(density)",
		params: []ParamSpec{
			weightSpec,
			densitySpec(0.5, "keep probability 1−p (FusionBench p = 0.5; the paper uses up to p = 0.9)"),
			rescaleSpec,
			normalizeSpec(false),
			lambdaSpec,
		},
	}
}

// DARETIES is mergekit's dare_ties: DARE drop and rescale instead of TIES's
// magnitude trim, then sign election and (by default) the sum of agreeing
// weighted deltas, ×λ. FusionBench's variant (DARE then a full TIES with its
// own top-k trim) is not this operator.
func DARETIES() Operator {
	return &gtaOp{
		name: "dare_ties", kind: sparsifyRandom, consensus: consensusAlways, stochastic: true,
		formula: "θ = θ0 + λ·disjoint_merge(elect_sign(Σ w_i·dare(τ_i, density)))",
		params: []ParamSpec{
			weightSpec,
			densitySpec(0.5, "keep probability 1−p"),
			rescaleSpec,
			mergeModeSpec(mergeSum),
			lambdaSpec,
		},
	}
}

// Breadcrumbs is Model Breadcrumbs: per tensor, drop the gamma fraction of
// largest |τ_i| (outliers) and keep the next density fraction (the smallest
// 1−density−gamma are dropped); gamma is capped so density holds. Unlike
// mergekit, a tensor with gamma·n < 1 keeps its band instead of being zeroed.
func Breadcrumbs() Operator {
	return &gtaOp{
		name: "breadcrumbs", kind: sparsifyBand, consensus: consensusParam,
		formula: "θ = θ0 + λ·Σ w_i·band(τ_i; drop top gamma, keep next density)",
		params: []ParamSpec{
			weightSpec,
			densitySpec(0.9, "fraction of each task vector kept"),
			{Name: "gamma", Kind: KindFloat, Scope: ScopeModel, Min: 0, Max: 1, Default: F(0.01), Layered: true,
				Doc: "fraction of largest-magnitude entries dropped as outliers"},
			{Name: "consensus", Kind: KindBool, Scope: ScopeGlobal, Default: B(false),
				Doc: "TIES sign election and disjoint merge (mergekit breadcrumbs_ties)"},
			mergeModeSpec(mergeMean),
			normalizeSpec(false),
			lambdaSpec,
		},
	}
}

// DELLA is DELLA-Merging with MAGPRUNE: per row of τ_i (1-D tensors are one
// row), entries ranked by |τ| get keep probabilities spread linearly over
// [density−epsilon, density+epsilon] (mergekit's half-width convention),
// larger magnitudes more likely kept; kept entries are rescaled by 1/p_e
// (paper) or L1-matched (mergekit); then TIES consensus (della) or a weighted
// sum (consensus = false, mergekit della_linear), ×λ.
func DELLA() Operator {
	return &gtaOp{
		name: "della", kind: sparsifyMagprune, consensus: consensusParam, stochastic: true,
		formula: "θ = θ0 + λ·disjoint_merge(Σ w_i·magprune(τ_i; density ± epsilon by magnitude rank))",
		params: []ParamSpec{
			weightSpec,
			densitySpec(0.5, "mean keep probability"),
			{Name: "epsilon", Kind: KindFloat, Scope: ScopeModel, Min: 0, Max: 0.5, Default: F(0.15), Layered: true,
				Doc: "half-width of the keep-probability band around density"},
			rescaleSpec,
			{Name: "consensus", Kind: KindBool, Scope: ScopeGlobal, Default: B(true),
				Doc: "TIES sign election and disjoint merge (false: mergekit della_linear)"},
			mergeModeSpec(mergeMean),
			normalizeSpec(false),
			lambdaSpec,
		},
	}
}

func (o *gtaOp) Name() string        { return o.name }
func (o *gtaOp) Formula() string     { return o.formula }
func (o *gtaOp) Params() []ParamSpec { return o.params }
func (o *gtaOp) Requirements() Requirements {
	return Requirements{Base: BaseRequired, MinModels: 1, Stochastic: o.stochastic, ModelWide: o.kind == sparsifyMagnitude}
}

func (o *gtaOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	return mergeViaDelta(o, dst, in, env, s)
}

func (o *gtaOp) useConsensus(p *Params) bool {
	switch o.consensus {
	case consensusAlways:
		return true
	case consensusNever:
		return false
	}
	return p.Bool("consensus")
}

func (o *gtaOp) mergeDelta(dst []float32, in *TensorInputs, env *Env, state any, s *Scratch) error {
	p := env.Params
	n := len(in.Models)
	taus := taskVectors(s, in)
	// Sparsify the models in parallel; each has its own buffers and random
	// stream, so the result does not depend on the schedule.
	j := &s.sparsify
	j.op, j.in, j.env, j.state, j.taus = o, in, env, state, taus
	j.bufs = growSlices(j.bufs, n)
	j.keys = growSlices(j.keys, n)
	j.probs = growSlices(j.probs, n)
	j.errs = growSlices(j.errs, n)
	for i := range n {
		j.bufs[i] = s.Floats(bankSlot(1, n, i), len(dst))
		if o.kind == sparsifyMagprune {
			j.keys[i] = s.Uint64s(i, 2*rowLength(in.Shape, len(dst))) // keys + radix buffer
			j.probs[i] = s.Floats(bankSlot(2, n, i), rowLength(in.Shape, len(dst)))
		}
		j.errs[i] = nil
	}
	tensor.ForEach(n, j)
	j.op, j.in, j.env, j.state, j.taus = nil, nil, nil, nil, nil
	for _, err := range j.errs {
		if err != nil {
			return err
		}
	}
	w := modelWeights(s, p, "weight", n, slotWeights)
	if o.useConsensus(p) {
		tensor.DisjointMerge(dst, w, taus, p.Choice("merge") == mergeMean)
		return nil
	}
	if p.Bool("normalize") {
		z := sumWeights(w)
		if math.Abs(z) < sumWeightEps {
			z = 1
		}
		for i := range w {
			w[i] = float32(float64(w[i]) / z)
		}
	}
	tensor.WeightedSum(dst, w, taus)
	return nil
}

// sparsifyJob runs one model's sparsification per index (tensor.Runner).
type sparsifyJob struct {
	op    *gtaOp
	in    *TensorInputs
	env   *Env
	state any
	taus  [][]float32
	bufs  [][]float32 // per model: selection scratch / saved τ / probabilities
	keys  [][]uint64  // per model: DELLA sort keys of one row
	probs [][]float32 // per model: DELLA keep probabilities of one row
	errs  []error
}

func (j *sparsifyJob) Run(i int) {
	j.errs[i] = j.op.sparsify(j.taus[i], i, j.in, j.env, j.state, j.bufs[i], j.keys[i], j.probs[i])
}

func growSlices[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// rowLength is the MAGPRUNE row length: the product of all but the first
// dimension (the whole tensor for 1-D tensors).
func rowLength(shape []int, numel int) int {
	if len(shape) >= 2 && shape[0] > 0 {
		return numel / shape[0]
	}
	return numel
}

// sparsify replaces tau (model i's task vector) by its sparsified version;
// buf has len(tau) elements of scratch.
func (o *gtaOp) sparsify(tau []float32, i int, in *TensorInputs, env *Env, state any, buf []float32, keys []uint64, probs []float32) error {
	p := env.Params
	numel := len(tau)
	density := p.ModelFloat("density", i)
	switch o.kind {
	case sparsifyMagnitude:
		if st, ok := state.(*tiesState); ok && st != nil {
			idx := st.tensorIdx[in.Name]
			keepTopWithTies(tau, tau, st.thr[i], st.ties[i][idx])
			return nil
		}
		TrimTopK(tau, tau, KeepCount(density, numel, false), buf)
	case sparsifyBand:
		keep := int(math.Floor(density * float64(numel)))
		top := int(math.Floor(p.ModelFloat("gamma", i) * float64(numel)))
		top = min(top, numel-keep)
		tensor.BandMagnitude(tau, tau, top, keep, buf)
	case sparsifyRandom:
		if density >= 1 {
			return nil
		}
		rescale := p.Choice("rescale")
		orig := buf
		copy(orig, tau)
		r := modelStream(env.Seed, o.name, i, in.Name)
		inv := float32(1)
		if rescale == rescaleInverse && density > 0 {
			inv = float32(1 / density)
		}
		var u uniforms
		for e := range tau {
			if u.next(r) < density {
				tau[e] *= inv
			} else {
				tau[e] = 0
			}
		}
		if rescale == rescaleL1 {
			rescaleL1Norm(tau, orig)
		}
	case sparsifyMagprune:
		return o.magprune(tau, i, in, env, buf, keys, probs)
	}
	return nil
}

// uniforms yields uniform [0,1) numbers with 32-bit resolution, two per
// 64-bit draw (low half first), so element e of a tensor always uses the same
// bits of its stream.
type uniforms struct {
	word uint64
	have bool
}

func (u *uniforms) next(r *rand.PCG) float64 {
	if !u.have {
		u.word = r.Uint64()
		u.have = true
		return float64(uint32(u.word)) * 0x1p-32
	}
	u.have = false
	return float64(uint32(u.word>>32)) * 0x1p-32
}

// magprune implements DELLA's MAGPRUNE on one task vector.
func (o *gtaOp) magprune(tau []float32, i int, in *TensorInputs, env *Env, buf []float32, keys []uint64, probs []float32) error {
	if len(tau) == 0 {
		return nil
	}
	tmp := keys[len(keys)/2:]
	keys = keys[:len(keys)/2]
	p := env.Params
	density, eps := p.ModelFloat("density", i), p.ModelFloat("epsilon", i)
	numel := len(tau)
	switch {
	case density >= 1:
		return nil
	case density <= 0:
		clear(tau)
		return nil
	case density-eps < 0 || density+eps > 1:
		return errParam(o.name, in.Name, "model %d: keep probabilities density ± epsilon = [%g, %g] leave [0, 1]; lower epsilon or move density", i+1, density-eps, density+eps)
	}
	rowLen := rowLength(in.Shape, numel)
	rows := numel / rowLen
	rescale := p.Choice("rescale")
	var orig []float32
	if rescale == rescaleL1 {
		orig = buf
		copy(orig, tau)
	}
	r := modelStream(env.Seed, o.name, i, in.Name)
	var u uniforms
	for row := range rows {
		x := tau[row*rowLen : (row+1)*rowLen]
		// Sort keys |x| (order-preserving bits of a non-negative float) in the
		// high half and the index in the low half: ascending magnitude, ties
		// by index.
		for e, v := range x {
			keys[e] = uint64(math.Float32bits(v)&^(1<<31))<<32 | uint64(e)
		}
		radixSortHigh32(keys, tmp)
		// keys[rank] holds the entry with that ascending-magnitude rank; the
		// mask is drawn in index order so the stream layout does not depend
		// on the sort.
		for rank, k := range keys {
			rho := 0.5
			if rowLen > 1 {
				rho = float64(rank) / float64(rowLen-1)
			}
			probs[uint32(k)] = float32(density - eps + 2*eps*rho)
		}
		for e := range x {
			pe := float64(probs[e])
			if u.next(r) < pe {
				if rescale == rescaleInverse {
					x[e] = float32(float64(x[e]) / pe)
				}
			} else {
				x[e] = 0
			}
		}
	}
	if orig != nil {
		rescaleL1Norm(tau, orig)
	}
	return nil
}

// radixSortHigh32 sorts keys by their high 32 bits with a stable LSD radix
// sort (four 8-bit passes, skipping passes where every key has the same
// digit), so keys equal in the high half keep their input order. tmp needs
// len(keys) elements.
func radixSortHigh32(keys, tmp []uint64) {
	src, dst := keys, tmp[:len(keys)]
	for shift := uint(32); shift < 64; shift += 8 {
		var count [257]int
		for _, k := range src {
			count[(k>>shift)&0xff+1]++
		}
		if count[((src[0]>>shift)&0xff)+1] == len(src) {
			continue // every key has this digit
		}
		for d := 1; d < 257; d++ {
			count[d] += count[d-1]
		}
		for _, k := range src {
			d := (k >> shift) & 0xff
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// tiesState is the model-wide trim of TIES with trim_scope = model.
type tiesState struct {
	thr       []float32         // per model: k-th largest |τ_i| over the model
	ties      []map[int32]int64 // per model: entries equal to thr kept per tensor
	tensorIdx map[string]int32
}

// tiesOp is TIES: the magnitude-trim member of the family, the only one with
// a model-wide pass (trim_scope = model).
type tiesOp struct{ *gtaOp }

// Prepare computes, for trim_scope = model, each model's exact k-th largest
// |τ_i| over all mergeable tensors with k = floor(density_i·D); with
// trim_scope = tensor it reads nothing.
func (o tiesOp) Prepare(ctx context.Context, src Source, plan *Plan) (any, error) {
	def := plan.Resolved.def
	if def.Choice("trim_scope") != TrimModel {
		for i := range plan.Tensors {
			if tp := &plan.Tensors[i]; !tp.PerTask && tp.Env.Params.Choice("trim_scope") == TrimModel {
				return nil, fmt.Errorf("%s: trim_scope = model must be set at the method level, not per group or tensor", o.name)
			}
		}
		return nil, nil
	}
	n := plan.NumModels
	// One density per model over the whole model.
	for i := range plan.Tensors {
		tp := &plan.Tensors[i]
		if tp.PerTask {
			continue
		}
		for m := range n {
			if tp.Env.Params.ModelFloat("density", m) != def.ModelFloat("density", m) {
				return nil, fmt.Errorf("%s: trim_scope = model needs one density per model for the whole model, but tensor %q overrides it; remove the per-group/per-tensor density or use trim_scope = tensor", o.name, tp.Meta.Name)
			}
		}
	}
	st := &tiesState{thr: make([]float32, n), ties: make([]map[int32]int64, n), tensorIdx: map[string]int32{}}
	g := newGlobalKth(n)
	var buf []float32
	absTau := func(in *TensorInputs, m int) []float32 {
		if cap(buf) < len(in.Base) {
			buf = make([]float32, len(in.Base))
		}
		b := buf[:len(in.Base)]
		for e := range b {
			b[e] = float32(math.Abs(float64(in.Models[m][e] - in.Base[e])))
		}
		return b
	}
	var total int64
	err := forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		st.tensorIdx[tp.Meta.Name] = int32(len(st.tensorIdx))
		total += int64(len(in.Base))
		for m := range n {
			g.observe(m, absTau(in, m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	qs := make([]int, n)
	for m := range n {
		k := int64(KeepCount(def.ModelFloat("density", m), int(total), false))
		if k <= 0 {
			qs[m] = -1
			continue
		}
		qs[m] = g.addQuery(m, k)
	}
	idx := int32(0)
	err = forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		for m := range n {
			g.collect(m, int(idx), absTau(in, m))
		}
		idx++
		return nil
	})
	if err != nil {
		return nil, err
	}
	g.finish()
	for m := range n {
		if qs[m] < 0 {
			st.thr[m] = float32(math.Inf(1))
			st.ties[m] = map[int32]int64{}
			continue
		}
		q := &g.queries[qs[m]]
		st.thr[m], st.ties[m] = q.value, q.ties
	}
	return st, nil
}
