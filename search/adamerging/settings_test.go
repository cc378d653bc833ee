package adamerging

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/search"
)

func ptr[T any](v T) *T { return &v }

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
		Granularity: "tensor", TIESKeep: 0.2, TIESTrim: "model", Init: ptr(0.3), Lower: ptr(0.0), Upper: ptr(1.0),
		Steps: 500, LearningRate: 0.001, BatchSize: 16, Batches: 2, Inputs: "test",
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("defaults\n%+v, want\n%+v", s, want)
	}
	if p := problems(s); len(p) != 0 {
		t.Fatalf("defaults are invalid: %q", p)
	}
	// Given values stay.
	given := defaulted(func(s *Settings) {
		s.Granularity, s.Init, s.Lower, s.Steps, s.SeedSearch = "task", ptr(0.0), ptr(-1.0), 7, "cmaes"
	})
	if given.Granularity != "task" || *given.Init != 0 || *given.Lower != -1 || given.Steps != 7 || given.SeedSearch != "cmaes" {
		t.Fatalf("given values changed: %+v", given)
	}
}

func TestSettingsValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Settings)
		want []string
	}{
		{"granularity", func(s *Settings) { s.Granularity = "layer" },
			[]string{`granularity: unknown value "layer": use "task", "tensor" or "group"`}},
		{"ties_trim", func(s *Settings) { s.TIESTrim = "row" },
			[]string{`ties_trim: unknown value "row": use "model" or "tensor"`}},
		{"inputs", func(s *Settings) { s.Inputs = "train" },
			[]string{`inputs: unknown value "train": use "test" or "validation"`}},
		{"seed_search", func(s *Settings) { s.SeedSearch = "ga" },
			[]string{`seed_search: unknown value "ga": use "nsga2" or "cmaes"`}},
		{"ties_keep range", func(s *Settings) { s.PlusPlus, s.TIESKeep = true, 1.5 },
			[]string{"ties_keep: 1.5: give a fraction in (0, 1] (default 0.2)"}},
		{"ties_keep without ++", func(s *Settings) { s.TIESKeep = 0.5 },
			[]string{"ties_keep: only AdaMerging++ trims task vectors: set plus_plus = true or remove ties_keep"}},
		{"ties_keep with ++", func(s *Settings) { s.PlusPlus, s.TIESKeep = true, 0.5 }, nil},
		{"not finite", func(s *Settings) { s.Init, s.Upper = ptr(math.NaN()), ptr(math.Inf(1)) },
			[]string{"init: NaN is not a finite number", "upper: +Inf is not a finite number"}},
		{"bounds", func(s *Settings) { s.Lower, s.Upper = ptr(1.0), ptr(1.0) },
			[]string{"lower: lower 1 must be below upper 1", "init: 0.3 lies outside [lower, upper] = [1, 1]"}},
		{"init outside", func(s *Settings) { s.Init = ptr(2.0) },
			[]string{"init: 2 lies outside [lower, upper] = [0, 1]"}},
		{"counts", func(s *Settings) { s.Steps, s.BatchSize, s.Batches = -1, -2, -3 },
			[]string{"steps: -1: give a positive count (0 means 500)", "batch_size: -2: give a positive count (0 means 16)",
				"batches: -3: give a positive count (0 means 2)"}},
		{"learning_rate", func(s *Settings) { s.LearningRate = 2 },
			[]string{"learning_rate: 2: give a number in [0, 1] (0 means 0.001)"}},
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
		seed string
		ends bool
	}{{"", true}, {"nsga2", false}, {"cmaes", false}} {
		tr := defaulted(func(s *Settings) { s.SeedSearch = c.seed }).Traits()
		if !tr.DerivesSpace || tr.Operator != "task_arithmetic" || tr.EndsByItself != c.ends ||
			!reflect.DeepEqual(tr.Needs, []search.Need{search.NeedLossGradients}) || len(tr.Sizes) != 0 {
			t.Errorf("seed_search %q: traits %+v", c.seed, tr)
		}
		if tr.OperatorReason != `AdaMerging learns task-arithmetic coefficients: set operator = "task_arithmetic"` {
			t.Errorf("operator reason %q", tr.OperatorReason)
		}
	}
}

func TestAlgorithmEntry(t *testing.T) {
	if Algorithm.Name != "adamerging" || Algorithm.Summary == "" || Algorithm.New == nil {
		t.Fatalf("entry %+v", Algorithm)
	}
	if _, ok := Algorithm.NewSettings().(*Settings); !ok {
		t.Fatal("NewSettings does not return *Settings")
	}
}

func TestSettingsOptions(t *testing.T) {
	o := defaulted(func(s *Settings) { s.Steps = 3 }).Options([]string{"a"})
	if o.Steps != 3 || o.LR != DefaultLR || *o.Init != DefaultInit || o.Lower != 0 || o.Upper != 1 || o.Names[0] != "a" {
		t.Fatalf("options %+v", o)
	}
	if err := o.Validate(1); err != nil {
		t.Fatal(err)
	}
}

func TestSettingsKeys(t *testing.T) {
	want := []string{"granularity", "plus_plus", "ties_keep", "ties_trim", "init", "lower", "upper", "steps",
		"learning_rate", "batch_size", "batches", "inputs", "seed_search"}
	typ := reflect.TypeFor[Settings]()
	var got []string
	for i := range typ.NumField() {
		got = append(got, strings.TrimSuffix(typ.Field(i).Tag.Get("toml"), ",omitempty"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("toml keys %q, want %q", got, want)
	}
}
