package run

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/configs"
	natsev "github.com/evomerge/evomerge/evaluate/nats"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/fw"
)

// TestEveryAlgorithmRunsAndReplays runs each search algorithm on the smoke
// benchmark and resumes the finished run: the replay must answer every
// candidate from the journal and end with the same front.
func TestEveryAlgorithmRunsAndReplays(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
	}{
		{"random", func(s string) string {
			return strings.Replace(strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "random"`, 1),
				"[search.nsga2]\npopulation_size = 8\nstart_points = [\"average\"]", "[search.random]\nbatch_size = 6\nsampling = \"lhs\"", 1)
		}},
		{"ga", func(s string) string {
			return strings.Replace(strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "ga"`, 1),
				"[search.nsga2]\npopulation_size = 8", "[search.ga]\npopulation_size = 8\nelite = 2", 1)
		}},
		{"cmaes", func(s string) string {
			return strings.Replace(strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "cmaes"`, 1),
				"[search.nsga2]\npopulation_size = 8", "[search.cmaes]\npopulation_size = 6\nstep_size = 0.2\ncovariance = \"diagonal\"", 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			exp := decodeSmoke(t, dir, func(s string) string {
				return strings.Replace(tt.edit(s), "max_evaluations = 44", "max_evaluations = 24", 1)
			})
			first, err := Start(context.Background(), exp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if first.Status != rundir.StateFinished || first.Result.Evaluations != 24 || len(first.Front.Members) == 0 {
				t.Fatalf("status %s, %d evaluations, front %d", first.Status, first.Result.Evaluations, len(first.Front.Members))
			}
			again, err := Resume(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Evaluated != 0 || again.Replayed != 24 {
				t.Errorf("resuming a finished run evaluated %d and replayed %d; want 0 and 24", again.Evaluated, again.Replayed)
			}
			if !reflect.DeepEqual(frontKey(again.Front), frontKey(first.Front)) {
				t.Errorf("replayed front differs:\n%v\nwant\n%v", frontKey(again.Front), frontKey(first.Front))
			}
		})
	}
}

// TestCommandEvaluatorFailuresDoNotStopTheRun scores candidates with a
// shell script that fails for about a quarter of them.
func TestCommandEvaluatorFailuresDoNotStopTheRun(t *testing.T) {
	script := filepath.Join(t.TempDir(), "score.sh")
	body := `#!/bin/sh
s=$(cksum < "$1" | cut -d' ' -f1)
if [ $((s % 4)) -eq 0 ]; then echo "checksum $s is unlucky" >&2; exit 3; fi
echo "loading $1"
echo "{\"scores\": {\"digits/accuracy\": 0.$((s % 1000 + 1000))}}"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	exp := decodeSmoke(t, dir, func(s string) string {
		s = strings.Replace(s, "max_evaluations = 44", "max_evaluations = 24", 1)
		s = strings.Replace(s, `task = "all"`, `task = "digits"`, 1)
		return strings.Replace(s, "[evaluator]\nexamples = 100", "[evaluator]\nkind = \"command\"\ncommand = [\""+script+"\", \"{model}\"]\ntimeout = \"30s\"", 1)
	})
	res, err := Start(context.Background(), exp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != rundir.StateFinished || res.Result.Evaluations != 24 {
		t.Fatalf("status %s after %d evaluations", res.Status, res.Result.Evaluations)
	}
	failed := 0
	for _, c := range res.Result.Candidates {
		switch c.Status {
		case population.StatusFailed:
			failed++
			if !strings.Contains(c.Error, "unlucky") {
				t.Errorf("failure reason %q does not quote the command's stderr", c.Error)
			}
		case population.StatusOK:
			if len(c.Scores) != 1 || c.Scores[0] < 0.1 || c.Scores[0] > 0.2 {
				t.Errorf("score %v, want one value in [0.1, 0.2)", c.Scores)
			}
		}
	}
	if failed == 0 || failed == 24 || res.Result.Failed != failed {
		t.Errorf("%d of 24 candidates failed (result says %d); want some but not all", failed, res.Result.Failed)
	}
	for _, m := range res.Front.Members {
		if m.Test != nil {
			t.Errorf("member %s was scored on test by a command run", short(m.ID))
		}
	}
	st, err := rundir.Status(dir)
	if err != nil || st.Failed != failed {
		t.Errorf("status: %+v, %v; want %d failed", st, err, failed)
	}
}

// TestExampleExperimentsRunOnASmokeBudget runs every example experiment
// (all examples but the merge recipes) that runs on a built-in benchmark,
// as shipped but on the benchmark's smoke recipe and a budget of a few
// evaluations (AdaMerging a few Adam steps, FW-Merging two iterations):
// operator parameters, layer groups, objectives, start points and method
// settings must all fit, and the run must end with a front. The NATS
// example, which needs worker processes, is composed only.
func TestExampleExperimentsRunOnASmokeBudget(t *testing.T) {
	files, names := configs.Examples()
	n := 0
	for _, name := range names {
		if strings.HasPrefix(name, "merge-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			exp, err := configs.DecodeExperiment(name, files[name], registry.Catalog())
			if err != nil {
				t.Fatal(err)
			}
			if exp.Models.Benchmark == "" {
				t.Skip("checkpoints on disk that the example only names")
			}
			n++
			exp.Models.Recipe, exp.Models.CacheDir = configs.RecipeSmoke, smokeCache
			exp.Experiment.Output = filepath.Join(t.TempDir(), "run")
			exp.Search.MaxEvaluations, exp.Search.MaxTime = 6, 0
			exp.Report.HTML = new(bool)
			settings, _ := registry.Settings(exp)
			switch s := settings.(type) {
			case *adamerging.Settings:
				s.Steps = min(s.Steps, 3)
			case *fw.Settings:
				s.Iterations = min(s.Iterations, 2)
				s.AdaSteps = min(s.AdaSteps, 3)
			}
			if exp.Evaluator.Kind == natsev.Kind {
				c, err := compose(context.Background(), exp, composeOptions{WithMethod: true})
				if err != nil {
					t.Fatal(err)
				}
				if c.method == nil || c.space.Len() == 0 || len(c.objectives) == 0 {
					t.Errorf("incomplete components: method %v, %d dimensions, %d objectives", c.method, c.space.Len(), len(c.objectives))
				}
				// Its evaluator scores through a coordinator each session
				// starts; the local build identifies the results.
				if c.sessions == nil || c.native == nil || c.eval == nil || len(c.tasks) == 0 {
					t.Errorf("nats evaluator: sessions %v, native %v, %d tasks", c.sessions, c.native, len(c.tasks))
				}
				return
			}
			out, err := Start(context.Background(), exp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != rundir.StateFinished || out.Result.Evaluations < 1 || out.Result.Evaluations > 6 || len(out.Front.Members) == 0 {
				t.Errorf("status %s, %d evaluations, front of %d; want a finished run of 1 to 6 evaluations with a front",
					out.Status, out.Result.Evaluations, len(out.Front.Members))
			}
		})
	}
	q, err := configs.DecodeExperiment(configs.QuickstartFile, configs.Quickstart(), registry.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	q.Models.Recipe, q.Models.CacheDir = configs.RecipeSmoke, smokeCache
	c, err := compose(context.Background(), q, composeOptions{WithMethod: true})
	if err != nil {
		t.Fatalf("quickstart: %v", err)
	}
	if got, want := dimNames(c), []string{
		"layers.1/weight[digits]", "layers.1/weight[rotated]", "layers.1/weight[permuted]", "layers.1/weight[mod3]",
		"layers.3/weight[digits]", "layers.3/weight[rotated]", "layers.3/weight[permuted]", "layers.3/weight[mod3]",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("quickstart dimensions %v, want %v", got, want)
	}
	if n < len(registry.AlgorithmNames()) {
		t.Errorf("composed %d example experiments, want at least one per algorithm", n)
	}
}

// An experiment with crossover_prob = 0 and mutation_prob = 0 makes no
// crossover child: every NSGA-II child is a copy of a parent, so it has the
// parent's id and is answered from the journal; only the first population
// is ever evaluated. With the defaults, new children are evaluated.
func TestNSGA2CrossoverProbZeroTurnsCrossoverOff(t *testing.T) {
	for _, tt := range []struct {
		name         string
		settings     string
		wantChildren bool
	}{
		{"crossover and mutation off", "crossover_prob = 0.0\nmutation_prob = 0.0", false},
		{"defaults", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			exp := decodeSmoke(t, dir, func(s string) string {
				return strings.Replace(s, "population_size = 8", "population_size = 8\n"+tt.settings, 1)
			})
			if _, err := Start(context.Background(), exp, Options{Out: io.Discard}); err != nil {
				t.Fatal(err)
			}
			j, err := rundir.ReadJournal(filepath.Join(dir, rundir.JournalFile))
			if err != nil {
				t.Fatal(err)
			}
			children := 0
			for _, r := range j.Records {
				if len(r.Lineage.Parents) > 0 {
					children++
				}
			}
			if got := children > 0; got != tt.wantChildren {
				t.Errorf("%d new children evaluated in %d records; want children: %v", children, len(j.Records), tt.wantChildren)
			}
			if !tt.wantChildren && len(j.Records) != 8 {
				t.Errorf("%d records, want the first population of 8 only", len(j.Records))
			}
		})
	}
}
