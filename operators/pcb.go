package operators

import (
	"context"
	"fmt"
	"math"
)

type pcbOp struct{}

// PCB is PCB-Merging (Parameter Competition Balancing), following the
// reference code, with every quantile taken over the whole model per task
// (exact nearest-rank quantiles; the reference uses torch.quantile's linear
// interpolation, which differs by at most one rank):
//
//  1. clip: |τ_i| is clamped to its [clip, 1−clip] quantiles, sign kept → τ'_i;
//  2. intra-balancing β_intra = exp(N·MinMax(τ'_i²)) (the paper's softmax
//     without its per-task constant, which the final min-max removes);
//  3. inter-balancing β_inter = tanh(τ'_i ⊙ Σ_j τ'_j);
//  4. β_i = β_intra ⊙ β_inter; values below β_i's (1−ratio) quantile are raised
//     to it and β_i is min-max normalised to [0,1], so only the top ratio
//     fraction is non-zero;
//  5. τ_m = Σ β̂_i τ'_i / max(Σ β̂_i, 1e-12), θ = θ0 + λ·τ_m.
func PCB() Operator { return pcbOp{} }

func (pcbOp) Name() string { return "pcb" }
func (pcbOp) Formula() string {
	return "θ = θ0 + λ·Σ β̂_i τ'_i / Σ β̂_i, β̂ = top-ratio minmax(exp(N·minmax(τ'²)) ⊙ tanh(τ' ⊙ Σ τ'))"
}
func (pcbOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "ratio", Kind: KindFloat, Scope: ScopeGlobal, Min: 0, Max: 1, Default: F(0.1),
			Doc: "fraction of each task's parameters kept (reference code 0.1; the paper's drop ratio is 1 − ratio)"},
		{Name: "clip", Kind: KindFloat, Scope: ScopeGlobal, Min: 0, Max: 0.49, Default: F(1e-4),
			Doc: "outlier quantile: |τ| is clamped to [clip, 1 − clip] quantiles"},
		lambdaSpec,
	}
}
func (pcbOp) Requirements() Requirements {
	return Requirements{Base: BaseRequired, MinModels: 1, ModelWide: true}
}

// pcbState holds each task's model-wide quantities.
type pcbState struct {
	lo, hi   []float32 // clip bounds of |τ_i|
	q, bmax  []float32 // (1−ratio) quantile and maximum of β_i
	keepNone bool      // ratio = 0
}

func (o pcbOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	return mergeViaDelta(o, dst, in, env, s)
}

// pcbClipped fills per-model buffers with τ'_i (clipped task vectors).
func pcbClipped(s *Scratch, in *TensorInputs, lo, hi []float32) [][]float32 {
	taus := taskVectors(s, in)
	for i, t := range taus {
		for e, v := range t {
			a := abs(v)
			switch {
			case a < lo[i]:
				t[e] = float32(math.Copysign(float64(lo[i]), float64(v)))
			case a > hi[i]:
				t[e] = float32(math.Copysign(float64(hi[i]), float64(v)))
			}
		}
	}
	return taus
}

// pcbBetas writes β_i = exp(N·minmax(τ'_i²))·tanh(τ'_i ⊙ Σ_j τ'_j) into
// per-model bank 1.
func pcbBetas(s *Scratch, taus [][]float32, lo, hi []float32) [][]float32 {
	n := len(taus)
	size := len(taus[0])
	sum := s.Floats(slotTmp, size)
	clear(sum)
	for _, t := range taus {
		for e, v := range t {
			sum[e] += v
		}
	}
	out := s.betaViews(n)
	for i, t := range taus {
		b := s.Floats(bankSlot(1, n, i), size)
		l2, h2 := float64(lo[i])*float64(lo[i]), float64(hi[i])*float64(hi[i])
		span := h2 - l2
		for e, v := range t {
			norm := 0.0
			if span > 0 {
				norm = (float64(v)*float64(v) - l2) / span
			}
			b[e] = float32(math.Exp(float64(n)*norm) * math.Tanh(float64(v)*float64(sum[e])))
		}
		out[i] = b
	}
	return out
}

