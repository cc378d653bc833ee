package registry_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	. "github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	natsev "github.com/evomerge/evomerge/evaluate/nats"
	"github.com/evomerge/evomerge/internal/registry"
)

func TestEvaluatorKindsListed(t *testing.T) {
	if got, want := registry.EvaluatorNames(), []string{evaluate.NativeKind, evaluate.CommandKind, natsev.Kind}; !reflect.DeepEqual(got, want) {
		t.Errorf("kinds %v, want %v (the default first)", got, want)
	}
	if !reflect.DeepEqual(catalog.EvaluatorNames(), registry.EvaluatorNames()) {
		t.Errorf("the catalog lists %v", catalog.EvaluatorNames())
	}
	types := map[string]any{
		evaluate.NativeKind: &evaluate.NativeSettings{}, evaluate.CommandKind: &evaluate.CommandSettings{}, natsev.Kind: &natsev.Settings{},
	}
	for _, k := range registry.Evaluators() {
		if k.Summary == "" || k.NewSettings == nil || k.New == nil {
			t.Errorf("%s: incomplete entry %+v", k.Name, k)
		}
		tab, ok := catalog.EvaluatorTable(k.Name)
		if !ok || reflect.TypeOf(tab.Target()) != reflect.TypeOf(types[k.Name]) {
			t.Errorf("%s: table %v, want settings of type %T", k.Name, tab, types[k.Name])
		}
		if a, _ := catalog.EvaluatorTable(k.Name); a.Target() == tab.Target() {
			t.Errorf("%s: the catalog returns the same settings twice", k.Name)
		}
	}
	if _, ok := catalog.EvaluatorTable("grpc"); ok {
		t.Error("an unknown kind has a table")
	}
}

// withEvaluator is minimalExperiment with an [evaluator] table (its keys
// from line 20 on).
func withEvaluator(table string) string {
	return minimalExperiment + "\n[evaluator]\n" + table
}

func TestEvaluatorSettingsOfEachKind(t *testing.T) {
	tests := []struct {
		table    string
		want     evaluate.Settings
		examples int
		describe string
	}{
		{"examples = 50\n", &evaluate.NativeSettings{Examples: 50}, 50, ""},
		{"kind = \"native\"\n", &evaluate.NativeSettings{}, 0, ""},
		{"kind = \"command\"\ncommand = [\"score\", \"{model}\"]\n",
			&evaluate.CommandSettings{Command: []string{"score", "{model}"}, Timeout: evaluate.DefaultCommandTimeout}, 0, "command: score {model}"},
		{"kind = \"command\"\ncommand = [\"score\"]\ntimeout = \"5m\"\n",
			&evaluate.CommandSettings{Command: []string{"score"}, Timeout: 5 * time.Minute}, 0, "command: score"},
		{"kind = \"nats\"\nserver = \"nats://n1:4222\"\nexamples = 7\n",
			&natsev.Settings{Server: "nats://n1:4222", Timeout: natsev.DefaultMaxDuration, Examples: 7}, 7, ""},
	}
	for _, tt := range tests {
		e, err := DecodeExperiment("x.toml", []byte(withEvaluator(tt.table)), catalog)
		if err != nil {
			t.Errorf("%q: %v", tt.table, err)
			continue
		}
		if got := evaluatorOf(t, e); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: settings %+v, want %+v", tt.table, got, tt.want)
		}
		if got := registry.FitnessExamples(e); got != tt.examples {
			t.Errorf("%q: fitness examples %d, want %d", tt.table, got, tt.examples)
		}
		if got := registry.DescribeEvaluator(e); got != tt.describe {
			t.Errorf("%q: described as %q, want %q", tt.table, got, tt.describe)
		}
		// The resolved config states the kind first and the completed
		// settings, and reads back to them.
		enc, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(enc), "\n[evaluator]\nkind = \""+e.Evaluator.Kind+"\"\n") {
			t.Errorf("%q: resolved config lacks [evaluator] with its kind first:\n%s", tt.table, enc)
		}
		back, err := DecodeResolved("config.toml", enc, catalog)
		if err != nil {
			t.Fatalf("%q: %v\n%s", tt.table, err, enc)
		}
		if got := evaluatorOf(t, back); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: resolved settings read back as %+v, want %+v", tt.table, got, tt.want)
		}
	}
}

