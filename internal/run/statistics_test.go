package run

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
)

// statisticsSmoke edits the smoke config into a run of a data-aware
// operator: fisher searching each expert's weight, or regmean searching α
// per layer group.
func statisticsSmoke(op string) func(string) string {
	return func(s string) string {
		s = strings.Replace(s, `operator = "task_arithmetic"`, fmt.Sprintf("operator = %q", op), 1)
		s = strings.Replace(s, `start_points = ["average"]`, `start_points = ["defaults"]`, 1)
		s = strings.Replace(s, "max_evaluations = 44", "max_evaluations = 16", 1)
		if op == "regmean" {
			s = strings.Replace(s, "param = \"weight\"\nper_model = true\n", "param = \"alpha\"\n", 1)
			s = strings.Replace(s, "lower = 0.0\nupper = 1.0", "lower = 0.1\nupper = 0.95", 1)
		}
		return s
	}
}

// directScores merges a genome of the run the way a user of the packages
// would, without the evaluator: the benchmark's members loaded as
// networks, their statistics from model.ComputeStats on the first 256
// validation examples of each expert's task (all 200 of the smoke
// recipe's validation split: it keeps the first EvalExamples), operators.MergeAll over the
// checkpoints in memory, and each task's accuracy on the first 100
// validation examples (the run's evaluator.examples).
func directScores(t *testing.T, op operators.Operator, settings operators.Settings) ([]float64, []checkpoint.Tensor) {
	t.Helper()
	ctx := context.Background()
	r, err := benchmarks.SmokeRecipe(benchmarks.MNISTTasksName)
	if err != nil {
		t.Fatal(err)
	}
	b, err := benchmarks.Prepare(ctx, benchmarks.MNISTTasksName, benchmarks.Options{CacheDir: smokeCache, Recipe: &r})
	if err != nil {
		t.Fatal(err)
	}
	baseMember, ok := b.Base()
	if !ok {
		t.Fatal("the smoke benchmark has no base")
	}
	base, err := b.LoadMember(baseMember.Name)
	if err != nil {
		t.Fatal(err)
	}
	statsExamples := 256
	if e := b.Manifest.Recipe.EvalExamples; e > 0 && e < statsExamples {
		statsExamples = e
	}
	var experts []model.Network
	var expertTensors [][]checkpoint.Tensor
	var statsData []model.TaskData
	for _, m := range b.Pool() {
		e, err := b.LoadMember(m.Name)
		if err != nil {
			t.Fatal(err)
		}
		task, _ := b.Task(m.Task)
		d, err := b.DataRange(m.Task, data.Validation, 0, statsExamples)
		if err != nil {
			t.Fatal(err)
		}
		experts = append(experts, e)
		expertTensors = append(expertTensors, model.Tensors(e))
		statsData = append(statsData, model.TaskData{Head: task.Head, X: d.X, Y: d.Y, N: d.Len()})
	}
	req := op.Requirements()
	stats, err := model.ComputeStats(ctx, experts, statsData, model.StatsOptions{Fisher: req.Fisher, Gram: req.Gram})
	if err != nil {
		t.Fatal(err)
	}
	src, err := operators.NewMemSource(model.Tensors(base), expertTensors...)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := operators.NewPlan(op, src, settings, operators.PlanOptions{Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	var merged []checkpoint.Tensor
	err = operators.MergeAll(ctx, plan, src,
		func(m operators.TensorMeta) []float32 { return make([]float32, m.NumElements()) },
		func(m operators.TensorMeta, dst []float32) error {
			merged = append(merged, checkpoint.Tensor{Name: m.Name, Shape: m.Shape, Data: dst})
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Config().FromTensors(merged)
	if err != nil {
		t.Fatal(err)
	}
	var scores []float64
	for _, task := range b.Tasks {
		d, err := b.DataRange(task.Name, data.Validation, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tasks.ScoreDataset(ctx, net, d, task.Head, tasks.ScoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		scores = append(scores, res.Accuracy)
	}
	return scores, merged
}

func TestStatisticsOperatorsRunAndMatchADirectMerge(t *testing.T) {
	for _, name := range []string{"fisher", "regmean"} {
		t.Run(name, func(t *testing.T) {
			exp := decodeSmoke(t, filepath.Join(t.TempDir(), "run"), statisticsSmoke(name))
			out, err := Start(context.Background(), exp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != rundir.StateFinished || out.Result.Evaluations != 16 || len(out.Front.Members) == 0 {
				t.Fatalf("status %s, %d evaluations, front of %d; want a finished run of 16 with a front", out.Status, out.Result.Evaluations, len(out.Front.Members))
			}
			if out.Result.Failed != 0 {
				t.Errorf("%d candidates failed", out.Result.Failed)
			}
			// The genome's settings through the run's own mapping; the
			// merge and its statistics independently of the evaluator.
			resolved, err := configs.LoadResolved(filepath.Join(out.Dir, rundir.ConfigFile), registry.Catalog())
			if err != nil {
				t.Fatal(err)
			}
			c, err := compose(context.Background(), resolved, composeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			op, _ := operators.Builtin().Get(name)
			distinct := map[string]bool{}
			for _, m := range out.Front.Members {
				settings, err := c.mapping.Settings(m.Genome.Values)
				if err != nil {
					t.Fatal(err)
				}
				distinct[fmt.Sprint(m.Genome.Values)] = true
				want, tensors := directScores(t, op, settings)
				if fmt.Sprint(m.Validation) != fmt.Sprint(want) {
					t.Errorf("member %s: run scores %v, the direct merge scores %v", short(m.ID), m.Validation, want)
				}
				// And the evaluator's merge is the direct one, bit for bit.
				net, err := c.native.Materialize(context.Background(), m.Genome)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range tensors {
					p := net.Param(x.Name)
					if p == nil || !slices.Equal(p.Data, x.Data) {
						t.Errorf("member %s: merged tensor %s differs from the direct merge", short(m.ID), x.Name)
					}
				}
				if m.Test == nil {
					t.Errorf("member %s has no test scores", short(m.ID))
				}
			}
			t.Logf("%s: %d front members (%d distinct genomes) match the direct merge", name, len(out.Front.Members), len(distinct))
		})
	}
}

// statisticsSpec composes the experiment (edited) and returns its
// evaluation spec, which enters candidate ids.
func evalSpecOf(t *testing.T, edit func(string) string) string {
	t.Helper()
	exp := decodeSmoke(t, t.TempDir(), edit)
	c, err := compose(context.Background(), exp, composeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c.eval.EvalSpec()
}

func TestStatisticsSettingsEnterOnlyTheIdsOfRunsThatUseThem(t *testing.T) {
	evaluator := func(lines string) func(string) string {
		return func(s string) string { return strings.Replace(s, "examples = 100\n", "examples = 100\n"+lines, 1) }
	}
	then := func(a, b func(string) string) func(string) string { return func(s string) string { return b(a(s)) } }
	plain := evalSpecOf(t, nil)
	// Nor does the resolved configuration of a run that does not give them
	// change (nor, so, the NATS setup of its workers).
	text, err := decodeSmoke(t, t.TempDir(), nil).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), "statistics") || strings.Contains(string(text), "fisher_labels") {
		t.Errorf("the resolved configuration states statistics settings it was not given:\n%s", text)
	}
	given := decodeSmoke(t, t.TempDir(), then(statisticsSmoke("fisher"), evaluator("statistics_examples = 64\nfisher_labels = \"expected\"\n")))
	if text, err = given.Encode(); err != nil || !strings.Contains(string(text), "statistics_examples = 64\nfisher_labels = \"expected\"\n") {
		t.Errorf("the resolved configuration lacks the statistics settings given (%v):\n%s", err, text)
	}
	if strings.Contains(plain, "statistics") {
		t.Errorf("a task-arithmetic run's spec mentions statistics: %s", plain)
	}
	if got := evalSpecOf(t, evaluator("statistics_examples = 50\nfisher_labels = \"expected\"\n")); got != plain {
		t.Errorf("statistics settings changed a task-arithmetic run's spec:\n%s\n%s", got, plain)
	}
	fisher := evalSpecOf(t, statisticsSmoke("fisher"))
	if !strings.Contains(fisher, `"statistics":{"v":1,"fisher":true,"labels":"empirical","gram":false,"models":[`) {
		t.Errorf("fisher spec lacks its statistics: %s", fisher)
	}
	same := evalSpecOf(t, then(statisticsSmoke("fisher"), evaluator("statistics_examples = 256\nfisher_labels = \"empirical\"\n")))
	if same != fisher {
		t.Errorf("the defaults given explicitly changed the spec")
	}
	for _, lines := range []string{"statistics_examples = 50\n", "fisher_labels = \"expected\"\n"} {
		if evalSpecOf(t, then(statisticsSmoke("fisher"), evaluator(lines))) == fisher {
			t.Errorf("%q did not change the fisher run's spec", lines)
		}
	}
	regmean := evalSpecOf(t, statisticsSmoke("regmean"))
	if !strings.Contains(regmean, `"statistics":{"v":1,"fisher":false,"gram":true,"models":[`) {
		t.Errorf("regmean spec lacks its statistics: %s", regmean)
	}
	if evalSpecOf(t, then(statisticsSmoke("regmean"), evaluator("fisher_labels = \"expected\"\n"))) != regmean {
		t.Errorf("fisher_labels changed the spec of regmean, which reads no Fisher information")
	}
	if evalSpecOf(t, then(statisticsSmoke("regmean"), evaluator("statistics_examples = 50\n"))) == regmean {
		t.Errorf("statistics_examples did not change the regmean run's spec")
	}
}

// composeProblems composes exp and returns its problems.
func composeProblems(t *testing.T, exp *configs.Experiment) configs.Problems {
	t.Helper()
	_, err := compose(context.Background(), exp, composeOptions{WithMethod: true})
	var ps configs.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T), want configs.Problems", err, err)
	}
	return ps
}

func TestStatisticsOperatorsNeedANativeEvaluator(t *testing.T) {
	for _, tt := range []struct {
		name, kind, evaluator string
	}{
		{"command", "command", "[evaluator]\nkind = \"command\"\ncommand = [\"score\", \"{model}\"]\n"},
		{"nats", "nats", "[evaluator]\nkind = \"nats\"\nexamples = 100\n"},
	} {
		for _, op := range []string{"fisher", "regmean"} {
			t.Run(tt.name+"/"+op, func(t *testing.T) {
				exp := decodeSmoke(t, t.TempDir(), func(s string) string {
					s = statisticsSmoke(op)(s)
					return strings.Replace(s, "[evaluator]\nexamples = 100\n", tt.evaluator, 1)
				})
				ps := composeProblems(t, exp)
				if len(ps) != 1 || ps[0].Key != "evaluator.kind" || ps[0].Line == 0 {
					t.Fatalf("problems %v, want one at evaluator.kind with its line", ps)
				}
				for _, part := range []string{fmt.Sprintf("merge.operator = %q", op), "the " + tt.kind + " evaluator cannot compute", `use kind = "native"`} {
					if !strings.Contains(ps[0].Msg, part) {
						t.Errorf("message %q lacks %q", ps[0].Msg, part)
					}
				}
			})
		}
	}
}

func TestStatisticsNeedEachExpertsTask(t *testing.T) {
	r, err := benchmarks.SmokeRecipe(benchmarks.MNISTTasksName)
	if err != nil {
		t.Fatal(err)
	}
	b, err := benchmarks.Prepare(context.Background(), benchmarks.MNISTTasksName, benchmarks.Options{CacheDir: smokeCache, Recipe: &r})
	if err != nil {
		t.Fatal(err)
	}
	pool := b.Pool()
	// experts lists the pool's checkpoints in reverse order, with tasks.
	experts := func(tasks ...string) func(string) string {
		return func(s string) string {
			var x strings.Builder
			for i := range tasks {
				fmt.Fprintf(&x, "[[models.experts]]\nname = \"e%d\"\npath = %q\n", i, pool[len(pool)-1-i].Path)
				if tasks[i] != "" {
					fmt.Fprintf(&x, "task = %q\n", tasks[i])
				}
				x.WriteString("\n")
			}
			s = statisticsSmoke("fisher")(s)
			return strings.Replace(s, "\n[merge]\n", "\n"+x.String()+"[merge]\n", 1)
		}
	}
	exp := decodeSmoke(t, t.TempDir(), experts(pool[3].Task, "", "colour"))
	ps := composeProblems(t, exp)
	if len(ps) != 2 || ps[0].Key != "models.experts[1].task" || ps[1].Key != "models.experts[2].task" {
		t.Fatalf("problems %v, want models.experts[1].task and models.experts[2].task", ps)
	}
	for _, part := range []string{"missing:", `merge.operator = "fisher" computes each expert's diagonal Fisher information on the fitness data of the task it was fine-tuned for`, "digits, rotated"} {
		if !strings.Contains(ps[0].Msg, part) {
			t.Errorf("message %q lacks %q", ps[0].Msg, part)
		}
	}
	if !strings.Contains(ps[1].Msg, `unknown task "colour"`) {
		t.Errorf("message %q does not name the unknown task", ps[1].Msg)
	}
	// With every task named, the run composes and computes statistics of
	// each checkpoint on its task.
	exp = decodeSmoke(t, t.TempDir(), experts(pool[3].Task, pool[2].Task, pool[1].Task, pool[0].Task))
	c, err := compose(context.Background(), exp, composeOptions{WithMethod: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.eval.EvalSpec(), fmt.Sprintf(`{"model":"e1","task":%q`, pool[2].Task)) {
		t.Errorf("spec does not give e1 the statistics of its task: %s", c.eval.EvalSpec())
	}
	res, err := c.native.Score(context.Background(), population.Genome{Values: c.space.Defaults()}, data.Validation)
	if err != nil || len(res.Scores) != 4 {
		t.Fatalf("scores %v, %v", res, err)
	}
}

func TestStatisticsSettingsAreCheckedWithTheirKeys(t *testing.T) {
	src := strings.Replace(smokeConfig(t.TempDir()), "examples = 100\n", "examples = 100\nstatistics_examples = -1\nfisher_labels = \"sampled\"\n", 1)
	_, err := configs.DecodeExperiment("smoke.toml", []byte(src), registry.Catalog())
	var ps configs.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v, want problems", err)
	}
	lines := strings.Split(src, "\n")
	want := map[string]string{"evaluator.statistics_examples": "-1: give a positive count", "evaluator.fisher_labels": `unknown Fisher labels "sampled"`}
	for _, p := range ps {
		w, ok := want[p.Key]
		if !ok || !strings.Contains(p.Msg, w) || p.Line == 0 || !strings.HasPrefix(lines[p.Line-1], strings.TrimPrefix(p.Key, "evaluator.")) {
			t.Errorf("problem %v (line %d), want one of %v on its key's line", p, p.Line, want)
		}
		delete(want, p.Key)
	}
	if len(want) > 0 {
		t.Errorf("not reported: %v", want)
	}
	// A misspelt key names the right one.
	src = strings.Replace(smokeConfig(t.TempDir()), "examples = 100\n", "examples = 100\nstatistic_examples = 64\n", 1)
	_, err = configs.DecodeExperiment("smoke.toml", []byte(src), registry.Catalog())
	if err == nil || !strings.Contains(err.Error(), "statistics_examples") {
		t.Errorf("misspelt key: %v", err)
	}
}
