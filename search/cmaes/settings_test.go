package cmaes

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/searchtest"
)

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
		{"set", Settings{PopulationSize: 2, StepSize: 1, Covariance: CovarianceDiagonal, StartPoints: []string{"average"}}, nil},
		{"population", Settings{PopulationSize: 1}, []string{"population_size: 1 is too small: use at least 2 (0 means max(4 + ⌊3 ln n⌋, 4n) for the full variant, 4 + ⌊3 ln n⌋ for the diagonal one)"}},
		{"step size", Settings{StepSize: 1.5}, []string{"step_size: 1.5: give a step size in (0, 1] in unit-cube coordinates (0 means 0.3)"}},
		{"step size NaN", Settings{StepSize: math.NaN()}, []string{"step_size: NaN: give a step size in (0, 1] in unit-cube coordinates (0 means 0.3)"}},
		{"covariance", Settings{Covariance: Separable}, []string{`covariance: unknown covariance "separable": use "auto", "full" or "diagonal"`}},
		{"start points", Settings{StartPoints: []string{"adamerging:"}}, []string{`start_points[0]: "adamerging:" names no run: write "adamerging:<run directory>"`}},
		{"scalarization", Settings{Scalarization: search.Scalarization{Ideal: []float64{math.Inf(-1)}}}, []string{"scalarization.ideal[0]: -Inf is not a finite number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problems(&tc.s); !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSettingsDefaults(t *testing.T) {
	var s Settings
	s.Defaults(search.Budget{})
	want := Settings{StepSize: DefaultStepSize, Covariance: CovarianceAuto, Scalarization: search.Scalarization{Method: search.WeightedSum}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults %+v\nwant %+v", s, want)
	}
	if got := problems(&s); got != nil {
		t.Errorf("defaults do not validate: %q", got)
	}
	if got := (&Settings{PopulationSize: 9}).Traits(); !slices.Equal(got.Sizes, []search.Size{{Key: "population_size", N: 9, Kind: search.SizeMembers}}) {
		t.Errorf("traits %+v", got)
	}
	for cov, v := range map[string]string{"": Auto, CovarianceAuto: Auto, CovarianceFull: Full, CovarianceDiagonal: Separable} {
		if got := (&Settings{Covariance: cov}).Variant(); got != v {
			t.Errorf("covariance %q: variant %q, want %q", cov, got, v)
		}
	}
}

func objectives(n int) []fitness.Objective {
	out := make([]fitness.Objective, n)
	for i := range out {
		out[i] = fitness.Objective{Name: fmt.Sprintf("t%d/loss", i), Direction: fitness.Minimize}
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

// resolver resolves every start point to the space's defaults with the
// first coordinate at -1.
func resolver(p searchtest.Problem) func(string, search.StartPoint) ([]float64, error) {
	return func(string, search.StartPoint) ([]float64, error) {
		x := p.Space.Defaults()
		x[0] = -1
		return x, nil
	}
}

func TestAlgorithmNew(t *testing.T) {
	if Algorithm.Name != "cmaes" || Algorithm.Summary == "" {
		t.Fatalf("entry %q %q", Algorithm.Name, Algorithm.Summary)
	}
	p := searchtest.Sphere(6)
	env := search.Env{Space: p.Space, Objectives: objectives(1), Seed: 2, StartPoint: resolver(p)}
	for _, tc := range []struct {
		name    string
		s       Settings
		lambda  int
		variant string
	}{
		{"defaults", Settings{}, DefaultPopulation(Separable, 6), Separable},
		{"full", Settings{Covariance: CovarianceFull}, DefaultPopulation(Full, 6), Full},
		{"population", Settings{PopulationSize: 7, Covariance: CovarianceDiagonal, StepSize: 0.1}, 7, Separable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := build(t, tc.s, env)
			if err != nil {
				t.Fatal(err)
			}
			c := m.(*Method)
			defer c.Close()
			if err := c.Init(search.Problem{Space: p.Space, Directions: p.Directions, Seed: 2}); err != nil {
				t.Fatal(err)
			}
			batch, err := c.Ask()
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) != tc.lambda || c.Variant() != tc.variant {
				t.Errorf("first batch of %d by %s, want %d by %s", len(batch), c.Variant(), tc.lambda, tc.variant)
			}
			if c.Scalarization().Method != search.WeightedSum {
				t.Errorf("scalarization %+v", c.Scalarization())
			}
		})
	}
	// One start point is the initial mean.
	m, err := build(t, Settings{StartPoints: []string{"average"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := resolver(p)("start_points[0]", search.StartPoint{})
	if got := m.(*Method).opts.Initial; !slices.Equal(got, want) {
		t.Errorf("initial mean %v, want %v", got, want)
	}
}

func TestAlgorithmNewRefusals(t *testing.T) {
	p := searchtest.Sphere(2)
	env := search.Env{Space: p.Space, Objectives: objectives(2), StartPoint: resolver(p)}
	var se *search.SettingError
	_, err := build(t, Settings{StartPoints: []string{"defaults", "average"}}, env)
	if !errors.As(err, &se) || se.Key != "start_points" || se.Msg != "CMA-ES starts from one mean: list one start point" {
		t.Errorf("two start points: %v", err)
	}
	sc := search.Scalarization{Method: search.Chebyshev, Ideal: []float64{0}}
	_, err = build(t, Settings{Scalarization: sc}, env)
	if !errors.As(err, &se) || se.Key != "scalarization" {
		t.Fatalf("ideal point for 1 of 2 objectives: %v", err)
	}
	if want := fmt.Sprintf("%v (the objectives expand to 2: t0/loss, t1/loss)", sc.Validate(2)); se.Msg != want {
		t.Errorf("message %q\nwant %q", se.Msg, want)
	}
}
