package m2n2

import (
	"github.com/evomerge/evomerge/fitness"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/search"
)

func ptrTo[T any](v T) *T { return &v }

// settingProblems returns the problems Validate reports, as "key: message".
func settingProblems(s search.MethodSettings) []string {
	var out []string
	s.Validate(func(key, msg string) { out = append(out, key+": "+msg) })
	return out
}

func defaultedSettings(edit func(*Settings), b search.Budget) *Settings {
	s := new(Settings)
	if edit != nil {
		edit(s)
	}
	s.Defaults(b)
	return s
}

func TestSettingsDefaults(t *testing.T) {
	s := defaultedSettings(nil, search.Budget{MaxEvaluations: 1000})
	want := &Settings{
		ArchiveSize: 20, Alpha: ptrTo(1.0), Attraction: ptrTo(true), SplitPoint: ptrTo(true), Angle: "global",
		Seeds: 2, SeedInit: "gaussian", SeedSigma: 0.01, BatchSize: 1, Storage: "ram", SnapshotEvery: 20,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("defaults\n%+v, want\n%+v", s, want)
	}
	if p := settingProblems(s); len(p) != 0 {
		t.Fatalf("defaults are invalid: %q", p)
	}
	for _, c := range []struct{ evals, every int }{{0, 1}, {49, 1}, {50, 1}, {120, 2}, {100000, 2000}} {
		if got := defaultedSettings(nil, search.Budget{MaxEvaluations: c.evals}).SnapshotEvery; got != c.every {
			t.Errorf("max_evaluations %d: snapshot_every %d, want %d", c.evals, got, c.every)
		}
	}
	given := defaultedSettings(func(s *Settings) {
		s.Alpha, s.Attraction, s.SplitPoint, s.SnapshotEvery = ptrTo(0.0), ptrTo(false), ptrTo(false), 7
	}, search.Budget{MaxEvaluations: 1000})
	if *given.Alpha != 0 || *given.Attraction || *given.SplitPoint || given.SnapshotEvery != 7 {
		t.Fatalf("given values changed: %+v", given)
	}
}

func TestSettingsValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Settings)
		want []string
	}{
		{"archive_size", func(s *Settings) { s.ArchiveSize = 1 },
			[]string{"archive_size: 1: the archive needs at least 2 members to mate (default 20)"}},
		{"alpha", func(s *Settings) { s.Alpha = ptrTo(-1.0) },
			[]string{"alpha: -1: give a finite α ≥ 0 (1 in M2N2, 0 for the GA ablation)"}},
		{"alpha 0", func(s *Settings) { s.Alpha = ptrTo(0.0) }, nil},
		{"choices", func(s *Settings) { s.Angle, s.SeedInit, s.Storage = "local", "uniform", "tape" },
			[]string{`angle: unknown value "local": use "global" or "segment"`,
				`seed_init: unknown value "uniform": use "gaussian"`,
				`storage: unknown value "tape": use "ram", "rebuild" or "disk"`}},
		{"mutation_sigma", func(s *Settings) { s.MutationSigma = math.NaN() },
			[]string{"mutation_sigma: NaN: give a number in [0, 10] (0 means no mutation)"}},
		{"seed_sigma", func(s *Settings) { s.SeedSigma = -0.5 },
			[]string{"seed_sigma: -0.5: give a positive σ (default 0.01)"}},
		{"seeds", func(s *Settings) { s.Seeds = 1 },
			[]string{"seeds: 1: M2N2 from scratch needs at least 2 random seed models (default 2)"}},
		{"counts", func(s *Settings) { s.BatchSize, s.SnapshotEvery = -1, -2 },
			[]string{"batch_size: -1: give a positive count (0 means 1)",
				"snapshot_every: -2: give a positive count (0 means max_evaluations/50)"}},
		{"cache_size negative", func(s *Settings) { s.Storage, s.CacheSize = "rebuild", -1 },
			[]string{"cache_size: -1: give a positive count (0 means the lineage evaluator's default)"}},
		{"cache_size without rebuild", func(s *Settings) { s.CacheSize = 4 },
			[]string{`cache_size: only storage = "rebuild" has a cache: remove cache_size or change storage`}},
		{"cache_size with rebuild", func(s *Settings) { s.Storage, s.CacheSize = "rebuild", 4 }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := settingProblems(defaultedSettings(c.edit, search.Budget{MaxEvaluations: 100}))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems\n%q, want\n%q", got, c.want)
			}
		})
	}
}

