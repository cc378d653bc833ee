package evaluate

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

// groupTaskArithmetic searches λ per backbone layer group of task
// arithmetic on an MLP pool (groups layers.1, layers.3, ...).
func groupTaskArithmetic(tb testing.TB, pool *Pool) MergeConfig {
	tb.Helper()
	groups := pool.Config().Groups()
	op := operators.TaskArithmetic()
	_, mapping, err := searchspace.Derive(op.Params(), searchspace.Spec{
		Operator: op.Name(), Models: pool.ModelNames(),
		Targets: []searchspace.Target{{Param: "lambda", Groups: groups}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: 1}
}

// The native evaluator on a prepared (smoke) mnist-tasks agrees with the
// benchmark's own evaluation of the materialised merge.
func TestNativeOnSmokeBenchmark(t *testing.T) {
	if testing.Short() {
		t.Skip("prepares a smoke benchmark")
	}
	if _, err := data.LocateMNIST(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	recipe, err := benchmarks.SmokeRecipe(benchmarks.MNISTTasksName)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := benchmarks.Prepare(ctx, benchmarks.MNISTTasksName, benchmarks.Options{CacheDir: t.TempDir(), Recipe: &recipe})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := BenchmarkPool(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := pool.ModelNames(); !reflect.DeepEqual(got, b.TaskNames()) {
		t.Errorf("pool models %v, want the tasks %v", got, b.TaskNames())
	}
	ts, err := b.LoadTasks(ctx, benchmarks.TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.LoadTasks(ctx, benchmarks.TaskOptions{Split: data.Test}); err == nil || !strings.Contains(err.Error(), "cannot be the fitness split") {
		t.Errorf("test split as fitness: %v", err)
	}
	if _, err := b.LoadTasks(ctx, benchmarks.TaskOptions{Names: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `no task "nope"`) {
		t.Errorf("unknown task: %v", err)
	}
	objs := []fitness.Objective{{Name: "mean/normalized", Task: MeanTask, Metric: tasks.MetricNormalized, Direction: fitness.Maximize}}
	for _, name := range b.TaskNames() {
		objs = append(objs, fitness.Objective{Name: name + "/loss", Task: name, Metric: tasks.MetricLoss, Direction: fitness.Minimize})
	}
	e, err := NewNative(NativeConfig{Merge: groupTaskArithmetic(t, pool), Tasks: ts, Objectives: objs, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	g := population.VectorGenome([]float64{0.6, 0.4})
	batch := []*population.Candidate{{Genome: g}}
	if err := e.Evaluate(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if !batch[0].OK() {
		t.Fatal(batch[0].Error)
	}
	model, err := e.Materialize(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []data.Split{data.Validation, data.Test} {
		want, err := b.Evaluate(ctx, model, split)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Score(ctx, g, split)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.Scores[0]-*want.MeanNormalized) > 1e-12 {
			t.Errorf("%s: mean normalized %v, the benchmark says %v", split, got.Scores[0], *want.MeanNormalized)
		}
		for i, ts := range want.Tasks {
			if ts.HeadSource != benchmarks.HeadFromModel {
				t.Errorf("%s: the merged model lacks the head of %s", split, ts.Task)
			}
			if got.Tasks[i].Accuracy != ts.Accuracy || got.Tasks[i].Loss != ts.Loss || got.Scores[1+i] != ts.Loss {
				t.Errorf("%s task %s: accuracy %v loss %v, the benchmark says %v %v", split, ts.Task, got.Tasks[i].Accuracy, got.Tasks[i].Loss, ts.Accuracy, ts.Loss)
			}
		}
		if split == data.Validation && !reflect.DeepEqual(got.Scores, batch[0].Scores) {
			t.Errorf("Score on validation %v differs from Evaluate %v", got.Scores, batch[0].Scores)
		}
	}

	// On a limited fitness subset the references are measured on that
	// subset: a one-hot linear merge (expert i itself, its own head) has
	// normalized accuracy exactly 1 on task i.
	limited, err := b.LoadTasks(ctx, benchmarks.TaskOptions{Names: []string{"rotated", "mod3"}, FitnessExamples: 60})
	if err != nil {
		t.Fatal(err)
	}
	if limited[0].Fitness().Len() != 60 || limited[1].Name != "mod3" {
		t.Fatalf("limited tasks: %d examples, second task %s", limited[0].Fitness().Len(), limited[1].Name)
	}
	lin := linearMerge(t, pool, false)
	norm := []fitness.Objective{
		{Name: "rotated/norm", Task: "rotated", Metric: tasks.MetricNormalized, Direction: fitness.Maximize},
		{Name: "mod3/norm", Task: "mod3", Metric: tasks.MetricNormalized, Direction: fitness.Maximize},
	}
	le, err := NewNative(NativeConfig{Merge: lin, Tasks: limited, Objectives: norm, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	oneHot := func(i int) []float64 {
		x := make([]float64, pool.NumModels())
		x[i] = 1
		return x
	}
	rot, mod3 := slices.Index(pool.ModelNames(), "rotated"), slices.Index(pool.ModelNames(), "mod3")
	hot := candidates(oneHot(rot), oneHot(mod3))
	if err := le.Evaluate(ctx, hot); err != nil {
		t.Fatal(err)
	}
	if !hot[0].OK() || !hot[1].OK() || hot[0].Scores[0] != 1 || hot[1].Scores[1] != 1 {
		t.Errorf("one-hot merges on their own task: %+v %+v, want normalized accuracy 1", hot[0], hot[1])
	}
}
