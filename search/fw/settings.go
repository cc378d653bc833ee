package fw

import (
	"fmt"
	"math"

	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "fw"

// Values of Settings besides the granularities and variants.
const (
	// Starts θ0 of the search: the base model, or task arithmetic over
	// the whole pool.
	InitBase           = "base"
	InitTaskArithmetic = "task_arithmetic"
	// Alignments: cos(g, s − θt), or the reference's cos(g, s).
	AlignmentDirection = "direction"
	AlignmentWeights   = "weights"
	// Losses: cross-entropy on a labelled proxy set, or the entropy of
	// its unlabelled inputs.
	LossCrossEntropy = "cross_entropy"
	LossEntropy      = "entropy"
	// Splits the soft variant's inner AdaMerging adapts on.
	InputsTest       = "test"
	InputsValidation = "validation"
	// Operator is the merge operator whose coefficients record the result.
	Operator = "task_arithmetic"
)

// Defaults of Settings and, for zero Options, of Merge: the reference
// code's except where Settings' comments say.
const (
	DefaultVariant         = VariantHard
	DefaultGranularity     = GranularityLayer
	DefaultIterations      = 10
	DefaultStepSize        = 0.1
	DefaultScale           = 1.0
	DefaultInit            = InitBase
	DefaultInitLambda      = 0.3
	DefaultAlignment       = AlignmentDirection
	DefaultTIESKeep        = 0.3
	DefaultLoss            = LossCrossEntropy
	DefaultProxyExamples   = 200
	DefaultAdaSteps        = search.DefaultAdamSteps
	DefaultAdaLearningRate = search.DefaultAdamLR
	DefaultAdaInit         = 1e-8
	DefaultAdaInputs       = InputsTest
)

// Settings is [search.fw] of an experiment. Defaults are the reference
// code's except where the comment says.
type Settings struct {
	// Variant is "hard" (default) or "soft".
	Variant string `toml:"variant,omitempty"`
	// Granularity is "layer" (per-tensor LMO, default) or "task".
	Granularity string `toml:"granularity,omitempty"`
	// Iterations is T (default 10).
	Iterations int `toml:"iterations,omitempty"`
	// StepSize is η in γt = η·2/(t+2) (default 0.1).
	StepSize float64 `toml:"step_size,omitempty"`
	// Scale is λ: a hard step moves λ·γt of the way (default 1).
	Scale float64 `toml:"scale,omitempty"`
	// Init is the start θ0 of the search: "base" (default) or
	// "task_arithmetic" (λ = InitLambda over the whole pool).
	Init string `toml:"init,omitempty"`
	// InitLambda is the task-arithmetic start's λ (default 0.3).
	InitLambda float64 `toml:"init_lambda,omitempty"`
	// Alignment is "direction" (cos(g, s − θt), default) or "weights" (the
	// reference's cos(g, s)).
	Alignment string `toml:"alignment,omitempty"`
	// TIESKeep is the fraction of a step kept with merge.operator = "ties"
	// (default 0.3).
	TIESKeep float64 `toml:"ties_keep,omitempty"`
	// Loss is "cross_entropy" on a labelled proxy set of the fitness split
	// (default) or "entropy" on its unlabelled inputs.
	Loss string `toml:"loss,omitempty"`
	// ProxyExamples is the size of the proxy set per task, taken from the
	// start of the fitness split (default 200).
	ProxyExamples int `toml:"proxy_examples,omitempty"`
	// AdaSteps, AdaLearningRate and AdaInit configure the soft variant's
	// inner AdaMerging (defaults 500, 0.001, 1e-8); AdaInputs is the split
	// it adapts on: "test" (default, test-time adaptation) or "validation".
	AdaSteps        int     `toml:"ada_steps,omitempty"`
	AdaLearningRate float64 `toml:"ada_learning_rate,omitempty"`
	AdaInit         float64 `toml:"ada_init,omitempty"`
	AdaInputs       string  `toml:"ada_inputs,omitempty"`
}

// Algorithm is FW-Merging's registry entry. Its method runs on the
// alignment evaluator the run offers (search.Problem.Alignment), which also
// maps the merge onto the run's space (Genomer).
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "FW-Merging (Chen et al. 2025): Frank-Wolfe over a pool of checkpoints streamed from disk, hard or soft",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New:         newMethod,
}

// newMethod builds the method from defaulted settings; its iterations are
// reported through env.Progress.
func newMethod(ms search.MethodSettings, env search.Env) (search.Method, error) {
	s, ok := ms.(*Settings)
	if !ok {
		return nil, fmt.Errorf("fw: settings of type %T", ms)
	}
	o := s.Options()
	o.Observe = func(it Iteration) error {
		env.Report(fmt.Sprintf("fw: iteration %d/%d loss %.4f γ %.4f", it.T+1, s.Iterations, it.Loss, it.Gamma),
			"t", it.T, "loss", it.Loss, "gamma", it.Gamma)
		return nil
	}
	return NewMethod(MethodConfig{Options: o})
}

