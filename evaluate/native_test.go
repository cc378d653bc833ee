package evaluate

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

func newNative(t *testing.T, s *synthetic, merge MergeConfig, objs []fitness.Objective, workers, batch int) *Native {
	t.Helper()
	e, err := NewNative(NativeConfig{Merge: merge, Tasks: s.tasks, Objectives: objs, Workers: workers, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A one-hot linear merge is the expert itself: on the expert's own task the
// evaluator must give exactly what tasks.ScoreDataset gives for the expert.
func TestNativeOneHotMergeIsTheExpert(t *testing.T) {
	s := newSynthetic(t, 70)
	pool := s.pool(t)
	objs := []fitness.Objective{
		{Name: "alpha/acc", Task: "alpha", Metric: tasks.MetricAccuracy, Direction: fitness.Maximize},
		{Name: "beta/acc", Task: "beta", Metric: tasks.MetricAccuracy, Direction: fitness.Maximize},
		{Name: "alpha/loss", Task: "alpha", Metric: tasks.MetricLoss, Direction: fitness.Minimize},
		{Name: "beta/loss", Task: "beta", Metric: tasks.MetricLoss, Direction: fitness.Minimize},
	}
	e := newNative(t, s, linearMerge(t, pool, false), objs, 1, 16)
	batch := candidates([]float64{1, 0}, []float64{0, 1})
	if err := e.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for k, c := range batch {
		if !c.OK() {
			t.Fatalf("candidate %d failed: %s", k, c.Error)
		}
		task := s.tasks[k]
		fit := task.Fitness()
		wantBits := population.NewBitset(fit.Len())
		want, err := tasks.ScoreDataset(context.Background(), s.models[k], fit, task.Head, tasks.ScoreOptions{Correct: wantBits.Words})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Scores[k]; got != want.Accuracy {
			t.Errorf("expert %d: accuracy %v, the expert alone gives %v", k, got, want.Accuracy)
		}
		if got := c.Scores[2+k]; got != want.Loss {
			t.Errorf("expert %d: loss %v, the expert alone gives %v", k, got, want.Loss)
		}
		if len(c.Correct) != 2 || c.Correct[k].Task != task.Name {
			t.Fatalf("expert %d: correctness %+v", k, c.Correct)
		}
		if got := c.Correct[k].Bits; !slices.Equal(got.Words, wantBits.Words) || got.Len() != fit.Len() {
			t.Errorf("expert %d: per-example correctness differs from the expert's", k)
		}
		if n := c.Correct[k].Bits.Count(); float64(n)/float64(fit.Len()) != c.Scores[k] {
			t.Errorf("expert %d: %d correct bits do not give accuracy %v", k, n, c.Scores[k])
		}
	}
}

// Scores and correctness do not depend on the worker count or batch size.
func TestNativeWorkerCountIndependence(t *testing.T) {
	s := newSynthetic(t, 90)
	pool := s.pool(t)
	objs := append(accuracyObjectives("alpha", "beta"),
		fitness.Objective{Name: "mean/loss", Task: MeanTask, Metric: tasks.MetricLoss, Direction: fitness.Minimize})
	points := [][]float64{{0.5, 0.5, 1}, {0.2, 0.9, 1.3}, {1, 1, 0}, {0, 0, 0}, {0.7, 0.1, 0.4}, {0.3, 0.3, 0.3}, {2, -1, 0.5}}
	merge := taskArithmeticGroups(t, pool)
	// Three dimensions: layers.1/lambda, layers.3/lambda; add a method-level
	// lambda through a second target.
	op := operators.TaskArithmetic()
	_, mapping, err := searchspace.Derive(op.Params(), searchspace.Spec{
		Operator: op.Name(), Models: pool.ModelNames(),
		Targets: []searchspace.Target{{Param: "lambda", Groups: []string{"layers.1", "layers.3"}}, {Param: "weight", PerModel: false}},
	})
	if err != nil {
		t.Fatal(err)
	}
	merge.Mapping = mapping
	var ref []*population.Candidate
	for _, cfg := range []struct{ workers, batch int }{{1, 500}, {3, 7}, {2, 1}} {
		e := newNative(t, s, merge, objs, cfg.workers, cfg.batch)
		batch := candidates(points...)
		if err := e.Evaluate(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		for i, c := range batch {
			if !c.OK() {
				t.Fatalf("workers %d: candidate %d failed: %s", cfg.workers, i, c.Error)
			}
			if got := (c.Scores[0] + c.Scores[1]) / 2; got < 0 || got > 1 {
				t.Fatalf("accuracy out of range: %v", c.Scores)
			}
		}
		if ref == nil {
			ref = batch
			if reflect.DeepEqual(ref[0].Scores, ref[2].Scores) {
				t.Fatal("different merges scored identically; the test would not see a mix-up")
			}
			continue
		}
		for i := range batch {
			if !reflect.DeepEqual(batch[i].Scores, ref[i].Scores) || !reflect.DeepEqual(batch[i].Correct, ref[i].Correct) {
				t.Errorf("workers %d batch %d: candidate %d got %v, 1 worker got %v", cfg.workers, cfg.batch, i, batch[i].Scores, ref[i].Scores)
			}
		}
	}
}

func TestNativeObjectives(t *testing.T) {
	s := newSynthetic(t, 40)
	pool := s.pool(t)
	objs := []fitness.Objective{
		{Name: "mean/acc", Task: MeanTask, Metric: tasks.MetricAccuracy, Direction: fitness.Maximize},
		{Name: "beta/norm", Task: "beta", Metric: tasks.MetricNormalized, Direction: fitness.Maximize},
		{Name: "alpha/acc", Task: "alpha", Metric: tasks.MetricAccuracy, Direction: fitness.Maximize},
		{Name: "beta/acc", Task: "beta", Metric: tasks.MetricAccuracy, Direction: fitness.Maximize},
		{Name: "mean/norm", Task: MeanTask, Metric: tasks.MetricNormalized, Direction: fitness.Maximize},
	}
	e := newNative(t, s, linearMerge(t, pool, true), objs, 1, 0)
	batch := candidates([]float64{0.4, 0.6})
	if err := e.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	sc := batch[0].Scores
	if !batch[0].OK() {
		t.Fatal(batch[0].Error)
	}
	if want := (sc[2] + sc[3]) / 2; sc[0] != want {
		t.Errorf("mean accuracy %v, want (%v+%v)/2", sc[0], sc[2], sc[3])
	}
	if want := sc[3] / 0.5; sc[1] != want {
		t.Errorf("normalized accuracy %v, want %v / 0.5", sc[1], sc[3])
	}
	if want := (sc[2]/0.5 + sc[3]/0.5) / 2; math.Abs(sc[4]-want) > 1e-15 {
		t.Errorf("mean normalized %v, want %v", sc[4], want)
	}

	bad := []struct {
		name string
		objs []fitness.Objective
		want string
	}{
		{"unknown task", []fitness.Objective{{Name: "x", Task: "gamma", Metric: tasks.MetricAccuracy, Direction: fitness.Maximize}}, `unknown task "gamma"`},
		{"unknown metric", []fitness.Objective{{Name: "x", Task: "alpha", Metric: "f1", Direction: fitness.Maximize}}, `unknown metric "f1"`},
		{"no direction", []fitness.Objective{{Name: "x", Task: "alpha", Metric: tasks.MetricAccuracy}}, "direction"},
		{"none", nil, "no objectives"},
	}
	for _, tc := range bad {
		_, err := NewNative(NativeConfig{Merge: linearMerge(t, pool, true), Tasks: s.tasks, Objectives: tc.objs})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	noRef := slices.Clone(s.tasks)
	noRef[1].ExpertAccuracy = nil
	_, err := NewNative(NativeConfig{Merge: linearMerge(t, pool, true), Tasks: noRef, Objectives: objs})
	if err == nil || !strings.Contains(err.Error(), `task "beta" has no expert accuracy`) {
		t.Errorf("normalized accuracy without a reference: %v", err)
	}
}

func TestNativeConfigErrors(t *testing.T) {
	s := newSynthetic(t, 10)
	pool := s.pool(t)
	objs := accuracyObjectives("alpha")
	cases := []struct {
		name  string
		tasks func([]tasks.Task) []tasks.Task
		want  string
	}{
		{"test split as fitness", func(ts []tasks.Task) []tasks.Task { ts[0].FitnessSplit = data.Test; return ts }, "test split cannot be the fitness split"},
		{"unknown head", func(ts []tasks.Task) []tasks.Task { ts[0].Head = "gamma"; return ts }, `no head "gamma"`},
		{"label out of range", func(ts []tasks.Task) []tasks.Task {
			d := *ts[0].Fitness()
			d.Y = slices.Clone(d.Y)
			d.Classes = 10
			d.Y[3] = 7
			ts[0] = ts[0].WithData(ts[0].FitnessSplit, &d)
			return ts
		}, "label 7 of example 3"},
		{"wrong image size", func(ts []tasks.Task) []tasks.Task {
			ts[0] = ts[0].WithData(ts[0].FitnessSplit, &data.Dataset{Name: "big", C: 1, H: 4, W: 4, Classes: 3, X: make([]float32, 16), Y: []int32{0}})
			return ts
		}, "[1 4 4] (C,H,W) images"},
		{"no tasks", func([]tasks.Task) []tasks.Task { return nil }, "no tasks"},
		{"duplicate task", func(ts []tasks.Task) []tasks.Task { return append(ts, ts[0]) }, "listed twice"},
	}
	for _, tc := range cases {
		ts := tc.tasks(slices.Clone(s.tasks))
		_, err := NewNative(NativeConfig{Merge: linearMerge(t, pool, true), Tasks: ts, Objectives: objs})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// A merge that does not fit the pool is refused up front.
	ta := taskArithmeticGroups(t, pool)
	noBase, err := LoadPool(PoolFiles{Models: s.experts})
	if err != nil {
		t.Fatal(err)
	}
	ta.Pool = noBase
	if _, err := NewNative(NativeConfig{Merge: ta, Tasks: s.tasks, Objectives: objs}); err == nil || !strings.Contains(err.Error(), "needs a base model") {
		t.Errorf("task arithmetic without a base: %v", err)
	}
}

// One failing candidate is marked failed with its reason; the others are
// scored as if alone.
func TestNativeFailedCandidates(t *testing.T) {
	s := newSynthetic(t, 30)
	pool := s.pool(t)
	e := newNative(t, s, linearMerge(t, pool, true), accuracyObjectives("alpha", "beta"), 2, 0)
	recipe := &population.Candidate{Genome: population.Genome{Recipe: &population.Recipe{Operator: "split-slerp", Parents: []string{"a", "b"}}}}
	batch := append(candidates([]float64{0.5, 0.5}, []float64{0, 0}), recipe)
	batch = append(batch, candidates([]float64{0.5, 0.5}, []float64{3, 1})...)
	if err := e.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	wantErr := map[int]string{1: "weights sum to 0", 2: "coefficient-vector genomes only", 4: "outside [-2, 2]"}
	for i, c := range batch {
		if want, fail := wantErr[i]; fail {
			if c.Status != population.StatusFailed || !strings.Contains(c.Error, want) || c.Scores != nil {
				t.Errorf("candidate %d: status %s error %q scores %v, want failed with %q", i, c.Status, c.Error, c.Scores, want)
			}
			continue
		}
		if !c.OK() {
			t.Errorf("candidate %d failed: %s", i, c.Error)
		}
	}
	if !reflect.DeepEqual(batch[0].Scores, batch[3].Scores) {
		t.Errorf("equal genomes scored %v and %v", batch[0].Scores, batch[3].Scores)
	}

	// A merge producing non-finite weights fails with the tensor's name.
	huge, err := all.Load(s.experts[1])
	if err != nil {
		t.Fatal(err)
	}
	huge.Param("layers.1.weight").Data[0] = 3e38
	path := filepath.Join(t.TempDir(), "huge.safetensors")
	if err := model.Save(path, huge, nil); err != nil {
		t.Fatal(err)
	}
	hp, err := LoadPool(PoolFiles{Models: []string{s.experts[0], path}})
	if err != nil {
		t.Fatal(err)
	}
	e = newNative(t, s, linearMerge(t, hp, false), accuracyObjectives("alpha"), 1, 0)
	batch = candidates([]float64{2, 2}, []float64{1, 0})
	if err := e.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if c := batch[0]; c.Status != population.StatusFailed || !strings.Contains(c.Error, `"layers.1.weight" has a non-finite value`) {
		t.Errorf("overflowing merge: status %s error %q", c.Status, c.Error)
	}
	if !batch[1].OK() {
		t.Errorf("finite merge after an overflowing one failed: %s", batch[1].Error)
	}
}

func TestNativeCancelled(t *testing.T) {
	s := newSynthetic(t, 20)
	pool := s.pool(t)
	e := newNative(t, s, linearMerge(t, pool, true), accuracyObjectives("alpha"), 2, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	batch := candidates([]float64{1, 1}, []float64{1, 0})
	if err := e.Evaluate(ctx, batch); err != context.Canceled {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	for i, c := range batch {
		if c.Status != population.StatusPending {
			t.Errorf("candidate %d: status %s after cancellation, want pending", i, c.Status)
		}
	}
	// The evaluator still works afterwards (its workers were returned).
	if err := e.Evaluate(context.Background(), batch); err != nil || !batch[0].OK() {
		t.Fatalf("after cancellation: %v %s", err, batch[0].Error)
	}
}

func TestNativeScoreSplits(t *testing.T) {
	s := newSynthetic(t, 50)
	pool := s.pool(t)
	objs := []fitness.Objective{{Name: "mean/norm", Task: MeanTask, Metric: tasks.MetricNormalized, Direction: fitness.Maximize}}
	e := newNative(t, s, linearMerge(t, pool, true), objs, 1, 0)
	g := population.VectorGenome([]float64{0.3, 0.7})
	val, err := e.Score(context.Background(), g, data.Validation)
	if err != nil {
		t.Fatal(err)
	}
	batch := []*population.Candidate{{Genome: g}}
	if err := e.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(val.Scores, batch[0].Scores) {
		t.Errorf("Score on the fitness split %v differs from Evaluate %v", val.Scores, batch[0].Scores)
	}
	test, err := e.Score(context.Background(), g, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	net, err := e.Materialize(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for i, task := range s.tasks {
		m, err := tasks.ScoreDataset(context.Background(), net, task.Data(data.Test), task.Head, tasks.ScoreOptions{Batch: 7})
		if err != nil {
			t.Fatal(err)
		}
		tr := test.Tasks[i]
		if tr.Split != data.Test || tr.Accuracy != m.Accuracy || tr.Loss != m.Loss || tr.Examples != task.Data(data.Test).Len() {
			t.Errorf("task %s on test: %+v, the materialised model gives accuracy %v loss %v", task.Name, tr, m.Accuracy, m.Loss)
		}
		sum += m.Accuracy / 0.25 // the test reference of the synthetic tasks
	}
	if want := sum / 2; math.Abs(test.Scores[0]-want) > 1e-15 {
		t.Errorf("test mean normalized %v, want %v", test.Scores[0], want)
	}
	if _, err := e.Score(context.Background(), g, data.Train); err == nil {
		t.Error("scoring on the train split was accepted")
	}
	// A model built outside the evaluator scores the same way.
	for _, split := range []data.Split{data.Validation, data.Test} {
		got, err := e.ScoreModel(context.Background(), net, split)
		if err != nil {
			t.Fatal(err)
		}
		want := val
		if split == data.Test {
			want = test
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ScoreModel %+v, Score %+v", split, got, want)
		}
	}
	if _, err := e.ScoreModel(context.Background(), s.models[0], data.Validation); err == nil || !strings.Contains(err.Error(), `head "beta" has 0 classes`) {
		t.Errorf("a model without the beta head: %v", err)
	}
}

// The export is the bytes `evomerge merge` writes from the equivalent
// recipe: the same plan executed by operators.StreamMerge over the files.
func TestExportMatchesRecipeMerge(t *testing.T) {
	s := newSynthetic(t, 20)
	pool := s.pool(t)
	for _, merge := range []MergeConfig{linearMerge(t, pool, false), taskArithmeticGroups(t, pool)} {
		m, err := NewMerger(merge)
		if err != nil {
			t.Fatal(err)
		}
		g := population.VectorGenome([]float64{0.75, -0.3})
		dir := filepath.Join(t.TempDir(), "export")
		if _, err := m.Export(context.Background(), g, dir, ExportOptions{Workers: 2}); err != nil {
			t.Fatal(err)
		}
		rec, err := m.Recipe(g)
		if err != nil {
			t.Fatal(err)
		}
		// Round trip through JSON, as a recipe file would be read back.
		text, err := rec.JSON()
		if err != nil {
			t.Fatal(err)
		}
		back, ok, err := operators.RecipeFromMetadata(map[string]string{operators.RecipeMetadataKey: text})
		if err != nil || !ok {
			t.Fatal(err)
		}
		op, err := operators.Builtin().Get(back.Method)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, md := range back.Models {
			paths = append(paths, md.Path)
		}
		src, err := operators.OpenCheckpointSource(back.Base, paths)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := back.Plan(op, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		meta := src.Metadata()
		meta[operators.RecipeMetadataKey] = text
		ref := filepath.Join(t.TempDir(), "ref")
		if _, err := operators.StreamMerge(context.Background(), plan, src, ref, operators.StreamOptions{Workers: 1, Metadata: meta}); err != nil {
			t.Fatal(err)
		}
		src.Close()
		a := readFile(t, filepath.Join(dir, checkpoint.SingleFileName))
		b := readFile(t, filepath.Join(ref, checkpoint.SingleFileName))
		if string(a) != string(b) {
			t.Fatalf("%s: export (%d bytes) differs from the recipe merge (%d bytes)", merge.Operator.Name(), len(a), len(b))
		}
		// The export loads as a model that scores like the evaluator.
		loaded, err := all.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		mat, err := m.Materialize(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(model.Tensors(loaded), model.Tensors(mat)) {
			t.Errorf("%s: exported tensors differ from the materialised model", merge.Operator.Name())
		}
		if got := loaded.Heads(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"alpha", "beta", "pretrain"}) {
			t.Errorf("exported heads %v", got)
		}
	}
}

func TestEvalSpecAndVersionIdentify(t *testing.T) {
	s := newSynthetic(t, 25)
	pool := s.pool(t)
	objs := accuracyObjectives("alpha", "beta")
	a := newNative(t, s, linearMerge(t, pool, true), objs, 1, 0)
	b := newNative(t, s, linearMerge(t, pool, true), objs, 2, 64)
	if a.EvalSpec() != b.EvalSpec() || a.Version() != b.Version() {
		t.Error("worker count or batch size changed the evaluation spec or version")
	}
	if c := newNative(t, s, linearMerge(t, pool, false), objs, 1, 0); c.EvalSpec() == a.EvalSpec() {
		t.Error("a different fixed setting gave the same evaluation spec")
	}
	if c := newNative(t, s, linearMerge(t, pool, true), objs[:1], 1, 0); c.EvalSpec() == a.EvalSpec() {
		t.Error("different objectives gave the same evaluation spec")
	}
	other := slices.Clone(s.tasks)
	d := *other[0].Fitness()
	d.X = slices.Clone(d.X)
	d.X[0] += 0.5
	other[0] = other[0].WithData(other[0].FitnessSplit, &d)
	c, err := NewNative(NativeConfig{Merge: linearMerge(t, pool, true), Tasks: other, Objectives: objs})
	if err != nil {
		t.Fatal(err)
	}
	if c.EvalSpec() == a.EvalSpec() {
		t.Error("different task data gave the same evaluation spec")
	}
	swapped, err := LoadPool(PoolFiles{Base: s.base, Models: []string{s.experts[1], s.experts[0]}, Names: []string{"alpha", "beta"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := newNative(t, s, linearMerge(t, swapped, true), objs, 1, 0); c.Version() == a.Version() {
		t.Error("a different pool gave the same version")
	}
	if !strings.HasPrefix(a.Version(), NativeVersion) {
		t.Errorf("version %q does not name the evaluator", a.Version())
	}
}

func TestLoadPoolErrors(t *testing.T) {
	s := newSynthetic(t, 5)
	plain := filepath.Join(t.TempDir(), "plain.safetensors")
	if err := checkpoint.Write(plain, []checkpoint.Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil, checkpoint.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	other, err := mlp.Config{Input: [3]int{1, 3, 3}, Hidden: []int{4}, Heads: []model.Head{{Name: "alpha", Classes: 3}}}.New(1)
	if err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(t.TempDir(), "other.safetensors")
	if err := model.Save(otherPath, other, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		files PoolFiles
		want  string
	}{
		{PoolFiles{}, "no expert checkpoints"},
		{PoolFiles{Models: []string{s.experts[0], otherPath}}, "different architectures"},
		{PoolFiles{Models: []string{s.experts[0], filepath.Join(s.dir, "missing.safetensors")}}, "missing.safetensors"},
		{PoolFiles{Models: s.experts, Names: []string{"a", "a"}}, "two models are named"},
		{PoolFiles{Models: s.experts, Names: []string{"a"}}, "one name per model"},
	}
	for _, tc := range cases {
		if _, err := LoadPool(tc.files); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to mention %q", tc.files, err, tc.want)
		}
	}

	// A checkpoint of no known architecture loads, for merging and for
	// command evaluators; the native evaluator refuses it and says why.
	pool, err := LoadPool(PoolFiles{Models: []string{plain}})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if pool.Config() != nil {
		t.Errorf("a plain checkpoint was given architecture %v", pool.Config())
	}
	_, archErr := pool.Architecture()
	for _, want := range []string{"model 1 (plain)", "has no evomerge.spec metadata", `kind = "command"`} {
		if archErr == nil || !strings.Contains(archErr.Error(), want) {
			t.Errorf("architecture error %v, want it to mention %q", archErr, want)
		}
	}
	if _, err := NewNative(NativeConfig{Merge: linearMerge(t, pool, false), Tasks: s.tasks, Objectives: accuracyObjectives("alpha")}); err == nil || !strings.Contains(err.Error(), `kind = "command"`) {
		t.Errorf("native evaluator over a pool of no known architecture: %v, want the architecture error", err)
	}
}
