package operators

import (
	"math"

	"github.com/evomerge/evomerge/internal/tensor"
)

type consensusOp struct{}

const (
	mtlSum  = "sum"
	mtlTIES = "ties"
)

// Consensus is Consensus Merging with TALL masks (Wang, Dimitriadis et al.,
// 2024). τ_MTL is the plain sum Σ_t τ_t (mtl = sum) or TIES with per-tensor
// top-density trim and sum aggregation (mtl = ties). Task t's TALL mask is
// m_t = 1[|τ_t| > λ_t·|τ_MTL − τ_t|] (strict), the consensus mask keeps
// entries used by at least k tasks, and θ = θ0 + λ·(M_cons ⊙ τ_MTL). k = 0
// gives the base method, k > T gives θ0. With tall_task = t ≥ 1 the operator
// instead reconstructs task t's model θ0 + m_t ⊙ τ_MTL (TALL-mask retrieval).
func Consensus() Operator { return consensusOp{} }

func (consensusOp) Name() string { return "consensus" }
func (consensusOp) Formula() string {
	return "θ = θ0 + λ·1[#{t : |τ_t| > λ_t|τ_MTL − τ_t|} ≥ k] ⊙ τ_MTL"
}
func (consensusOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "lambda_t", Kind: KindFloat, Scope: ScopeModel, Min: 0, Max: 10, Default: F(0.6), Layered: true,
			Doc: "TALL mask threshold λ_t per task (paper grid 0.2–0.6; FusionBench data-free default 0.6)"},
		{Name: "k", Kind: KindInt, Scope: ScopeGlobal, Min: 0, Max: 1024, Default: I(2), Layered: true,
			Doc: "minimum number of tasks whose mask keeps an entry"},
		{Name: "mtl", Kind: KindChoice, Scope: ScopeGlobal, Default: C(mtlSum), Choices: []string{mtlSum, mtlTIES},
			Doc: "multi-task vector: Σ τ_t, or TIES (top-density trim, elect, sum)"},
		densitySpec(0.2, "TIES keep fraction when mtl = ties"),
		{Name: "tall_task", Kind: KindInt, Scope: ScopeGlobal, Min: 0, Max: 1024, Default: I(0),
			Doc: "0: consensus merge; t ≥ 1: reconstruct task t with its TALL mask"},
		lambdaSpec,
	}
}
func (consensusOp) Requirements() Requirements {
	return Requirements{Base: BaseRequired, MinModels: 1}
}

func (o consensusOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	if task := env.Params.Int("tall_task"); task > len(in.Models) {
		return errParam("consensus", in.Name, "tall_task = %d but there are %d task models; give 0..%d", task, len(in.Models), len(in.Models))
	}
	return mergeViaDelta(o, dst, in, env, s)
}

func (consensusOp) mergeDelta(dst []float32, in *TensorInputs, env *Env, _ any, s *Scratch) error {
	p := env.Params
	n := len(in.Models)
	taus := taskVectors(s, in)
	mtl := s.Floats(slotTmp2, len(dst))
	ones := s.Floats(slotWeights, n)
	for i := range ones {
		ones[i] = 1
	}
	if p.Choice("mtl") == mtlTIES {
		trimmed := s.modelSlices(n) // reuse views for the trimmed copies
		for i := range taus {
			buf := s.Floats(bankSlot(1, n, i), len(dst))
			TrimTopK(buf, taus[i], KeepCount(p.ModelFloat("density", i), len(dst), false), s.Floats(slotSelect, len(dst)))
			trimmed[i] = buf
		}
		tensor.DisjointMerge(mtl, ones, trimmed, false)
		// restore the task-vector views
		taus = taskVectors(s, in)
	} else {
		tensor.WeightedSum(mtl, ones, taus)
	}
	lt := s.Floats(slotMix, n)
	for i := range lt {
		lt[i] = float32(p.ModelFloat("lambda_t", i))
	}
	k := p.Int("k")
	task := p.Int("tall_task")
	for e := range dst {
		m := mtl[e]
		if task > 0 {
			t := taus[task-1][e]
			if abs(t) > lt[task-1]*abs(m-t) {
				dst[e] = m
			} else {
				dst[e] = 0
			}
			continue
		}
		count := 0
		for i := range taus {
			t := taus[i][e]
			if abs(t) > lt[i]*abs(m-t) {
				count++
			}
		}
		if count >= k {
			dst[e] = m
		} else {
			dst[e] = 0
		}
	}
	return nil
}

func abs(x float32) float32 { return float32(math.Abs(float64(x))) }
