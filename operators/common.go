package operators

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/evomerge/evomerge/internal/rng"
)

// Shared parameter specs. Per-model weights and λ are layered: they may vary
// per layer group and per tensor.
var (
	weightSpec = ParamSpec{Name: "weight", Kind: KindFloat, Scope: ScopeModel, Min: -10, Max: 10, Default: F(1), Layered: true,
		Doc: "per-model weight w_i"}
	lambdaSpec = ParamSpec{Name: "lambda", Kind: KindFloat, Scope: ScopeGlobal, Min: -10, Max: 10, Default: F(1), Layered: true,
		Doc: "scale λ of the merged task vector"}
	densitySpec = func(def float64, doc string) ParamSpec {
		return ParamSpec{Name: "density", Kind: KindFloat, Scope: ScopeModel, Min: 0, Max: 1, Default: F(def), Layered: true, Doc: doc}
	}
	rescaleSpec = ParamSpec{Name: "rescale", Kind: KindChoice, Scope: ScopeGlobal, Default: C(rescaleInverse),
		Choices: []string{rescaleInverse, rescaleL1, rescaleNone},
		Doc:     "kept entries ×1/keep-probability (paper), or ×‖τ‖₁/‖m⊙τ‖₁ per tensor (mergekit), or none"}
	mergeModeSpec = func(def string) ParamSpec {
		return ParamSpec{Name: "merge", Kind: KindChoice, Scope: ScopeGlobal, Default: C(def), Choices: []string{mergeMean, mergeSum},
			Doc: "disjoint mean (TIES paper) or sum of the entries that agree with the elected sign"}
	}
	normalizeSpec = func(def bool) ParamSpec {
		return ParamSpec{Name: "normalize", Kind: KindBool, Scope: ScopeGlobal, Default: B(def), Doc: "divide the weighted sum by Σw_i"}
	}
)

const (
	rescaleInverse = "inverse"
	rescaleL1      = "l1"
	rescaleNone    = "none"
	mergeMean      = "mean"
	mergeSum       = "sum"
	// sumWeightEps: |Σw| below this counts as zero.
	sumWeightEps = 1e-8
)

// Scratch slot numbers shared by the operators. Float slots 0..15 are free for
// an operator's own use; per-model buffers start at slotModels.
const (
	slotWeights  = 0  // float32 per-model coefficients
	slotTmp      = 1  // one tensor-sized temporary
	slotTmp2     = 2  // another
	slotSelect   = 3  // selection scratch
	slotMix      = 4  // per-model mixing coefficients
	slotDelta    = 5  // merged task vector (LiNeS)
	slotModels   = 16 // per-model buffers: bank k of n models is slotModels + k·n + i
	slotF64Gram  = 0  // float64 Gram matrix
	slotF64Coef  = 1  // float64 coefficients
	slotF64Solve = 2
)

// bankSlot is the float slot of model i in per-model bank k (0: task vectors,
// 1 and 2: operator temporaries) for a merge of n models.
func bankSlot(k, n, i int) int { return slotModels + k*n + i }

// modelWeights returns the per-model values of a ScopeModel float parameter as
// float32 in a scratch slot.
func modelWeights(s *Scratch, p *Params, name string, n, slot int) []float32 {
	w := s.Floats(slot, n)
	for i := range w {
		w[i] = float32(p.ModelFloat(name, i))
	}
	return w
}

// modelSlices returns a reusable [][]float32 header of length n in s.
func (s *Scratch) modelSlices(n int) [][]float32 {
	if cap(s.views) < n {
		s.views = make([][]float32, n)
	}
	return s.views[:n]
}

// taskVectors fills one scratch buffer per model with τi = θi − θ0.
func taskVectors(s *Scratch, in *TensorInputs) [][]float32 {
	views := s.modelSlices(len(in.Models))
	for i, m := range in.Models {
		buf := s.Floats(bankSlot(0, len(in.Models), i), len(m))
		TaskVector(buf, m, in.Base)
		views[i] = buf
	}
	return views
}

// sumWeights returns Σw in float64.
func sumWeights(w []float32) float64 {
	var z float64
	for _, v := range w {
		z += float64(v)
	}
	return z
}

// modelStream returns the random stream of one (operator, model, tensor).
func modelStream(seed uint64, op string, model int, tensor string) *rand.PCG {
	return rng.NewSource(seed, "operators", op, strconv.Itoa(model), tensor)
}

// applyRescale rescales a sparsified task vector: for l1 it multiplies by
// ‖orig‖₁/‖sparse‖₁ (skipped when either is below 1e-7, as mergekit).
// Inverse-probability rescaling is applied by the caller during sampling.
func rescaleL1Norm(sparse, orig []float32) {
	a, b := l1(orig), l1(sparse)
	if a < 1e-7 || b < 1e-7 {
		return
	}
	f := float32(a / b)
	for i := range sparse {
		sparse[i] *= f
	}
}

func l1(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += math.Abs(float64(v))
	}
	return s
}

func errParam(op, tensor, format string, args ...any) error {
	return fmt.Errorf("%s: tensor %q: %s", op, tensor, fmt.Sprintf(format, args...))
}
