package configs

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// toySettings is a component table for tests: one count with a default
// and one name that must be given.
type toySettings struct {
	Count int    `toml:"count,omitempty"`
	Name  string `toml:"name,omitempty"`
}

type toyTable struct {
	s        toySettings
	upgraded int
	mapped   []string
}

func (t *toyTable) Target() any { return &t.s }

func (t *toyTable) Complete(e *Experiment, problem func(key, msg string)) {
	if t.s.Count == 0 {
		t.s.Count = 7
	}
	if t.s.Name == "" {
		problem("search.toy.name", "missing: name it")
	}
	if len(e.Merge.Search) == 0 {
		problem("merge.search", "missing")
	}
}

func (t *toyTable) UpgradeResolved(format int) { t.upgraded = format }

func (t *toyTable) MapPaths(f func(string) string) { t.mapped = append(t.mapped, f("p")) }

type toyCatalog struct{}

func (toyCatalog) AlgorithmNames() []string { return []string{"toy", "other"} }

func (toyCatalog) AlgorithmTable(name string) (Table, bool) {
	if name == "toy" || name == "other" {
		return &toyTable{}, true
	}
	return nil, false
}

const toyExperiment = `[experiment]
name = "t"
[models]
benchmark = "b"
[merge]
operator = "linear"
[[merge.search]]
param = "weight"
[search]
algorithm = "toy"
max_evaluations = 3
`

func TestComponentTableDecodedByItsType(t *testing.T) {
	e, err := DecodeExperiment("x.toml", []byte(toyExperiment+"[search.toy]\nname = \"n\"\n"), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	tt := e.Search.Table.(*toyTable)
	if tt.s != (toySettings{Count: 7, Name: "n"}) {
		t.Errorf("table = %+v, want the default count and the given name", tt.s)
	}
	enc, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), "[search.toy]\ncount = 7\nname = \"n\"\n") {
		t.Errorf("resolved config lacks the completed table:\n%s", enc)
	}
	back, err := DecodeResolved("config.toml", enc, toyCatalog{})
	if err != nil {
		t.Fatalf("%v\n%s", err, enc)
	}
	if got := back.Search.Table.(*toyTable); got.s != tt.s || got.upgraded != 0 {
		t.Errorf("resolved table reads back as %+v (upgraded from %d)", got.s, got.upgraded)
	}
	old := strings.Replace(string(enc), "format = 2\n", "", 1)
	back, err = DecodeResolved("config.toml", []byte(old), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Search.Table.(*toyTable); got.upgraded != 0 || back.Format != 0 {
		t.Errorf("format-less file: upgrade called with format %d", got.upgraded)
	}
}

func TestComponentTableProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown key and wrong type in the table, problems of Complete with them",
			toyExperiment + "[search.toy]\ncount = \"x\"\nnmae = 1\n",
			[]string{"search.toy.count@13", "search.toy.nmae@14", "search.toy.name@12"}},
		{"another algorithm's table", toyExperiment + "[search.toy]\nname = \"n\"\n[search.other]\ncount = 1\n",
			[]string{"search.other@14"}},
		{"a table naming no algorithm", toyExperiment + "[search.toy]\nname = \"n\"\n[search.nope]\n",
			[]string{"search.nope@14"}},
		{"unknown algorithm", strings.Replace(toyExperiment, `"toy"`, `"toys"`, 1),
			[]string{"search.algorithm@10"}},
		{"an unknown scalar under [search] is still a schema problem", toyExperiment + "[search.toy]\nname = \"n\"\n",
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeExperiment("bad.toml", []byte(tt.src), toyCatalog{})
			var ps Problems
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if !errors.As(err, &ps) {
				t.Fatalf("error %v, want Problems", err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Key+"@"+itoa(p.Line))
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.Join(got, " "), w) {
					t.Errorf("missing %s in %v", w, got)
				}
			}
		})
	}
	_, err := DecodeExperiment("bad.toml", []byte(strings.Replace(toyExperiment, "max_evaluations = 3", "max_evaluations = 3\nmax_evals = 1", 1)+"[search.toy]\nname = \"n\"\n"), toyCatalog{})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Key != "search.max_evals" || !strings.Contains(ps[0].Msg, "max_evaluations") {
		t.Errorf("a misspelt [search] key: %v, want one problem suggesting max_evaluations", err)
	}
	if strings.Contains(err.Error(), `"*"`) {
		t.Errorf("the open-table marker leaks into the message: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