func TestEvaluatorProblems(t *testing.T) {
	noBenchmark := strings.Replace(minimalExperiment, "benchmark = \"mnist-tasks\"", "base = \"b\"\n[[models.experts]]\nname = \"a\"\npath = \"a\"\ntask = \"a\"", 1)
	tests := []struct {
		name string
		src  string
		want []string // "key@line: message part"
	}{
		{"keys of other kinds under native",
			withEvaluator("command = [\"score\"]\nserver = \"nats://x\"\ntimeout = \"1m\"\nexamples = -1\n"),
			[]string{
				`evaluator.command@20: only used by kind = "command" (this evaluator is kind = "native"): remove it or change the kind`,
				`evaluator.server@21: only used by kind = "nats" (this evaluator is kind = "native")`,
				`evaluator.timeout@22: only used by kind = "command" or "nats" (this evaluator is kind = "native")`,
				`evaluator.examples@23: -1: give a positive count (0 means the whole fitness split)`,
			}},
		{"command: other kinds' keys, misspellings, wrong types",
			withEvaluator("kind = \"command\"\ncommand = \"score\"\ntimeout = \"soon\"\nexamples = 10\nserver = \"x\"\ncomand = [\"x\"]\nexampels = 1\n"),
			[]string{
				`evaluator.command@21: wrong type: want an array, got string "score"`,
				`evaluator.timeout@22: wrong type: want a duration`,
				`evaluator.examples@23: only used by kind = "native" or "nats" (this evaluator is kind = "command")`,
				`evaluator.server@24: only used by kind = "nats"`,
				`evaluator.comand@25: unknown key; did you mean "command"?`,
				`evaluator.exampels@26: unknown key; did you mean "examples" (used by kind = "native" or "nats")?`,
			}},
		{"command: range problems",
			withEvaluator("kind = \"command\"\ncommand = [\" \"]\ntimeout = \"-1s\"\n"),
			[]string{`evaluator.command@21: missing: give the argv`, `evaluator.timeout@22: -1s: give a positive duration`}},
		{"nats: another kind's key, ranges, no benchmark",
			strings.Replace(withEvaluator("kind = \"nats\"\ncommand = [\"x\"]\ntimeout = \"-2s\"\nexamples = -1\nservers = \"x\"\n"), "benchmark = \"mnist-tasks\"", "base = \"b\"\n[[models.experts]]\nname = \"a\"\npath = \"a\"\ntask = \"a\"", 1),
			[]string{
				`evaluator.kind@24: NATS workers score natively on a built-in benchmark's task data: set models.benchmark, or use kind = "command"`,
				`evaluator.command@25: only used by kind = "command" (this evaluator is kind = "nats")`,
				`evaluator.timeout@26: -2s: give a positive duration`,
				`evaluator.examples@27: -1: give a positive count`,
				`evaluator.servers@28: unknown key; did you mean "server"?`,
			}},
		{"native without a benchmark", noBenchmark,
			[]string{`evaluator.kind@0: the native evaluator scores on a built-in benchmark's task data: set models.benchmark, or use kind = "command"`}},
		{"an unknown kind", withEvaluator("kind = \"grpc\"\ntimeout = \"1m\"\n"),
			[]string{`evaluator.kind@20: unknown evaluator "grpc": use "native", "command" or "nats"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeExperiment("bad.toml", []byte(tt.src), catalog)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v (%T), want Problems", err, err)
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
					found = found || strings.HasPrefix(g, w)
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

// TestResolvedEvaluatorOfOlderReleases reads [evaluator] tables as run
// directories' config.toml held them before each kind owned its keys:
// every kind's keys written, those of other kinds without effect.
func TestResolvedEvaluatorOfOlderReleases(t *testing.T) {
	tests := []struct {
		table string
		want  evaluate.Settings
	}{
		{"kind = \"native\"\ntimeout = \"0s\"\nexamples = 100\n", &evaluate.NativeSettings{Examples: 100}},
		{"kind = \"native\"\ntimeout = \"5m0s\"\nexamples = 0\n", &evaluate.NativeSettings{}},
		{"kind = \"command\"\ncommand = [\"score\"]\ntimeout = \"10m0s\"\nexamples = 0\n",
			&evaluate.CommandSettings{Command: []string{"score"}, Timeout: 10 * time.Minute}},
		{"kind = \"nats\"\ntimeout = \"0s\"\nserver = \"nats://n1:4222\"\nexamples = 60\n",
			&natsev.Settings{Server: "nats://n1:4222", Timeout: natsev.DefaultMaxDuration, Examples: 60}},
	}
	for _, tt := range tests {
		for _, format := range []string{"", "format = 2\n"} {
			src := format + withEvaluator(tt.table)
			e, err := DecodeResolved("config.toml", []byte(src), catalog)
			if err != nil {
				t.Errorf("%q: %v", src, err)
				continue
			}
			if got := evaluatorOf(t, e); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%q: settings %+v, want %+v", tt.table, got, tt.want)
			}
			enc, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeExperiment("config.toml", enc, catalog); err != nil {
				t.Errorf("%q: the re-encoded config is not strict: %v\n%s", tt.table, err, enc)
			}
		}
	}
	// As a user's file, the same keys are reported.
	_, err := DecodeExperiment("mine.toml", []byte(withEvaluator(tests[0].table)), catalog)
	if err == nil || !strings.Contains(err.Error(), `mine.toml:21: evaluator.timeout: only used by kind = "command" or "nats"`) {
		t.Errorf("a user's file: %v", err)
	}
}