// Defaults fills the defaults. The soft variant selects whole models per
// task, so its granularity stays absent.
func (s *Settings) Defaults(search.Budget) {
	s.Variant = search.Or(s.Variant, DefaultVariant)
	if s.Variant == VariantHard {
		s.Granularity = search.Or(s.Granularity, DefaultGranularity)
	}
	s.Init = search.Or(s.Init, DefaultInit)
	s.Alignment = search.Or(s.Alignment, DefaultAlignment)
	s.Loss = search.Or(s.Loss, DefaultLoss)
	s.AdaInputs = search.Or(s.AdaInputs, DefaultAdaInputs)
	search.DefaultInt(&s.Iterations, DefaultIterations)
	search.DefaultFloat(&s.StepSize, DefaultStepSize)
	search.DefaultFloat(&s.Scale, DefaultScale)
	search.DefaultFloat(&s.InitLambda, DefaultInitLambda)
	search.DefaultFloat(&s.TIESKeep, DefaultTIESKeep)
	search.DefaultInt(&s.ProxyExamples, DefaultProxyExamples)
	search.DefaultInt(&s.AdaSteps, DefaultAdaSteps)
	search.DefaultFloat(&s.AdaLearningRate, DefaultAdaLearningRate)
	search.DefaultFloat(&s.AdaInit, DefaultAdaInit)
}

// Validate reports every problem of defaulted settings.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	c.OneOf("variant", s.Variant, VariantHard, VariantSoft)
	if s.Variant == VariantSoft {
		if s.Granularity != "" {
			c.Addf("granularity", `the soft variant selects whole models per task: remove granularity or use variant = "hard"`)
		}
	} else {
		c.OneOf("granularity", s.Granularity, GranularityLayer, GranularityTask)
	}
	c.OneOf("init", s.Init, InitBase, InitTaskArithmetic)
	c.OneOf("alignment", s.Alignment, AlignmentDirection, AlignmentWeights)
	c.OneOf("loss", s.Loss, LossCrossEntropy, LossEntropy)
	c.OneOf("ada_inputs", s.AdaInputs, InputsTest, InputsValidation)
	c.PositiveCount("iterations", s.Iterations, "10")
	c.PositiveCount("proxy_examples", s.ProxyExamples, "200")
	c.PositiveCount("ada_steps", s.AdaSteps, "500")
	if math.IsNaN(s.StepSize) || s.StepSize <= 0 || s.StepSize > 1 {
		c.Addf("step_size", "%v: give η in (0, 1] (default 0.1); γt = η·2/(t+2) must stay a convex step", s.StepSize)
	}
	if math.IsNaN(s.Scale) || s.Scale <= 0 || s.Scale > 1 {
		c.Addf("scale", "%v: give λ in (0, 1] (default 1)", s.Scale)
	}
	c.FiniteIn("init_lambda", s.InitLambda, 0, 10, "0.3")
	if math.IsNaN(s.TIESKeep) || s.TIESKeep <= 0 || s.TIESKeep > 1 {
		c.Addf("ties_keep", "%v: give a fraction in (0, 1] (default 0.3)", s.TIESKeep)
	}
	c.FiniteIn("ada_learning_rate", s.AdaLearningRate, 0, 1, "0.001")
	c.FiniteIn("ada_init", s.AdaInit, 0, 1, "1e-8")
}

// Traits: FW-Merging derives its space (the pool's per-tensor
// task-arithmetic coefficients), records its result as task-arithmetic
// coefficients, needs the alignment of pool members with the loss
// gradient (the soft variant's inner AdaMerging takes its loss gradients
// from the same evaluator, search.SoftAlignmentEvaluator.Adapt), as the
// method states it, and ends by itself after its iterations.
func (s *Settings) Traits() search.Traits {
	needs := []search.Need{search.NeedAlignment}
	return search.Traits{
		DerivesSpace: true,
		// The merge is a per-tensor combination of the pool; soft steps
		// can leave [0, 1], so a wide range of weights is allowed.
		Derived:        &search.DerivedSpace{Granularity: "tensor", Lower: -10, Upper: 10, WithBenchmarkPool: true},
		Operator:       Operator,
		OperatorReason: `FW-Merging's result is recorded as per-tensor task-arithmetic coefficients of the pool, which only the task-arithmetic update rule produces; set operator = "task_arithmetic" (the TIES update rule is available in Go through evaluate/gradient)`,
		EndsByItself:   true,
		Needs:          needs,
	}
}

// Options are the method options of defaulted settings (Observe unset).
func (s *Settings) Options() Options {
	return Options{
		Iterations: s.Iterations, StepSize: s.StepSize, Scale: s.Scale, Granularity: s.Granularity, Variant: s.Variant,
		Ada: search.AdamOptions{Steps: s.AdaSteps, LR: s.AdaLearningRate}, AdaInit: s.AdaInit,
	}
}
