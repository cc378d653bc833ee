package operators

import (
	"math"
	"slices"

	"github.com/evomerge/evomerge/internal/tensor"
)

// Task-vector and TIES kernels. The operators of this package are built from
// them, and code outside it that needs the same math on resident tensors
// (AdaMerging++'s TIES-processed task vectors, FW-Merging's TIES step) calls
// them instead of keeping its own copy. None of them allocates, except Trim
// when the scratch it is given is too short.

// Trim scopes of a TIES trim: the values of the ties operator's trim_scope.
const (
	TrimTensor = "tensor" // the top fraction of each tensor (mergekit)
	TrimModel  = "model"  // the top fraction of the whole task vector (TIES paper, FusionBench, AdaMerging++)
)

// TaskVector writes model θ's task vector τ = θ − θ0 into dst. The slices
// must have the same length; dst may alias theta or base.
func TaskVector(dst, theta, base []float32) { tensor.Sub(dst, theta, base) }

// AddTaskVector adds w·(θ − θ0) to dst elementwise in float32, without
// materialising τ: one term of task arithmetic θ0 + Σ w_i τ_i accumulated
// one model at a time. The slices must have the same length.
func AddTaskVector(dst []float32, w float32, theta, base []float32) {
	if len(theta) != len(dst) || len(base) != len(dst) {
		panic("operators: AddTaskVector: lengths differ")
	}
	for i, v := range theta {
		dst[i] += w * (v - base[i])
	}
}

// LinearCombination writes Σ coef[i]·xs[i] into dst, accumulated in
// float64 and rounded once: the exact weighted sum of models (weight
// averaging, task arithmetic written over absolute weights), for merges
// measured as references, where float32 accumulation would make the result
// depend on the order of the models. acc is scratch of at least len(dst)
// (nil allocates); it is returned for reuse. The slices must have the
// same length.
func LinearCombination(dst []float32, coef []float64, xs [][]float32, acc []float64) []float64 {
	if len(coef) != len(xs) {
		panic("operators: LinearCombination: one coefficient per model")
	}
	acc = slices.Grow(acc[:0], len(dst))[:len(dst)]
	clear(acc)
	for i, x := range xs {
		if len(x) != len(dst) {
			panic("operators: LinearCombination: lengths differ")
		}
		c := coef[i]
		for j, v := range x {
			acc[j] += c * float64(v)
		}
	}
	for j, v := range acc {
		dst[j] = float32(v)
	}
	return acc
}

// KeepCount is the number of entries a TIES trim to the keep fraction keeps
// of n: ⌊keep·n⌋, the ties operator's count (keep·n < 1 keeps none), or with
// roundUp ⌈keep·n⌉, the count AdaMerging++ and FW-Merging use here (at least
// one entry of a non-empty vector for keep > 0).
func KeepCount(keep float64, n int, roundUp bool) int {
	if roundUp {
		return int(math.Ceil(keep * float64(n)))
	}
	return int(math.Floor(keep * float64(n)))
}

// TrimTopK is the TIES trim of one tensor: dst keeps the k entries of tau
// largest in magnitude and is zero elsewhere. Exactly k entries are kept
// (entries tied with the k-th magnitude in index order); k ≤ 0 keeps none,
// k ≥ len(tau) keeps all. scratch needs len(tau) elements; dst may alias tau.
func TrimTopK(dst, tau []float32, k int, scratch []float32) {
	tensor.TopKMagnitude(dst, tau, k, scratch)
}

// TrimScratch is the scratch length Trim needs for tau with scope: the
// largest tensor (TrimTensor) or twice the whole vector (TrimModel).
func TrimScratch(tau [][]float32, scope string) int {
	n := 0
	for _, t := range tau {
		if scope == TrimModel {
			n += 2 * len(t)
		} else {
			n = max(n, len(t))
		}
	}
	return n
}

