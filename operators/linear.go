package operators

import (
	"math"

	"github.com/evomerge/evomerge/internal/tensor"
)

// deltaOperator is a task-vector method: θ = θ0 + λ·τ_m. mergeDelta writes
// τ_m, the merged task vector before λ, into dst; it never reads "lambda".
// LiNeS wraps any deltaOperator. state is the operator's own Prepare state.
type deltaOperator interface {
	Operator
	mergeDelta(dst []float32, in *TensorInputs, env *Env, state any, s *Scratch) error
}

// finishDelta turns a merged task vector in dst into θ0 + λ·dst.
func finishDelta(dst []float32, base []float32, lambda float32) {
	for i := range dst {
		dst[i] = base[i] + lambda*dst[i]
	}
}

// mergeViaDelta implements Merge for delta operators.
func mergeViaDelta(op deltaOperator, dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	if err := op.mergeDelta(dst, in, env, env.State, s); err != nil {
		return err
	}
	finishDelta(dst, in.Base, float32(env.Params.Float("lambda")))
	return nil
}

// ---- linear ----

type linearOp struct{}

// Linear is the weighted average (model soup): θ = Σ w_i θ_i / Z with Z = Σ w_i
// when normalize (default, as mergekit), else 1. The base is not included
// (FusionBench SimpleAverage). With normalize, Σw≈0 or a negative weight is an
// error.
func Linear() Operator { return linearOp{} }

func (linearOp) Name() string    { return "linear" }
func (linearOp) Formula() string { return "θ = Σ w_i θ_i / Σ w_i (÷ only with normalize)" }
func (linearOp) Params() []ParamSpec {
	return []ParamSpec{weightSpec, normalizeSpec(true)}
}
func (linearOp) Requirements() Requirements {
	return Requirements{Base: BaseUnused, MinModels: 1}
}

func (linearOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	n := len(in.Models)
	w := modelWeights(s, env.Params, "weight", n, slotWeights)
	if env.Params.Bool("normalize") {
		z := sumWeights(w)
		for i, v := range w {
			if v < 0 {
				return errParam("linear", in.Name, "model %d has negative weight %g with normalize = true; use normalize = false for negative weights", i+1, v)
			}
		}
		if math.Abs(z) < sumWeightEps {
			return errParam("linear", in.Name, "the weights sum to %g with normalize = true; give at least one positive weight", z)
		}
		for i := range w {
			w[i] = float32(float64(w[i]) / z)
		}
	}
	tensor.WeightedSum(dst, w, in.Models)
	return nil
}

// ---- task arithmetic ----

type taskArithmeticOp struct{}

// TaskArithmetic is θ = θ0 + λ·Σ w_i τ_i (÷Σw with normalize; |Σw|<1e-8
// divides by 1, as mergekit). Defaults λ = 1 and w_i = 1 (mergekit); the
// FusionBench CLIP default is λ = 0.3.
func TaskArithmetic() Operator { return taskArithmeticOp{} }

func (taskArithmeticOp) Name() string { return "task_arithmetic" }
func (taskArithmeticOp) Formula() string {
	return "θ = θ0 + λ·Σ w_i (θ_i − θ0) (÷ Σ w_i with normalize)"
}
func (taskArithmeticOp) Params() []ParamSpec {
	return []ParamSpec{weightSpec, lambdaSpec, normalizeSpec(false)}
}
func (taskArithmeticOp) Requirements() Requirements {
	return Requirements{Base: BaseRequired, MinModels: 1}
}

// taskWeights returns w_i (÷Σw when normalize) in the weights slot.
func taskWeights(s *Scratch, p *Params, n int) []float32 {
	w := modelWeights(s, p, "weight", n, slotWeights)
	if p.Bool("normalize") {
		z := sumWeights(w)
		if math.Abs(z) < sumWeightEps {
			z = 1
		}
		for i := range w {
			w[i] = float32(float64(w[i]) / z)
		}
	}
	return w
}

func (op taskArithmeticOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	w := taskWeights(s, env.Params, len(in.Models))
	lambda := float32(env.Params.Float("lambda"))
	for i := range w {
		w[i] *= lambda
	}
	tensor.TaskSum(dst, in.Base, w, in.Models)
	return nil
}

func (taskArithmeticOp) mergeDelta(dst []float32, in *TensorInputs, env *Env, _ any, s *Scratch) error {
	w := taskWeights(s, env.Params, len(in.Models))
	// Σ w_i (θ_i − θ0), computed without materialising τ_i.
	for e := range dst {
		var acc float32
		b := in.Base[e]
		for i, m := range in.Models {
			acc += w[i] * (m[e] - b)
		}
		dst[e] = acc
	}
	return nil
}
