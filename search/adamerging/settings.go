package adamerging

import (
	"fmt"
	"math"

	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "adamerging"

// Values of Settings.
const (
	// Granularities: one coefficient per task vector, per task vector and
	// tensor (the paper's layer-wise), or per task vector and layer group.
	GranularityTask   = "task"
	GranularityTensor = "tensor"
	GranularityGroup  = "group"
	// TIES trims of AdaMerging++: the top fraction of the whole task
	// vector (the reference) or of each tensor.
	TIESTrimModel  = "model"
	TIESTrimTensor = "tensor"
	// Splits whose unlabelled inputs are adapted on.
	InputsTest       = "test"
	InputsValidation = "validation"
	// Seeded searches: the search.algorithm names of NSGA-II and CMA-ES
	// (named here, not imported: search/<algo> packages do not import one
	// another).
	SeedSearchNSGA2 = "nsga2"
	SeedSearchCMAES = "cmaes"
	// Operator is the merge operator whose coefficients AdaMerging learns.
	Operator = "task_arithmetic"
)

// Defaults of Settings besides the optimiser's (DefaultInit, DefaultLR,
// DefaultSteps): the paper's reference code.
const (
	DefaultGranularity = GranularityTensor
	DefaultTIESTrim    = TIESTrimModel
	DefaultTIESKeep    = 0.2
	DefaultLower       = 0.0
	DefaultUpper       = 1.0
	DefaultBatchSize   = 16
	DefaultBatches     = 2
	DefaultInputs      = InputsTest
)

// Settings is [search.adamerging] of an experiment. Defaults are the
// paper's reference code.
type Settings struct {
	// Granularity is "tensor" (one coefficient per task vector and tensor:
	// the paper's layer-wise, default), "task" (task-wise) or "group" (per
	// layer group).
	Granularity string `toml:"granularity,omitempty"`
	// PlusPlus runs AdaMerging++: TIES trimming and sign election of the
	// task vectors first.
	PlusPlus bool `toml:"plus_plus,omitempty"`
	// TIESKeep is the fraction of each task vector kept by ++'s trim
	// (default 0.2).
	TIESKeep float64 `toml:"ties_keep,omitempty"`
	// TIESTrim is "model" (top fraction of the whole task vector, the
	// reference; default) or "tensor".
	TIESTrim string `toml:"ties_trim,omitempty"`
	// Init is the initial coefficient (default 0.3).
	Init *float64 `toml:"init,omitempty"`
	// Lower and Upper clamp the coefficients (default 0 and 1).
	Lower *float64 `toml:"lower,omitempty"`
	Upper *float64 `toml:"upper,omitempty"`
	// Steps is the number of Adam updates (default 500).
	Steps int `toml:"steps,omitempty"`
	// LearningRate is Adam's (default 0.001).
	LearningRate float64 `toml:"learning_rate,omitempty"`
	// BatchSize is the unlabelled inputs per batch (default 16) and Batches
	// the batches per task per step (default 2).
	BatchSize int `toml:"batch_size,omitempty"`
	Batches   int `toml:"batches,omitempty"`
	// Inputs is the split whose unlabelled inputs are adapted on: "test"
	// (the paper: test-time adaptation; default) or "validation".
	Inputs string `toml:"inputs,omitempty"`
	// SeedSearch continues with an evolutionary run over the same
	// coefficients seeded by the learned ones: "" (none), "nsga2" or
	// "cmaes" (default settings; the search budget applies to it).
	SeedSearch string `toml:"seed_search,omitempty"`
}

// Algorithm is AdaMerging's registry entry. Its method runs on the
// gradient evaluator the run offers (search.Problem.Gradients), which names
// the coefficients (search.CoefficientNamer).
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "AdaMerging (Yang et al. 2024): task-arithmetic coefficients learned by Adam on the prediction entropy of unlabelled inputs",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New:         newMethod,
}

// newMethod builds the method from defaulted settings: its coefficients
// are named by the gradient evaluator, its steps reported through
// env.Progress, and a seed_search is built by env.Continue.
func newMethod(ms search.MethodSettings, env search.Env) (search.Method, error) {
	s, ok := ms.(*Settings)
	if !ok {
		return nil, fmt.Errorf("adamerging: settings of type %T", ms)
	}
	cfg := MethodConfig{
		Adam: s.Options(nil),
		Progress: func(step, steps int, loss float64) {
			env.Report(fmt.Sprintf("adamerging: step %d/%d entropy %.4f", step, steps, loss), "step", step, "loss", loss)
		},
	}
	if s.SeedSearch != "" {
		if env.Continue == nil {
			return nil, search.SettingErrorf("seed_search", "this run cannot continue with another search")
		}
		name := s.SeedSearch
		cfg.Continue = func(x []float64) (search.Method, error) { return env.Continue(name, x) }
	}
	return NewMethod(cfg)
}

