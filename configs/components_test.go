package configs

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
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

// The toy evaluator kinds: "local" (the default) with a count of examples,
// "remote" with an address and a timeout that defaults to 5s, and "both"
// with both keys, so a key can belong to several kinds.
type localSettings struct {
	Examples int `toml:"examples,omitempty"`
}

type remoteSettings struct {
	Address string        `toml:"address,omitempty"`
	Timeout time.Duration `toml:"timeout,omitempty"`
	Retries []int         `toml:"retries,omitempty"`
}

type bothSettings struct {
	Examples int    `toml:"examples,omitempty"`
	Address  string `toml:"address,omitempty"`
}

// toyKind is a toy evaluator kind's table: its Complete reports with
// absolute keys, as the registry's adapter does.
type toyKind struct {
	settings any
	mapped   []string
	upgraded int
}

func (t *toyKind) Target() any { return t.settings }

func (t *toyKind) Complete(e *Experiment, problem func(key, msg string)) {
	switch s := t.settings.(type) {
	case *localSettings:
		if s.Examples < 0 {
			problem("evaluator.examples", "negative")
		}
		if e.Models.Benchmark == "" {
			problem("evaluator.kind", "local needs a benchmark")
		}
	case *remoteSettings:
		if s.Timeout == 0 {
			s.Timeout = 5 * time.Second
		}
		if s.Address == "" {
			problem("evaluator.address", "missing")
		}
	}
}

func (t *toyKind) UpgradeResolved(format int) { t.upgraded = format }

func (t *toyKind) MapPaths(f func(string) string) { t.mapped = append(t.mapped, f("q")) }

func (toyCatalog) EvaluatorNames() []string { return []string{"local", "remote", "both"} }

// The toy catalog's metrics: "score" (the default) is maximised, "cost"
// minimised.
func (toyCatalog) MetricNames() []string { return []string{"score", "cost"} }

// The "remote" kind reports metrics of its own.
func (toyCatalog) AnyMetric(kind string) bool { return kind == "remote" }

func (toyCatalog) MetricDirection(name string) (string, bool) {
	switch name {
	case "score":
		return "maximize", true
	case "cost":
		return "minimize", true
	}
	return "", false
}

