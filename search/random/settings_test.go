package random

import (
	"slices"
	"testing"

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
		{"set", Settings{BatchSize: 3, Sampling: LHS}, nil},
		{"negative batch", Settings{BatchSize: -1}, []string{"batch_size: -1: give a positive size (0 means 16)"}},
		{"unknown sampling", Settings{Sampling: "sobol"}, []string{`sampling: unknown sampling "sobol": use "uniform" or "lhs"`}},
		{"both", Settings{BatchSize: -2, Sampling: "x"}, []string{
			"batch_size: -2: give a positive size (0 means 16)",
			`sampling: unknown sampling "x": use "uniform" or "lhs"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problems(&tc.s); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSettingsDefaults(t *testing.T) {
	var s Settings
	s.Defaults(search.Budget{})
	if want := (Settings{BatchSize: DefaultBatchSize, Sampling: Uniform}); s != want {
		t.Errorf("defaults %+v, want %+v", s, want)
	}
	if got := problems(&s); got != nil {
		t.Errorf("defaults do not validate: %q", got)
	}
	set := Settings{BatchSize: 5, Sampling: LHS}
	set.Defaults(search.Budget{})
	if set != (Settings{BatchSize: 5, Sampling: LHS}) {
		t.Errorf("defaults overwrote given settings: %+v", set)
	}
	if got := set.Traits(); got.EndsByItself || !slices.Equal(got.Sizes, []search.Size{{Key: "batch_size", N: 5, Kind: search.SizeMembers}}) {
		t.Errorf("traits %+v", got)
	}
}

func TestAlgorithmNew(t *testing.T) {
	if Algorithm.Name != "random" || Algorithm.Summary == "" {
		t.Fatalf("entry %q %q", Algorithm.Name, Algorithm.Summary)
	}
	p := searchtest.Sphere(3)
	for _, tc := range []struct {
		s    Settings
		n    int
		op   string
		name string
	}{
		{Settings{}, DefaultBatchSize, "sample-uniform", "defaults"},
		{Settings{BatchSize: 7, Sampling: LHS}, 7, "sample-lhs", "lhs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := Algorithm.NewSettings()
			*ms.(*Settings) = tc.s
			ms.Defaults(search.Budget{})
			m, err := Algorithm.New(ms, search.Env{Space: p.Space, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Init(search.Problem{Space: p.Space, Directions: p.Directions, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			batch, err := m.Ask()
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) != tc.n || batch[0].Lineage.Operator != tc.op {
				t.Errorf("first batch: %d candidates by %q, want %d by %q", len(batch), batch[0].Lineage.Operator, tc.n, tc.op)
			}
		})
	}
}