// Defaults fills the defaults.
func (s *Settings) Defaults(search.Budget) {
	s.Granularity = search.Or(s.Granularity, DefaultGranularity)
	s.TIESTrim = search.Or(s.TIESTrim, DefaultTIESTrim)
	s.Inputs = search.Or(s.Inputs, DefaultInputs)
	search.DefaultFloat(&s.TIESKeep, DefaultTIESKeep)
	search.DefaultPtr(&s.Init, DefaultInit)
	search.DefaultPtr(&s.Lower, DefaultLower)
	search.DefaultPtr(&s.Upper, DefaultUpper)
	search.DefaultInt(&s.Steps, DefaultSteps)
	search.DefaultFloat(&s.LearningRate, DefaultLR)
	search.DefaultInt(&s.BatchSize, DefaultBatchSize)
	search.DefaultInt(&s.Batches, DefaultBatches)
}

// Validate reports every problem of defaulted settings.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	c.OneOf("granularity", s.Granularity, GranularityTask, GranularityTensor, GranularityGroup)
	c.OneOf("ties_trim", s.TIESTrim, TIESTrimModel, TIESTrimTensor)
	c.OneOf("inputs", s.Inputs, InputsTest, InputsValidation)
	c.OneOf("seed_search", s.SeedSearch, "", SeedSearchNSGA2, SeedSearchCMAES)
	if math.IsNaN(s.TIESKeep) || s.TIESKeep <= 0 || s.TIESKeep > 1 {
		c.Addf("ties_keep", "%v: give a fraction in (0, 1] (default 0.2)", s.TIESKeep)
	}
	if !s.PlusPlus && s.TIESKeep != DefaultTIESKeep {
		c.Addf("ties_keep", "only AdaMerging++ trims task vectors: set plus_plus = true or remove ties_keep")
	}
	c.Finite("init", s.Init)
	c.Finite("lower", s.Lower)
	c.Finite("upper", s.Upper)
	if s.Lower != nil && s.Upper != nil && !(*s.Lower < *s.Upper) {
		c.Addf("lower", "lower %g must be below upper %g", *s.Lower, *s.Upper)
	}
	if s.Init != nil && s.Lower != nil && s.Upper != nil && (*s.Init < *s.Lower || *s.Init > *s.Upper) {
		c.Addf("init", "%g lies outside [lower, upper] = [%g, %g]", *s.Init, *s.Lower, *s.Upper)
	}
	c.PositiveCount("steps", s.Steps, "500")
	c.PositiveCount("batch_size", s.BatchSize, "16")
	c.PositiveCount("batches", s.Batches, "2")
	c.FiniteIn("learning_rate", s.LearningRate, 0, 1, "0.001")
}

// Seeded reports whether an evolutionary search follows the optimisation
// (seed_search names NSGA-II or CMA-ES).
func (s *Settings) Seeded() bool {
	return s.SeedSearch == SeedSearchNSGA2 || s.SeedSearch == SeedSearchCMAES
}

// Traits: AdaMerging derives its space (one coefficient per task vector
// and granule), learns task-arithmetic coefficients, needs the loss
// gradients of the merge coefficients, and ends by itself unless a seeded
// search follows.
func (s *Settings) Traits() search.Traits {
	space := &search.DerivedSpace{Granularity: s.Granularity, Lower: DefaultLower, Upper: DefaultUpper}
	if s.Lower != nil {
		space.Lower = *s.Lower
	}
	if s.Upper != nil {
		space.Upper = *s.Upper
	}
	return search.Traits{
		DerivesSpace:   true,
		Derived:        space,
		Operator:       Operator,
		OperatorReason: `AdaMerging learns task-arithmetic coefficients: set operator = "task_arithmetic"`,
		EndsByItself:   !s.Seeded(),
		Needs:          []search.Need{search.NeedLossGradients},
	}
}

// Options are the optimiser options of defaulted settings for coefficients
// named names (Observe unset).
func (s *Settings) Options(names []string) Options {
	o := Options{Steps: s.Steps, LR: s.LearningRate, Init: s.Init, Names: names}
	if s.Lower != nil {
		o.Lower = *s.Lower
	}
	if s.Upper != nil {
		o.Upper = *s.Upper
	}
	return o
}