func TestSettingsTraits(t *testing.T) {
	child := search.Size{Key: "batch_size", N: 3, Kind: search.SizeChildModels, What: "child model being built and scored"}
	archive := search.Size{Key: "archive_size", N: 20, Kind: search.SizeArchivedModels,
		What: `archived model kept in memory (storage = "ram"; "disk" keeps them on disk)`}
	for _, c := range []struct {
		storage string
		sizes   []search.Size
	}{
		{"", []search.Size{child, archive}},
		{"ram", []search.Size{child, archive}},
		{"rebuild", []search.Size{child}},
		{"disk", []search.Size{child}},
	} {
		s := defaultedSettings(func(s *Settings) { s.BatchSize = 3 }, search.Budget{})
		s.Storage = c.storage // "" as for settings that were not defaulted
		tr := s.Traits()
		if !tr.DerivesSpace || tr.Operator != "m2n2" || tr.EndsByItself ||
			!reflect.DeepEqual(tr.Needs, []search.Need{search.NeedRecipes}) || !reflect.DeepEqual(tr.Sizes, c.sizes) {
			t.Errorf("storage %q: traits %+v", c.storage, tr)
		}
		if tr.OperatorReason != `M2N2 merges by split-point SLERP crossover: set operator = "m2n2"` {
			t.Errorf("operator reason %q", tr.OperatorReason)
		}
	}
}

func TestAlgorithmEntry(t *testing.T) {
	if Algorithm.Name != "m2n2" || Algorithm.Summary == "" || Algorithm.New == nil {
		t.Fatalf("entry %+v", Algorithm)
	}
	if _, ok := Algorithm.NewSettings().(*Settings); !ok {
		t.Fatal("NewSettings does not return *Settings")
	}
}

func TestSettingsConfig(t *testing.T) {
	s := defaultedSettings(func(s *Settings) {
		s.Alpha, s.Attraction, s.Angle, s.MutationSigma, s.BatchSize = ptrTo(0.0), ptrTo(false), "segment", 0.01, 4
	}, search.Budget{})
	c := s.Config(1000)
	want := Config{ArchiveSize: 20, Alpha: 0, NoAttraction: true, NoSplit: false, Angle: "segment", MutationSigma: 0.01,
		Parameters: 1000, BatchSize: 4}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("config %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := defaultedSettings(nil, search.Budget{}).Config(5); !reflect.DeepEqual(d, DefaultConfig(5)) {
		t.Fatalf("defaulted settings give %+v, want DefaultConfig %+v", d, DefaultConfig(5))
	}
}

func TestSettingsKeys(t *testing.T) {
	want := []string{"archive_size", "alpha", "attraction", "split_point", "angle", "mutation_sigma", "seeds", "seed_init",
		"seed_sigma", "batch_size", "storage", "cache_size", "snapshot_every"}
	typ := reflect.TypeFor[Settings]()
	var got []string
	for i := range typ.NumField() {
		got = append(got, strings.TrimSuffix(typ.Field(i).Tag.Get("toml"), ",omitempty"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("toml keys %q, want %q", got, want)
	}
}

// recipes is a recipe evaluator with a fixed parameter count that records
// the archives it is told.
type recipes struct {
	params   int64
	archives [][]string
}

func (r *recipes) Parameters() int64           { return r.params }
func (r *recipes) ArchiveChanged(ids []string) { r.archives = append(r.archives, ids) }

func TestAlgorithmTakesTheModelFromTheRecipeEvaluator(t *testing.T) {
	s := Algorithm.NewSettings().(*Settings)
	s.Defaults(search.Budget{MaxEvaluations: 10})
	objs := []fitness.Objective{{Name: "a/accuracy", Task: "a", Metric: "accuracy", Direction: fitness.Maximize}}
	m, err := Algorithm.New(s, search.Env{Objectives: objs})
	if err != nil {
		t.Fatal(err)
	}
	mm := m.(*Method)
	if got := mm.Needs(); len(got) != 1 || got[0] != search.NeedRecipes {
		t.Fatalf("needs %v, want recipes", got)
	}
	space, err := SeedSpace(2)
	if err != nil {
		t.Fatal(err)
	}
	p := search.Problem{Space: space, Directions: []fitness.Direction{fitness.Maximize}, Seed: 1}
	if err := m.Init(p); err == nil {
		t.Error("Init without a recipe evaluator succeeded")
	}
	r := &recipes{params: 12}
	p.Recipes = r
	if err := m.Init(p); err != nil {
		t.Fatal(err)
	}
	if c := mm.Config(); c.Parameters != 12 || c.Observer != search.RecipeEvaluator(r) || len(c.Tasks) != 1 || c.Tasks[0] != "a" {
		t.Errorf("config after Init: parameters %d, observer %v, tasks %v", c.Parameters, c.Observer, c.Tasks)
	}
}
