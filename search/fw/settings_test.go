package fw

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/search"
)

// problems returns the problems Validate reports, as "key: message".
func problems(s search.MethodSettings) []string {
	var out []string
	s.Validate(func(key, msg string) { out = append(out, key+": "+msg) })
	return out
}

func defaulted(edit func(*Settings)) *Settings {
	s := new(Settings)
	if edit != nil {
		edit(s)
	}
	s.Defaults(search.Budget{})
	return s
}

func TestSettingsDefaults(t *testing.T) {
	s := defaulted(nil)
	want := &Settings{
		Variant: "hard", Granularity: "layer", Iterations: 10, StepSize: 0.1, Scale: 1, Init: "base", InitLambda: 0.3,
		Alignment: "direction", TIESKeep: 0.3, Loss: "cross_entropy", ProxyExamples: 200,
		AdaSteps: 500, AdaLearningRate: 0.001, AdaInit: 1e-8, AdaInputs: "test",
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("defaults\n%+v, want\n%+v", s, want)
	}
	if p := problems(s); len(p) != 0 {
		t.Fatalf("defaults are invalid: %q", p)
	}
	soft := defaulted(func(s *Settings) { s.Variant = "soft" })
	if soft.Granularity != "" {
		t.Errorf("soft variant: granularity defaulted to %q", soft.Granularity)
	}
	if p := problems(soft); len(p) != 0 {
		t.Fatalf("soft defaults are invalid: %q", p)
	}
}

func TestSettingsValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Settings)
		want []string
	}{
		// An unknown variant leaves granularity undefaulted, as configs did.
		{"variant", func(s *Settings) { s.Variant = "medium" },
			[]string{`variant: unknown value "medium": use "hard" or "soft"`, `granularity: unknown value "": use "layer" or "task"`}},
		{"soft granularity", func(s *Settings) { s.Variant, s.Granularity = "soft", "task" },
			[]string{`granularity: the soft variant selects whole models per task: remove granularity or use variant = "hard"`}},
		{"granularity", func(s *Settings) { s.Granularity = "tensor" },
			[]string{`granularity: unknown value "tensor": use "layer" or "task"`}},
		{"choices", func(s *Settings) { s.Init, s.Alignment, s.Loss, s.AdaInputs = "zero", "angle", "mse", "train" },
			[]string{`init: unknown value "zero": use "base" or "task_arithmetic"`,
				`alignment: unknown value "angle": use "direction" or "weights"`,
				`loss: unknown value "mse": use "cross_entropy" or "entropy"`,
				`ada_inputs: unknown value "train": use "test" or "validation"`}},
		{"counts", func(s *Settings) { s.Iterations, s.ProxyExamples, s.AdaSteps = -1, -2, -3 },
			[]string{"iterations: -1: give a positive count (0 means 10)", "proxy_examples: -2: give a positive count (0 means 200)",
				"ada_steps: -3: give a positive count (0 means 500)"}},
		{"step_size", func(s *Settings) { s.StepSize = 1.5 },
			[]string{"step_size: 1.5: give η in (0, 1] (default 0.1); γt = η·2/(t+2) must stay a convex step"}},
		{"scale", func(s *Settings) { s.Scale = math.NaN() },
			[]string{"scale: NaN: give λ in (0, 1] (default 1)"}},
		{"init_lambda", func(s *Settings) { s.InitLambda = 11 },
			[]string{"init_lambda: 11: give a number in [0, 10] (0 means 0.3)"}},
		{"ties_keep", func(s *Settings) { s.TIESKeep = -0.1 },
			[]string{"ties_keep: -0.1: give a fraction in (0, 1] (default 0.3)"}},
		{"ada rates", func(s *Settings) { s.AdaLearningRate, s.AdaInit = 2, math.Inf(1) },
			[]string{"ada_learning_rate: 2: give a number in [0, 1] (0 means 0.001)",
				"ada_init: +Inf: give a number in [0, 1] (0 means 1e-8)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := problems(defaulted(c.edit)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems\n%q, want\n%q", got, c.want)
			}
		})
	}
}

func TestSettingsTraits(t *testing.T) {
	for _, c := range []struct {
		variant string
		needs   []search.Need
	}{
		{"hard", []search.Need{search.NeedAlignment}},
		{"soft", []search.Need{search.NeedAlignment}},
	} {
		tr := defaulted(func(s *Settings) { s.Variant = c.variant }).Traits()
		if !tr.DerivesSpace || tr.Operator != "task_arithmetic" || !tr.EndsByItself ||
			!reflect.DeepEqual(tr.Needs, c.needs) || len(tr.Sizes) != 0 {
			t.Errorf("variant %q: traits %+v", c.variant, tr)
		}
		if !strings.HasPrefix(tr.OperatorReason, "FW-Merging's result is recorded as per-tensor task-arithmetic coefficients") {
			t.Errorf("operator reason %q", tr.OperatorReason)
		}
	}
}

func TestAlgorithmEntry(t *testing.T) {
	if Algorithm.Name != "fw" || Algorithm.Summary == "" || Algorithm.New == nil {
		t.Fatalf("entry %+v", Algorithm)
	}
	if _, ok := Algorithm.NewSettings().(*Settings); !ok {
		t.Fatal("NewSettings does not return *Settings")
	}
}

func TestSettingsOptions(t *testing.T) {
	o := defaulted(func(s *Settings) { s.Variant, s.AdaSteps = "soft", 7 }).Options()
	if o.Variant != VariantSoft || o.Iterations != DefaultIterations || o.Ada.Steps != 7 || o.Ada.LR != DefaultAdaLearningRate ||
		o.AdaInit != DefaultAdaInit || o.Granularity != "" {
		t.Fatalf("options %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	// Zero Options take the same defaults as Settings.
	if z := (Options{}).withDefaults(); z.Iterations != DefaultIterations || z.Granularity != DefaultGranularity ||
		z.Variant != DefaultVariant || z.Scale != DefaultScale || z.StepSize != DefaultStepSize {
		t.Fatalf("zero options defaulted to %+v", z)
	}
}

func TestSettingsKeys(t *testing.T) {
	want := []string{"variant", "granularity", "iterations", "step_size", "scale", "init", "init_lambda", "alignment",
		"ties_keep", "loss", "proxy_examples", "ada_steps", "ada_learning_rate", "ada_init", "ada_inputs"}
	typ := reflect.TypeFor[Settings]()
	var got []string
	for i := range typ.NumField() {
		got = append(got, strings.TrimSuffix(typ.Field(i).Tag.Get("toml"), ",omitempty"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("toml keys %q, want %q", got, want)
	}
}
