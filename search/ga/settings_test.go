package ga

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

func fp(v float64) *float64 { return &v }
func ip(v int) *int         { return &v }

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
		{"explicit zeros", Settings{CrossoverRate: fp(0), BlendAlpha: fp(0), MutationRate: fp(0), GeneMutationProb: fp(0), Elite: ip(0)}, nil},
		{"population", Settings{PopulationSize: 3}, []string{"population_size: 3 is too small: use at least 4 (0 means 40)"}},
		{"tournament", Settings{Tournament: -1}, []string{"tournament: -1: give a positive size (0 means 3)"}},
		{"rates", Settings{CrossoverRate: fp(1.5), MutationRate: fp(-0.1), GeneMutationProb: fp(math.NaN())}, []string{
			"crossover_rate: 1.5: give a probability in [0, 1]",
			"mutation_rate: -0.1: give a probability in [0, 1]",
			"gene_mutation_prob: NaN: give a probability in [0, 1]",
		}},
		{"blend alpha", Settings{BlendAlpha: fp(math.Inf(1))}, []string{"blend_alpha: +Inf: give a finite non-negative number (0: children inside the parents' box)"}},
		{"sigma", Settings{MutationSigma: -1}, []string{"mutation_sigma: -1: give a finite non-negative number (0 means the default)"}},
		{"elite", Settings{Elite: ip(-2)}, []string{"elite: -2: give a non-negative count (0: no elitism)"}},
		{"start points", Settings{StartPoints: []string{"defaults", "middle", "defaults"}}, []string{
			`start_points[1]: unknown start point "middle": use "defaults", "average" or "adamerging:<run directory>"`,
			`start_points[2]: "defaults" is listed twice`,
		}},
		{"scalarization", Settings{Scalarization: search.Scalarization{Method: search.Chebyshev, Weights: []float64{1, -1}, Rho: -1}}, []string{
			"scalarization.weights[1]: -1: weights must be finite and non-negative",
			"scalarization.ideal: missing: chebyshev needs an ideal point, one value per objective (1 for accuracies)",
			"scalarization.rho: -1: give a finite non-negative number (0 means the default)",
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
	var s Settings
	s.Defaults(search.Budget{})
	want := Settings{
		PopulationSize: DefaultPopulation, Tournament: DefaultTournament,
		CrossoverRate: fp(DefaultCrossoverRate), BlendAlpha: fp(DefaultBlendAlpha), MutationRate: fp(DefaultMutationRate),
		MutationSigma: DefaultMutationSigma, Elite: ip(DefaultElite),
		Scalarization: search.Scalarization{Method: search.WeightedSum},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults %+v\nwant %+v", s, want)
	}
	if s.GeneMutationProb != nil {
		t.Error("gene_mutation_prob defaults to 1/n when the run starts, not in the settings")
	}
	if got := problems(&s); got != nil {
		t.Errorf("defaults do not validate: %q", got)
	}
	// Explicit zeros mean "off" and stay.
	off := Settings{CrossoverRate: fp(0), BlendAlpha: fp(0), Elite: ip(0)}
	off.Defaults(search.Budget{})
	if *off.CrossoverRate != 0 || *off.BlendAlpha != 0 || *off.Elite != 0 {
		t.Errorf("defaults overwrote explicit zeros: %+v", off)
	}
	if got := s.Traits(); !slices.Equal(got.Sizes, []search.Size{{Key: "population_size", N: DefaultPopulation, Kind: search.SizeMembers}}) {
		t.Errorf("traits %+v", got)
	}
}

func TestSettingsUpgradeResolved(t *testing.T) {
	old := func() Settings {
		return Settings{PopulationSize: 10, CrossoverRate: fp(0), BlendAlpha: fp(0), MutationRate: fp(0), GeneMutationProb: fp(0), Elite: ip(0), MutationSigma: 0.2}
	}
	s := old()
	s.UpgradeResolved(1)
	if *s.CrossoverRate != DefaultCrossoverRate || *s.BlendAlpha != DefaultBlendAlpha || *s.MutationRate != DefaultMutationRate ||
		s.GeneMutationProb != nil || *s.Elite != DefaultElite || s.PopulationSize != 10 || s.MutationSigma != 0.2 {
		t.Errorf("format 1 upgraded to %+v", s)
	}
	s = old()
	s.UpgradeResolved(2)
	if want := old(); !reflect.DeepEqual(s, want) {
		t.Errorf("format 2 changed: %+v", s)
	}
	set := Settings{CrossoverRate: fp(0.5), GeneMutationProb: fp(0.25), Elite: ip(3)}
	set.UpgradeResolved(1)
	if *set.CrossoverRate != 0.5 || *set.GeneMutationProb != 0.25 || *set.Elite != 3 {
		t.Errorf("format 1 lost non-zero settings: %+v", set)
	}
}

func TestSettingsElite(t *testing.T) {
	for _, tc := range []struct {
		elite     *int
		opts, use int
	}{{nil, 0, DefaultElite}, {ip(0), -1, 0}, {ip(2), 2, 2}} {
		s := Settings{Elite: tc.elite}
		o := s.Options(nil)
		if o.Elite != tc.opts || o.withDefaults().Elite != tc.use {
			t.Errorf("elite %v: options %d (uses %d), want %d (uses %d)", tc.elite, o.Elite, o.withDefaults().Elite, tc.opts, tc.use)
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
	if Algorithm.Name != "ga" || Algorithm.Summary == "" {
		t.Fatalf("entry %q %q", Algorithm.Name, Algorithm.Summary)
	}
	p := searchtest.Sphere(3)
	start := []float64{0.5, -1, 2}
	env := search.Env{
		Space: p.Space, Objectives: objectives(1), Seed: 4,
		StartPoint: func(key string, sp search.StartPoint) ([]float64, error) {
			if key != "start_points[0]" || sp.Kind != search.StartDefaults {
				return nil, fmt.Errorf("asked for %s %+v", key, sp)
			}
			return start, nil
		},
	}
	scal := search.Scalarization{Weights: []float64{2}}
	m, err := build(t, Settings{PopulationSize: 6, StartPoints: []string{"defaults"}, Scalarization: scal}, env)
	if err != nil {
		t.Fatal(err)
	}
	g := m.(*Method)
	defer g.Close()
	if got := g.Scalarization(); got.Method != search.WeightedSum || !slices.Equal(got.Weights, scal.Weights) {
		t.Errorf("scalarization %+v", got)
	}
	if err := m.Init(search.Problem{Space: p.Space, Directions: p.Directions, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	batch, err := m.Ask()
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 6 {
		t.Errorf("first batch of %d, want the population of 6", len(batch))
	}
	for j, v := range batch[0].Genome.Values {
		if math.Abs(v-start[j]) > 1e-12 {
			t.Errorf("first candidate %v, want the start point %v", batch[0].Genome.Values, start)
			break
		}
	}
}

func TestAlgorithmNewRefusals(t *testing.T) {
	p := searchtest.Sphere(2)
	objs := objectives(3)
	sc := search.Scalarization{Method: search.WeightedSum, Weights: []float64{1, 1}}
	_, err := build(t, Settings{Scalarization: sc}, search.Env{Space: p.Space, Objectives: objs})
	var se *search.SettingError
	if !errors.As(err, &se) || se.Key != "scalarization" {
		t.Fatalf("weights for 2 of 3 objectives: %v", err)
	}
	want := fmt.Sprintf("%v (the objectives expand to 3: t0/accuracy, t1/accuracy, t2/accuracy)", sc.Validate(3))
	if se.Msg != want {
		t.Errorf("message %q\nwant %q", se.Msg, want)
	}
	_, err = build(t, Settings{StartPoints: []string{"average"}}, search.Env{Space: p.Space, Objectives: objs})
	if !errors.As(err, &se) || se.Key != "start_points[0]" {
		t.Errorf("start point without a resolver: %v", err)
	}
}
