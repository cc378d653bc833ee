package mapmerge

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/searchtest"
)

func bp(v bool) *bool { return &v }

// problems collects what Validate reports, as "key: message".
func problems(s *Settings) []string {
	var out []string
	s.Validate(func(key, msg string) { out = append(out, key+": "+msg) })
	return out
}

func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Settings
		want []string
	}{
		{"zero", Settings{}, nil},
		{"plain", Settings{Budget: 20, Activation: "identity", Front: "nsga2", GridPoints: 2, Preferences: [][]float64{{1, 0}}, Reevaluate: -1}, nil},
		{"nested", Settings{Nested: true, Preferences: [][]float64{{1, 2, 3}}, PointsPerMerge: 6, Isotropic: 1}, nil},
		{"budget", Settings{Budget: -1}, []string{"budget: -1: give a positive count (0 means (N+1)(N+2))"}},
		{"schedule", Settings{Budget: 5, Schedule: []int{10, 0}}, []string{
			"schedule[1]: 0: every round needs at least one point",
			"budget: give either a budget or a schedule (Bayesian MAP), not both",
		}},
		{"names", Settings{Activation: "relu", Front: "random"}, []string{
			`activation: unknown value "relu": use "auto", "sigmoid", "softplus" or "identity"`,
			`front: unknown value "random": use "auto", "grid" or "nsga2"`,
		}},
		{"grid points", Settings{GridPoints: 1}, []string{"grid_points: 1: give at least 2 points per axis (0 means the default)"}},
		{"preferences", Settings{Preferences: [][]float64{{1, math.NaN()}, {0, 0}}}, []string{
			"preferences[0][1]: NaN: preference weights must be finite and non-negative",
			"preferences[1]: give at least one positive weight",
		}},
		{"nested conflicts", Settings{Nested: true, Budget: 10, Preferences: [][]float64{{1}, {2}}}, []string{
			"preferences: nested MAP follows one preference vector (one weight per task): list one",
			"nested: nested MAP sizes each merge with points_per_merge: remove budget and schedule",
		}},
		{"nested only", Settings{PointsPerMerge: 5, Isotropic: 2}, []string{
			"points_per_merge: only nested MAP uses points_per_merge: set nested = true or remove it",
			"isotropic: only nested MAP uses isotropic: set nested = true or remove it",
			"points_per_merge: 5: a 2-coefficient quadratic has 6 unknowns; give at least 6 (default 20)",
			"isotropic: 2: give a fraction in [0, 1] (default 0.2)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problems(&tc.s); !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSettingsDefaults(t *testing.T) {
	s := Settings{Schedule: []int{}, Preferences: [][]float64{}}
	s.Defaults(search.Budget{})
	want := Settings{OneHots: bp(true), Activation: Auto, Front: Auto, Reevaluate: DefaultReevaluate}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults %+v\nwant %+v", s, want)
	}
	n := Settings{Nested: true, OneHots: bp(false)}
	n.Defaults(search.Budget{})
	want = Settings{Nested: true, OneHots: bp(false), Activation: Auto, Front: Auto, PointsPerMerge: DefaultPointsPerMerge, Isotropic: DefaultIsotropic}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("nested defaults %+v\nwant %+v", n, want)
	}
	for _, d := range []*Settings{&s, &n} {
		if got := problems(d); got != nil {
			t.Errorf("defaults do not validate: %q", got)
		}
	}
}

func TestSettingsTraits(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want search.Size
	}{
		{Settings{Budget: 30}, search.Size{Key: "budget", N: 30, Kind: search.SizeMembers, What: "design point"}},
		{Settings{Schedule: []int{10, 4, 4}}, search.Size{Key: "schedule", N: 18, Kind: search.SizeMembers, What: "design point"}},
	} {
		got := tc.s.Traits()
		if !got.EndsByItself || !slices.Equal(got.Sizes, []search.Size{tc.want}) {
			t.Errorf("%+v: traits %+v", tc.s, got)
		}
	}
}

func objectives(n int) []fitness.Objective {
	out := make([]fitness.Objective, n)
	for i := range out {
		out[i] = fitness.Objective{Name: fmt.Sprintf("t%d/accuracy", i), Direction: fitness.Maximize}
	}
	return out
}

