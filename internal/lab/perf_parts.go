package lab

// The measured parts of Perf: GEMM, forward passes, merges and full
// evaluations.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"text/tabwriter"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/cnn"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/internal/tensor"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

func perfGemm(ctx context.Context, o PerfOptions, ref *perfReference, w io.Writer) error {
	fmt.Fprintln(w, "GEMM C = A·B, float32, square, GFLOP/s")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "size\tevomerge\tgonum blas32\tnumpy (OpenBLAS)\ttorch\tevomerge/gonum\tevomerge/numpy\tevomerge/torch")
	for _, n := range o.Sizes {
		r := rng.New(1, "bench-perf", "gemm", strconv.Itoa(n))
		a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		flops := 2 * float64(n) * float64(n) * float64(n)
		ours, err := measure(ctx, o, func() error {
			tensor.Gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
			return nil
		})
		if err != nil {
			return err
		}
		gonumCell, gonumRatio := "-", "-"
		if n <= o.GemmGonumMax {
			g, err := measure(ctx, o, func() error {
				tensor.GonumGemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
				return nil
			})
			if err != nil {
				return err
			}
			gonumCell, gonumRatio = g.rate(flops/1e9, "%.1f"), ratio(g.best, ours.best)
		}
		numpy, torch := ref.gemm("numpy", n), ref.gemm("torch", n)
		ourRate := flops / ours.best / 1e9
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, ours.rate(flops/1e9, "%.1f"), gonumCell,
			refCell(numpy, "%.1f"), refCell(torch, "%.1f"), gonumRatio, ratio(ourRate, numpy), ratio(ourRate, torch))
	}
	return tw.Flush()
}

// perfModels are the forward-pass models, as in scripts/perf_reference.py.
var perfModels = []struct {
	name string
	cfg  model.Config
}{
	{"mlp", mlp.Config{Input: [3]int{1, 28, 28}, Hidden: []int{512, 512}, Heads: []model.Head{{Name: "digits", Classes: 10}}}},
	{"cnn", cnn.Config{Input: [3]int{1, 28, 28}, Channels: []int{16, 32}, Hidden: []int{128}, Heads: []model.Head{{Name: "digits", Classes: 10}}}},
}