func (toyCatalog) EvaluatorTable(kind string) (Table, bool) {
	switch kind {
	case "local":
		return &toyKind{settings: new(localSettings)}, true
	case "remote":
		return &toyKind{settings: new(remoteSettings)}, true
	case "both":
		return &toyKind{settings: new(bothSettings)}, true
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

// The configuration takes objectives' metrics, their default and their
// directions from the catalog alone.
func TestMetricsFromTheCatalog(t *testing.T) {
	src := toyExperiment + "[search.toy]\nname = \"n\"\n[[objectives]]\ntask = \"all\"\n[[objectives]]\ntask = \"mean\"\nmetric = \"cost\"\n"
	e, err := DecodeExperiment("x.toml", []byte(src), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Objective{{Task: "all", Metric: "score", Direction: "maximize"}, {Task: "mean", Metric: "cost", Direction: "minimize"}}
	if !reflect.DeepEqual(e.Objectives, want) {
		t.Errorf("objectives %+v, want %+v", e.Objectives, want)
	}
	_, err = DecodeExperiment("x.toml", []byte(strings.Replace(src, `"cost"`, `"accuracy"`, 1)), toyCatalog{})
	if err == nil || !strings.Contains(err.Error(), `unknown metric "accuracy": use "score" or "cost"`) {
		t.Errorf("a metric the catalog lacks: %v", err)
	}
	// An evaluator that reports metrics of its own takes any metric name,
	// with a direction.
	remote := strings.Replace(src, `"cost"`, `"bleu"`, 1) + "[evaluator]\nkind = \"remote\"\naddress = \"a:1\"\n"
	_, err = DecodeExperiment("x.toml", []byte(remote), toyCatalog{})
	if err == nil || !strings.Contains(err.Error(), `objectives[1].direction: missing: "bleu" is a metric of your evaluator`) {
		t.Errorf("an own metric without a direction: %v", err)
	}
	e, err = DecodeExperiment("x.toml", []byte(strings.Replace(remote, `metric = "bleu"`, "metric = \"bleu\"\ndirection = \"maximize\"", 1)), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	if o := e.Objectives[1]; o.Metric != "bleu" || o.Direction != "maximize" {
		t.Errorf("own metric objective %+v", o)
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

func TestEvaluatorKindTableDecodedByItsType(t *testing.T) {
	base := toyExperiment + "[search.toy]\nname = \"n\"\n"
	e, err := DecodeExperiment("x.toml", []byte(base), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := e.Evaluator.Table.(*toyKind); e.Evaluator.Kind != "local" || !ok || *k.settings.(*localSettings) != (localSettings{}) {
		t.Errorf("no [evaluator]: kind %q, table %+v; want the catalog's first kind with empty settings", e.Evaluator.Kind, e.Evaluator.Table)
	}
	src := base + "[evaluator]\nkind = \"remote\"\naddress = \"a:1\"\nretries = [1, 2]\n"
	e, err = DecodeExperiment("x.toml", []byte(src), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	k := e.Evaluator.Table.(*toyKind)
	want := remoteSettings{Address: "a:1", Timeout: 5 * time.Second, Retries: []int{1, 2}}
	if got := *k.settings.(*remoteSettings); got.Address != want.Address || got.Timeout != want.Timeout || len(got.Retries) != 2 {
		t.Errorf("settings %+v, want %+v (the timeout completed)", got, want)
	}
	e.MapPaths(func(p string) string {
		if p == "" {
			return p
		}
		return "/abs/" + p
	})
	if len(k.mapped) != 1 || k.mapped[0] != "/abs/q" {
		t.Errorf("MapPaths did not reach the evaluator's table: %v", k.mapped)
	}
	enc, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), "\n[evaluator]\nkind = \"remote\"\naddress = \"a:1\"\ntimeout = \"5s\"\nretries = [1, 2]\n") {
		t.Errorf("resolved config lacks [evaluator] with its kind first and the completed settings:\n%s", enc)
	}
	back, err := DecodeResolved("config.toml", enc, toyCatalog{})
	if err != nil {
		t.Fatalf("%v\n%s", err, enc)
	}
	if got := *back.Evaluator.Table.(*toyKind).settings.(*remoteSettings); got.Address != want.Address || got.Timeout != want.Timeout {
		t.Errorf("resolved settings read back as %+v", got)
	}
	old := strings.Replace(string(enc), "format = 2\n", "", 1)
	back, err = DecodeResolved("config.toml", []byte(old), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Evaluator.Table.(*toyKind).upgraded; got != 0 || back.Format != 0 {
		t.Errorf("format-less file: evaluator upgrade called with format %d", got)
	}
	var n int
	for _, line := range strings.Split(string(enc), "\n") {
		if line == "[evaluator]" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("[evaluator] written %d times:\n%s", n, enc)
	}
}

func TestEvaluatorKindProblems(t *testing.T) {
	base := toyExperiment + "[search.toy]\nname = \"n\"\n" // 13 lines
	tests := []struct {
		name string
		src  string
		// want are "key@line: message part" of every problem.
		want []string
	}{
		{"keys of other kinds, unknown keys, wrong types and the kind's checks at once",
			base + "[evaluator]\nkind = \"remote\"\nexamples = 3\ntimeout = true\nadress = \"x\"\nexampels = 1\nretries = [\"a\"]\nAddress = \"y\"\nzzz = 1\n",
			[]string{
				`evaluator.examples@16: only used by kind = "local" or "both" (this evaluator is kind = "remote")`,
				`evaluator.timeout@17: wrong type: want a duration`,
				`evaluator.adress@18: unknown key; did you mean "address"?`,
				`evaluator.exampels@19: unknown key; did you mean "examples" (used by kind = "local" or "both")?`,
				`evaluator.retries[0]@20: wrong type: want an integer`,
				`evaluator.Address@21: keys are case-sensitive: write "address"`,
				`evaluator.zzz@22: unknown key; allowed here: address, kind, retries, timeout`,
				`evaluator.address@14: missing`,
			}},
		{"the default kind reports another kind's key and its own checks",
			base + "[evaluator]\naddress = \"a\"\nexamples = -1\n",
			[]string{
				`evaluator.address@15: only used by kind = "remote" or "both" (this evaluator is kind = "local")`,
				`evaluator.examples@16: negative`,
			}},
		{"a kind's check of the rest of the experiment",
			strings.Replace(base, "benchmark = \"b\"", "base = \"x\"\n[[models.experts]]\nname = \"e\"\npath = \"p\"", 1),
			[]string{`evaluator.kind@0: local needs a benchmark`}},
		{"an unknown kind: its keys are not judged, others are",
			base + "[evaluator]\nkind = \"grpc\"\naddress = \"a\"\nzzz = 1\nadres = 2\n",
			[]string{
				`evaluator.kind@15: unknown evaluator "grpc": use "local", "remote" or "both"`,
				`evaluator.zzz@17: unknown key; allowed here: address, examples, kind, retries, timeout`,
				`evaluator.adres@18: unknown key; did you mean "address"?`,
			}},
		{"a kind of the wrong type", base + "[evaluator]\nkind = 3\naddress = \"a\"\n",
			[]string{`evaluator.kind@15: wrong type: want a string`}},
		{"a value of the wrong type is not also reported missing", base + "[evaluator]\nkind = \"remote\"\naddress = 4\n",
			[]string{`evaluator.address@16: wrong type: want a string`}},
		{"with problems elsewhere", strings.Replace(base, "max_evaluations = 3", "max_evaluations = \"3\"", 1) + "[evaluator]\nkind = \"remote\"\naddress = \"a\"\nexamples = 1\n",
			[]string{`search.max_evaluations@11: wrong type`, `evaluator.examples@17: only used by kind = "local" or "both"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeExperiment("bad.toml", []byte(tt.src), toyCatalog{})
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v, want Problems", err)
			}
			var got []string
			for _, p := range ps {
				if p.File != "bad.toml" {
					t.Errorf("%v does not name the file", p)
				}
				got = append(got, p.Key+"@"+itoa(p.Line)+": "+p.Msg)
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("missing %s in\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n  %s", len(got), len(tt.want), strings.Join(got, "\n  "))
			}
		})
	}
}

func TestResolvedEvaluatorIgnoresOtherKindsKeys(t *testing.T) {
	// A run directory's config.toml from before kinds owned their keys:
	// every kind's keys written, those of other kinds without effect.
	src := "format = 2\n" + toyExperiment + "[search.toy]\nname = \"n\"\n[evaluator]\nkind = \"remote\"\naddress = \"a\"\nexamples = 0\n"
	e, err := DecodeResolved("config.toml", []byte(src), toyCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Evaluator.Table.(*toyKind).settings.(*remoteSettings); got.Address != "a" {
		t.Errorf("settings %+v", got)
	}
	// A user's file is strict; and a resolved one still rejects keys of no kind.
	if _, err := DecodeExperiment("mine.toml", []byte(src), toyCatalog{}); err == nil || !strings.Contains(err.Error(), `evaluator.examples: only used by kind = "local" or "both"`) {
		t.Errorf("a user's file: %v, want the other kind's key reported", err)
	}
	if _, err := DecodeResolved("config.toml", []byte(src+"zzz = 1\n"), toyCatalog{}); err == nil || !strings.Contains(err.Error(), "evaluator.zzz") {
		t.Errorf("a resolved file with a key of no kind: %v", err)
	}
}