func build(t *testing.T, s Settings, env search.Env) (search.Method, error) {
	t.Helper()
	ms := Algorithm.NewSettings()
	*ms.(*Settings) = s
	ms.Defaults(search.Budget{})
	var bad []string
	ms.Validate(func(k, m string) { bad = append(bad, k+": "+m) })
	if bad != nil {
		t.Fatalf("settings do not validate: %q", bad)
	}
	return Algorithm.New(ms, env)
}

func TestAlgorithmNew(t *testing.T) {
	if Algorithm.Name != "map" || Algorithm.Summary == "" {
		t.Fatalf("entry %q %q", Algorithm.Name, Algorithm.Summary)
	}
	space := searchtest.Sphere(2).Space
	dirs := []fitness.Direction{fitness.Maximize, fitness.Maximize}
	env := search.Env{Space: space, Objectives: objectives(2), Seed: 77}
	for _, tc := range []struct {
		name    string
		s       Settings
		n       int
		oneHots bool
	}{
		{"defaults", Settings{}, 12, true}, // (N+1)(N+2) for N = 2
		{"budget", Settings{Budget: 15, OneHots: bp(false)}, 15, false},
		{"schedule", Settings{Schedule: []int{8, 3}}, 8, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := build(t, tc.s, env)
			if err != nil {
				t.Fatal(err)
			}
			mm := m.(*Method)
			if mm.cfg.Front.Seed != env.Seed {
				t.Errorf("front seed %d, want the master seed %d", mm.cfg.Front.Seed, env.Seed)
			}
			if err := m.Init(search.Problem{Space: space, Directions: dirs, Seed: 77}); err != nil {
				t.Fatal(err)
			}
			batch, err := m.Ask()
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) != tc.n {
				t.Errorf("design of %d, want %d", len(batch), tc.n)
			}
			// The one-hots come first: (1, 0) is the box's upper bound 3 in x0
			// and its lower bound -2 in x1.
			first := slices.Equal(batch[0].Genome.Values, []float64{3, -2})
			if first != tc.oneHots {
				t.Errorf("first design point %v: one-hots %v, want %v", batch[0].Genome.Values, first, tc.oneHots)
			}
		})
	}
	m, err := build(t, Settings{Activation: "identity", Front: "grid", GridPoints: 11}, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.(*Method).cfg
	if !slices.Equal(cfg.Activations, []Activation{Identity, Identity}) || cfg.Front.Method != FrontGrid || cfg.Front.GridPoints != 11 {
		t.Errorf("config %+v", cfg)
	}
	m, err = build(t, Settings{Nested: true, Preferences: [][]float64{{1, 3}}, PointsPerMerge: 9}, env)
	if err != nil {
		t.Fatal(err)
	}
	nm, ok := m.(*Nested)
	if !ok || nm.cfg.PointsPerMerge != 9 || !slices.Equal(nm.cfg.Preferences, []float64{1, 3}) || nm.cfg.Isotropic != DefaultIsotropic {
		t.Errorf("nested: %T %+v", m, nm)
	}
}

func TestAlgorithmNewRefusals(t *testing.T) {
	env := search.Env{Space: searchtest.Sphere(3).Space, Objectives: objectives(3)}
	_, err := build(t, Settings{Preferences: [][]float64{{1, 1}, {1, 1, 1}, {1}}}, env)
	var se *search.SettingError
	if !errors.As(err, &se) || se.Key != "preferences[0]" {
		t.Fatalf("short preferences: %v", err)
	}
	for _, want := range []string{
		"preferences[0]: 2 weights for 3 objectives (t0/accuracy, t1/accuracy, t2/accuracy): give one weight per objective",
		"preferences[2]: 1 weights for 3 objectives (t0/accuracy, t1/accuracy, t2/accuracy): give one weight per objective",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "preferences[1]") {
		t.Errorf("%q names a right preference", err)
	}
	// Validate lets 6 points per merge through; nested MAP needs 7.
	_, err = build(t, Settings{Nested: true, PointsPerMerge: 6}, env)
	if !errors.As(err, &se) || se.Key != "points_per_merge" {
		t.Errorf("6 points per merge: %v", err)
	}
	_, err = build(t, Settings{Nested: true, Isotropic: 1}, env)
	if !errors.As(err, &se) || se.Key != "isotropic" {
		t.Errorf("isotropic 1: %v", err)
	}
}