func perfForward(ctx context.Context, o PerfOptions, ref *perfReference, w io.Writer) error {
	fmt.Fprintf(w, "Forward pass, %d images of 1×28×28 in batches of %d, images/s\n", o.Images, o.Batch)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tevomerge\ttorch\tevomerge/torch")
	r := rng.New(1, "bench-perf", "images")
	images := make([]float32, o.Images*28*28)
	for i := range images {
		images[i] = float32(r.Float64())
	}
	for _, pm := range perfModels {
		m, err := pm.cfg.New(1)
		if err != nil {
			return fmt.Errorf("bench perf: model %s: %w", pm.name, err)
		}
		t, err := measure(ctx, o, func() error {
			for i0 := 0; i0 < o.Images; i0 += o.Batch {
				i1 := min(o.Images, i0+o.Batch)
				if _, err := m.Logits(images[i0*784:i1*784], i1-i0, "digits"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bench perf: model %s: %w", pm.name, err)
		}
		torch := ref.forward(pm.name)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pm.name, t.rate(float64(o.Images), "%.0f"), refCell(torch, "%.0f"), ratio(float64(o.Images)/t.best, torch))
	}
	return tw.Flush()
}

// perfMergeOps are the measured operators; bytes are counted as for the
// operators benchmarks: every input tensor read once.
var perfMergeOps = []struct {
	name     string
	op       func() operators.Operator
	settings operators.Settings
}{
	{"linear", operators.Linear, operators.Settings{}},
	{"task_arithmetic", operators.TaskArithmetic, perfGlobal("lambda", 0.4)},
	{"ties", operators.TIES, perfGlobal("density", 0.2)},
	{"dare", operators.DARE, operators.Settings{}},
}

func perfGlobal(name string, v float64) operators.Settings {
	return operators.Settings{Default: operators.Values{Global: map[string]operators.Value{name: operators.F(v)}}}
}

func perfMerge(ctx context.Context, o PerfOptions, ref *perfReference, w io.Writer) error {
	n, models := o.MergeElements, o.MergeModels
	fmt.Fprintf(w, "Merges of %d models, one tensor of %d float32 values (%.1f MiB each), GB/s of input read\n", models, n, float64(4*n)/(1<<20))
	const name = "layers.0.weight"
	shape := []int{n / 1024, 1024}
	mk := func(who string) []checkpoint.Tensor {
		r := rng.New(1, "bench-perf", "merge", who)
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(r.NormFloat64())
		}
		return []checkpoint.Tensor{{Name: name, Shape: shape, Data: d}}
	}
	base := mk("base")
	experts := make([][]checkpoint.Tensor, models)
	for i := range experts {
		experts[i] = mk(strconv.Itoa(i))
	}
	src, err := operators.NewMemSource(base, experts...)
	if err != nil {
		return err
	}
	dst := make([]float32, n)
	copySrc := base[0].Data
	copyTime, err := measure(ctx, o, func() error { copy(dst, copySrc); return nil })
	if err != nil {
		return err
	}
	copyGB := float64(4*n) / 1e9
	copyRate := copyGB / copyTime.best
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operator\tevomerge GB/s\t/copy\t/task_arithmetic\tnumpy GB/s")
	fmt.Fprintf(tw, "copy\t%s\t1.00×\t\t%s\n", copyTime.rate(copyGB, "%.3g"), refCell(ref.merge("copy"), "%.1f"))
	var taRate float64
	for _, mo := range perfMergeOps {
		op := mo.op()
		plan, err := operators.NewPlan(op, src, mo.settings, operators.PlanOptions{Seed: 1})
		if err != nil {
			return fmt.Errorf("bench perf: %s: %w", mo.name, err)
		}
		if err := plan.Prepare(ctx, src); err != nil {
			return fmt.Errorf("bench perf: %s: %w", mo.name, err)
		}
		var in operators.TensorInputs
		if err := src.Load(name, &in); err != nil {
			return err
		}
		bytesRead := float64(4 * n * models)
		if op.Requirements().Base == operators.BaseUnused {
			in.Base = nil
		} else {
			bytesRead += float64(4 * n)
		}
		var scratch operators.Scratch
		t, err := measure(ctx, o, func() error { return plan.MergeTensor(dst, &in, &scratch) })
		if err != nil {
			return fmt.Errorf("bench perf: %s: %w", mo.name, err)
		}
		rate := bytesRead / 1e9 / t.best
		if mo.name == "task_arithmetic" {
			taRate = rate
		}
		taCell := ""
		if taRate > 0 {
			taCell = ratio(rate, taRate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mo.name, t.rate(bytesRead/1e9, "%.3g"), ratio(rate, copyRate), taCell, refCell(ref.merge(mo.name), "%.1f"))
	}
	return tw.Flush()
}

// perfEval measures full evaluations (merge + score on the fitness split) per
// second on a prepared mnist-tasks. It never trains: an unprepared or damaged
// cache is reported and skipped.
func perfEval(ctx context.Context, o PerfOptions, _ *perfReference, w io.Writer) error {
	fmt.Fprintln(w, "Full evaluations on mnist-tasks (task arithmetic, λ per layer group, native evaluator)")
	b, err := preparedBenchmark(ctx, o.CacheDir, o.MNISTDir)
	if err != nil {
		fmt.Fprintf(w, "skipped: %v\n", err)
		return nil
	}
	pool, err := evaluate.BenchmarkPool(b)
	if err != nil {
		return err
	}
	ts, err := b.LoadTasks(ctx, benchmarks.TaskOptions{})
	if err != nil {
		return err
	}
	groups := pool.Config().Groups()
	op := operators.TaskArithmetic()
	_, mapping, err := searchspace.Derive(op.Params(), searchspace.Spec{
		Operator: op.Name(), Models: pool.ModelNames(),
		Targets: []searchspace.Target{{Param: "lambda", Groups: groups}},
	})
	if err != nil {
		return err
	}
	objs := []fitness.Objective{{Name: "mean/normalized", Task: evaluate.MeanTask, Metric: tasks.MetricNormalized, Direction: fitness.Maximize}}
	e, err := evaluate.NewNative(evaluate.NativeConfig{
		Merge: evaluate.MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: 1},
		Tasks: ts, Objectives: objs, Workers: 1,
	})
	if err != nil {
		return err
	}
	x := make([]float64, mapping.Space().Len())
	for i := range x {
		x[i] = 0.3 + 0.05*float64(i%4)
	}
	examples := 0
	for _, t := range ts {
		examples += t.Fitness().Len()
	}
	cand := &population.Candidate{Genome: population.VectorGenome(x)}
	t, err := measure(ctx, o, func() error {
		cand.Status, cand.Scores, cand.Correct = population.StatusPending, nil, nil
		if err := e.Evaluate(ctx, []*population.Candidate{cand}); err != nil {
			return err
		}
		if !cand.OK() {
			return fmt.Errorf("evaluation failed: %v", cand.Error)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench perf: mnist-tasks evaluation: %w", err)
	}
	fmt.Fprintf(w, "%s evaluations/s (%d tasks, %d fitness examples per evaluation, 1 worker)\n", t.rate(1, "%.2f"), len(ts), examples)
	return nil
}

// preparedBenchmark opens mnist-tasks from its cache after checking the
// manifest and every member's checksum, so that nothing is trained.
func preparedBenchmark(ctx context.Context, cacheDir, mnistDir string) (*benchmarks.Benchmark, error) {
	root := cacheDir
	if root == "" {
		var err error
		if root, err = benchmarks.DefaultCacheRoot(); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(root, benchmarks.MNISTTasksName+"-"+benchmarks.MNISTTasksVersion)
	raw, err := os.ReadFile(filepath.Join(dir, benchmarks.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("mnist-tasks is not prepared in %s (run `evomerge bench prepare mnist-tasks`): %w", dir, err)
	}
	var man benchmarks.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, fmt.Errorf("%s: %w; run `evomerge bench prepare mnist-tasks --force`", filepath.Join(dir, benchmarks.ManifestFile), err)
	}
	recipe, err := benchmarks.DefaultRecipe(benchmarks.MNISTTasksName)
	if err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(man.Recipe, recipe) {
		return nil, fmt.Errorf("the mnist-tasks cache in %s was built with another recipe; run `evomerge bench prepare mnist-tasks`", dir)
	}
	for _, m := range man.Members {
		sum, err := benchmarks.FileSHA256(filepath.Join(dir, m.File))
		if err != nil || sum != m.SHA256 {
			return nil, fmt.Errorf("the mnist-tasks cache in %s is damaged (%s); run `evomerge bench prepare mnist-tasks --force`", dir, m.File)
		}
	}
	return benchmarks.Prepare(ctx, benchmarks.MNISTTasksName, benchmarks.Options{CacheDir: root, MNISTDir: mnistDir})
}