// betaViews is a second reusable header for per-model slices.
func (s *Scratch) betaViews(n int) [][]float32 {
	if cap(s.views2) < n {
		s.views2 = make([][]float32, n)
	}
	return s.views2[:n]
}

func (pcbOp) mergeDelta(dst []float32, in *TensorInputs, env *Env, state any, s *Scratch) error {
	st, ok := state.(*pcbState)
	if !ok {
		return errParam("pcb", in.Name, "the model-wide pass has not run; merge through a Plan")
	}
	if st.keepNone {
		clear(dst)
		return nil
	}
	taus := pcbClipped(s, in, st.lo, st.hi)
	betas := pcbBetas(s, taus, st.lo, st.hi)
	for e := range dst {
		var num, den float64
		for i, t := range taus {
			span := st.bmax[i] - st.q[i]
			if span <= 0 {
				continue
			}
			b := (max(betas[i][e], st.q[i]) - st.q[i]) / span
			num += float64(b) * float64(t[e])
			den += float64(b)
		}
		dst[e] = float32(num / math.Max(den, 1e-12))
	}
	return nil
}

func (o pcbOp) Prepare(ctx context.Context, src Source, plan *Plan) (any, error) {
	def := plan.Resolved.def
	for i := range plan.Tensors {
		tp := &plan.Tensors[i]
		if !tp.PerTask && (tp.Env.Params.Float("ratio") != def.Float("ratio") || tp.Env.Params.Float("clip") != def.Float("clip")) {
			return nil, fmt.Errorf("pcb: ratio and clip are model-wide quantiles; tensor %q overrides them, give them at the method level only", tp.Meta.Name)
		}
	}
	n := plan.NumModels
	st := &pcbState{lo: make([]float32, n), hi: make([]float32, n), q: make([]float32, n), bmax: make([]float32, n)}
	ratio, clip := def.Float("ratio"), def.Float("clip")
	if ratio <= 0 {
		st.keepNone = true
		return st, nil
	}
	var total int64
	var absBuf []float32
	absTau := func(in *TensorInputs, m int) []float32 {
		if cap(absBuf) < len(in.Base) {
			absBuf = make([]float32, len(in.Base))
		}
		b := absBuf[:len(in.Base)]
		for e := range b {
			b[e] = abs(in.Models[m][e] - in.Base[e])
		}
		return b
	}
	// Passes 1-2: clip bounds of |τ_i|.
	g := newGlobalKth(n)
	err := forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		total += int64(len(in.Base))
		for m := range n {
			g.observe(m, absTau(in, m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return st, nil
	}
	loQ, hiQ := make([]int, n), make([]int, n)
	for m := range n {
		loQ[m] = g.addQuery(m, quantileRank(clip, total))
		hiQ[m] = g.addQuery(m, quantileRank(1-clip, total))
	}
	idx := 0
	err = forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		for m := range n {
			g.collect(m, idx, absTau(in, m))
		}
		idx++
		return nil
	})
	if err != nil {
		return nil, err
	}
	g.finish()
	for m := range n {
		st.lo[m], st.hi[m] = g.queries[loQ[m]].value, g.queries[hiQ[m]].value
	}
	// Passes 3-4: the (1−ratio) quantile and the maximum of β_i.
	var scratch Scratch
	betasOf := func(in *TensorInputs) [][]float32 {
		taus := pcbClipped(&scratch, in, st.lo, st.hi)
		return pcbBetas(&scratch, taus, st.lo, st.hi)
	}
	gb := newGlobalKth(n)
	err = forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		for m, b := range betasOf(in) {
			gb.observe(m, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	qQ, maxQ := make([]int, n), make([]int, n)
	for m := range n {
		qQ[m] = gb.addQuery(m, quantileRank(1-ratio, total))
		maxQ[m] = gb.addQuery(m, 1)
	}
	idx = 0
	err = forEachMergeable(ctx, plan, src, func(tp *TensorPlan, in *TensorInputs) error {
		for m, b := range betasOf(in) {
			gb.collect(m, idx, b)
		}
		idx++
		return nil
	})
	if err != nil {
		return nil, err
	}
	gb.finish()
	for m := range n {
		st.q[m], st.bmax[m] = gb.queries[qQ[m]].value, gb.queries[maxQ[m]].value
	}
	return st, nil
}