// Trim is the TIES trim of one task vector held as tensors tau[l] (in
// canonical order): with TrimTensor each tensor keeps its own
// KeepCount(keep, len(tau[l]), roundUp) entries largest in magnitude (TrimTopK);
// with TrimModel the tensors are taken as one vector in the order given, and
// it keeps KeepCount(keep, Σ len, roundUp) entries, ties at the threshold in
// that order, the same selection as the ties operator's trim_scope = model
// (which finds it by streaming). dst[l] receives tensor l and may alias
// tau[l]. scratch (TrimScratch elements) is grown when short and returned,
// so a caller that keeps it trims without allocating. An unknown scope
// panics.
func Trim(dst, tau [][]float32, keep float64, scope string, roundUp bool, scratch []float32) []float32 {
	if len(dst) != len(tau) {
		panic("operators: Trim: dst and tau have different tensor counts")
	}
	if scope != TrimTensor && scope != TrimModel {
		panic("operators: Trim: unknown scope " + scope)
	}
	if need := TrimScratch(tau, scope); cap(scratch) < need {
		scratch = make([]float32, need)
	}
	if scope == TrimTensor {
		for l, t := range tau {
			TrimTopK(dst[l], t, KeepCount(keep, len(t), roundUp), scratch[:len(t)])
		}
		return scratch
	}
	total := 0
	for l, t := range tau {
		if len(dst[l]) != len(t) {
			panic("operators: Trim: lengths differ")
		}
		total += len(t)
	}
	flat, sel := scratch[:total], scratch[total:2*total]
	off := 0
	for _, t := range tau {
		copy(flat[off:], t)
		off += len(t)
	}
	TrimTopK(flat, flat, KeepCount(keep, total, roundUp), sel)
	off = 0
	for _, d := range dst {
		copy(d, flat[off:off+len(d)])
		off += len(d)
	}
	return scratch
}

// ElectSign is TIES's sign election for one tensor of n models: sign[e] is
// +1 where Σ_i w[i]·xs[i][e] > 0, −1 where it is < 0, and zero where the sum
// is 0 (or NaN). The sum runs in float32 in model order; w == nil means unit
// weights. The ties operator elects with its weights and zero = +1 (fused
// into its disjoint merge); AdaMerging++ elects unweighted with zero =
// MassSign. xs[i] and sign must have the same length.
func ElectSign(sign, w []float32, xs [][]float32, zero float32) {
	for _, x := range xs {
		if len(x) != len(sign) {
			panic("operators: ElectSign: lengths differ")
		}
	}
	if w != nil && len(w) != len(xs) {
		panic("operators: ElectSign: one weight per model")
	}
	for e := range sign {
		var s float32
		if w == nil {
			for _, x := range xs {
				s += x[e]
			}
		} else {
			for i, x := range xs {
				s += w[i] * x[e]
			}
		}
		g := zero
		switch {
		case s > 0:
			g = 1
		case s < 0:
			g = -1
		}
		sign[e] = g
	}
}

// DropDisagreeing zeroes, in place, every entry of xs[i] whose weighted
// value has the sign opposite to the elected one (w[i]·xs[i][e]·sign[e] < 0;
// w == nil means unit weights): TIES's disjoint step without the merge. The
// entries left with a non-zero weighted value are exactly those the ties
// operator's disjoint merge of the same election combines, so Σ_i w[i]·xs[i]
// afterwards is its disjoint sum.
func DropDisagreeing(xs [][]float32, w, sign []float32) {
	if w != nil && len(w) != len(xs) {
		panic("operators: DropDisagreeing: one weight per model")
	}
	for i, x := range xs {
		if len(x) != len(sign) {
			panic("operators: DropDisagreeing: lengths differ")
		}
		if w == nil {
			for e, g := range sign {
				if x[e]*g < 0 {
					x[e] = 0
				}
			}
			continue
		}
		wi := w[i]
		for e, g := range sign {
			if wi*x[e]*g < 0 {
				x[e] = 0
			}
		}
	}
}

// MassSign is the sign of the total mass of trimmed task vectors taus[i][l]
// (model i, tensor l): +1 when Σ over every entry (float64, in model, tensor,
// index order) is ≥ 0, else −1. AdaMerging++ here gives it to coordinates
// whose elected sum is zero.
func MassSign(taus [][][]float32) float32 {
	var mass float64
	for _, vecs := range taus {
		for _, t := range vecs {
			for _, v := range t {
				mass += float64(v)
			}
		}
	}
	if mass < 0 {
		return -1
	}
	return 1
}
