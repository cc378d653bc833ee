package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/nn"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tensor"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
)

const perfSynopsis = `bench perf [flags]

perf measures the speed of evomerge's kernels on this machine and prints:
GEMM GFLOP/s by size (evomerge's Gemm and gonum's blas32), forward-pass
images/s for the MNIST MLP (784-512-512-10) and CNN, merge GB/s per operator
against a plain copy, and full evaluations/s on mnist-tasks (when it is
prepared). With --python (Debian's python3-numpy, python3-torch and
libopenblas0-pthread) it also runs scripts/perf_reference.py for the same work
(OpenBLAS SGEMM through NumPy, PyTorch CPU forward passes, a NumPy merge) and
prints the ratios. Every figure is the best of --repeat timed rounds, with the
range over the rounds in brackets: on a shared machine compare figures of one
run only.`

// perfOptions are the flags of bench perf.
type perfOptions struct {
	sizes         []int
	gonumMax      int
	repeat        int
	minTime       time.Duration
	images, batch int
	mergeElements int
	mergeModels   int
	python        string
	script        string
	coretype      string
	threads       int
	skip          map[string]bool
	data          benchDataFlags
}

var perfParts = []string{"gemm", "forward", "merge", "eval", "reference"}

func parsePerfOptions(args []string, stderr io.Writer) (perfOptions, error) {
	fs := newFlagSet("bench perf", perfSynopsis, stderr)
	var o perfOptions
	sizes := fs.String("sizes", "256,512,1024,2048", "comma-separated square GEMM sizes")
	fs.IntVar(&o.gonumMax, "gonum-max", 2048, "largest GEMM size also run through gonum (it is slow)")
	fs.IntVar(&o.repeat, "repeat", 3, "timed rounds per figure (the best is reported, with the range)")
	fs.DurationVar(&o.minTime, "min-time", 300*time.Millisecond, "shortest duration of one timed round")
	fs.IntVar(&o.images, "images", 10000, "images per forward-pass measurement")
	fs.IntVar(&o.batch, "batch", 256, "forward-pass batch size")
	fs.IntVar(&o.mergeElements, "merge-elements", 16<<20, "float32 elements of the merged tensor")
	fs.IntVar(&o.mergeModels, "merge-models", 4, "expert models in the merges")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", `Python for the reference measurements ("" to skip them)`)
	fs.StringVar(&o.coretype, "openblas-coretype", "", "force OpenBLAS's kernel in the reference (OPENBLAS_CORETYPE, e.g. SkylakeX) when it misdetects the CPU")
	fs.StringVar(&o.script, "reference-script", filepath.Join("scripts", "perf_reference.py"), "the reference script")
	fs.IntVar(&o.threads, "threads", runtime.GOMAXPROCS(0), "threads for evomerge (GOMAXPROCS during the run) and for OpenBLAS and PyTorch")
	skip := fs.String("skip", "", "comma-separated parts to skip: "+strings.Join(perfParts, ", "))
	o.data.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return o, err
	}
	if len(pos) != 0 {
		return o, usagef("bench perf takes no arguments, got %q", pos)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 16384 {
			return o, usagef("--sizes: %q is not a size between 1 and 16384; give e.g. --sizes 256,512,1024", s)
		}
		o.sizes = append(o.sizes, n)
	}
	o.skip = map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(perfParts, s) {
			return o, usagef("--skip: unknown part %q; parts are %s", s, strings.Join(perfParts, ", "))
		}
		o.skip[s] = true
	}
	switch {
	case o.repeat < 1:
		return o, usagef("--repeat must be at least 1, got %d", o.repeat)
	case o.minTime <= 0:
		return o, usagef("--min-time must be positive, got %v", o.minTime)
	case o.images < 1 || o.batch < 1:
		return o, usagef("--images and --batch must be at least 1, got %d and %d", o.images, o.batch)
	case o.mergeElements < 1024 || o.mergeElements%1024 != 0:
		return o, usagef("--merge-elements must be a positive multiple of 1024, got %d", o.mergeElements)
	case o.mergeModels < 2 || o.mergeModels > 16:
		return o, usagef("--merge-models must be between 2 and 16, got %d", o.mergeModels)
	case o.threads < 1 || o.threads > 1024:
		return o, usagef("--threads must be between 1 and 1024, got %d", o.threads)
	}
	if o.python == "" {
		o.skip["reference"] = true
	}
	return o, nil
}

// runPerfBenchmark is `evomerge bench perf`.
func runPerfBenchmark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parsePerfOptions(args, stderr)
	if err != nil {
		return err
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.threads))
	fmt.Fprintf(stdout, "evomerge bench perf: %s %s/%s, %s, GOMAXPROCS=%d, Gemm kernel %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), o.threads, tensor.GemmKernel())
	fmt.Fprintf(stdout, "figures: best of %d rounds of at least %v, [range over the rounds]\n", o.repeat, o.minTime)

	ref, refNote := runReference(ctx, o, stderr)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if ref != nil {
		fmt.Fprintf(stdout, "reference: %s, numpy %s (OpenBLAS kernel %s), torch %s, %d threads\n", o.python, ref.NumPy, orNone(ref.OpenBLASCore), orNone(ref.Torch), ref.Threads)
		if ref.OpenBLASCore == "Prescott" {
			fmt.Fprintln(stdout, "warning: OpenBLAS runs its generic Prescott kernel (it does not know this CPU); pass --openblas-coretype (e.g. SkylakeX on AVX-512, Haswell on AVX2) for a fair comparison")
		}
	} else {
		fmt.Fprintf(stdout, "reference: %s\n", refNote)
	}

	sections := []struct {
		name string
		run  func(context.Context, perfOptions, *perfReference, io.Writer) error
	}{
		{"gemm", perfGemm}, {"forward", perfForward}, {"merge", perfMerge}, {"eval", perfEval},
	}
	for _, s := range sections {
		if o.skip[s.name] {
			continue
		}
		fmt.Fprintln(stdout)
		if err := s.run(ctx, o, ref, stdout); err != nil {
			return err
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(not installed)"
	}
	return s
}

// cpuModel returns the processor name from /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return fmt.Sprintf("%s (%d logical CPUs)", strings.TrimSpace(v), runtime.NumCPU())
			}
		}
	}
	return fmt.Sprintf("%s (%d logical CPUs)", runtime.GOARCH, runtime.NumCPU())
}

// timing is the per-call time of the best and the slowest round.
type timing struct{ best, worst float64 }

// rate formats work per second at the best round with the range over rounds.
func (t timing) rate(work float64, format string) string {
	return fmt.Sprintf(format+" ["+format+"-"+format+"]", work/t.best, work/t.worst, work/t.best)
}

// measure calls fn once to warm up, then runs rounds of calls lasting at least
// minTime each and returns the per-call time of the best and worst round.
func measure(ctx context.Context, o perfOptions, fn func() error) (timing, error) {
	if err := fn(); err != nil {
		return timing{}, err
	}
	t := timing{best: math.Inf(1)}
	for range o.repeat {
		if err := ctx.Err(); err != nil {
			return timing{}, err
		}
		calls, start := 0, time.Now()
		var elapsed time.Duration
		for elapsed < o.minTime {
			if err := fn(); err != nil {
				return timing{}, err
			}
			calls++
			elapsed = time.Since(start)
		}
		per := elapsed.Seconds() / float64(calls)
		t.best = min(t.best, per)
		t.worst = max(t.worst, per)
	}
	return t, nil
}

// perfReference is the JSON printed by scripts/perf_reference.py.
type perfReference struct {
	NumPy        string `json:"numpy"`
	Torch        string `json:"torch"`
	Threads      int    `json:"threads"`
	OpenBLASCore string `json:"openblas_core"`
	Gemm         []struct {
		Lib    string  `json:"lib"`
		Size   int     `json:"size"`
		GFLOPs float64 `json:"gflops"`
	} `json:"gemm"`
	Forward []struct {
		Lib          string  `json:"lib"`
		Model        string  `json:"model"`
		ImagesPerSec float64 `json:"images_per_s"`
	} `json:"forward"`
	Merge []struct {
		Lib  string  `json:"lib"`
		Op   string  `json:"op"`
		GBps float64 `json:"gbps"`
	} `json:"merge"`
}

func (r *perfReference) gemm(lib string, size int) float64 {
	if r == nil {
		return 0
	}
	for _, g := range r.Gemm {
		if g.Lib == lib && g.Size == size {
			return g.GFLOPs
		}
	}
	return 0
}

func (r *perfReference) forward(model string) float64 {
	if r == nil {
		return 0
	}
	for _, f := range r.Forward {
		if f.Model == model {
			return f.ImagesPerSec
		}
	}
	return 0
}

func (r *perfReference) merge(op string) float64 {
	if r == nil {
		return 0
	}
	for _, m := range r.Merge {
		if m.Op == op {
			return m.GBps
		}
	}
	return 0
}

// runReference runs the Python reference for the same work, or says why not.
func runReference(ctx context.Context, o perfOptions, stderr io.Writer) (*perfReference, string) {
	if o.skip["reference"] {
		return nil, "skipped (--python \"\" or --skip reference)"
	}
	if _, err := os.Stat(o.script); err != nil {
		return nil, fmt.Sprintf("not run: %v (run from the repository root or give --reference-script)", err)
	}
	var skip []string
	for _, part := range []string{"gemm", "forward", "merge"} {
		if o.skip[part] {
			skip = append(skip, part)
		}
	}
	sizes := make([]string, len(o.sizes))
	for i, n := range o.sizes {
		sizes[i] = strconv.Itoa(n)
	}
	cmd := exec.CommandContext(ctx, o.python, o.script,
		"--threads", strconv.Itoa(o.threads), "--gemm-sizes", strings.Join(sizes, ","),
		"--images", strconv.Itoa(o.images), "--batch", strconv.Itoa(o.batch),
		"--merge-elements", strconv.Itoa(o.mergeElements), "--merge-models", strconv.Itoa(o.mergeModels),
		"--repeat", strconv.Itoa(o.repeat), "--skip", strings.Join(skip, ","),
		"--openblas-coretype", o.coretype)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Sprintf("%s %s failed: %v (install Debian's python3-numpy, python3-torch and libopenblas0-pthread, or pass --python \"\")", o.python, o.script, err)
	}
	var ref perfReference
	if err := json.Unmarshal(out.Bytes(), &ref); err != nil {
		return nil, fmt.Sprintf("%s printed no valid JSON: %v", o.script, err)
	}
	return &ref, ""
}

// ratio formats a/b, or "-" when b is unknown.
func ratio(a, b float64) string {
	if b <= 0 || a <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func refCell(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func perfGemm(ctx context.Context, o perfOptions, ref *perfReference, w io.Writer) error {
	fmt.Fprintln(w, "GEMM C = A·B, float32, square, GFLOP/s")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "size\tevomerge\tgonum blas32\tnumpy (OpenBLAS)\ttorch\tevomerge/gonum\tevomerge/numpy\tevomerge/torch")
	for _, n := range o.sizes {
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
		if n <= o.gonumMax {
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
	spec nn.Spec
}{
	{"mlp", nn.MLPSpec([3]int{1, 28, 28}, []int{512, 512}, []nn.HeadSpec{{Name: "digits", Classes: 10}})},
	{"cnn", nn.CNNSpec([3]int{1, 28, 28}, []int{16, 32}, []int{128}, []nn.HeadSpec{{Name: "digits", Classes: 10}})},
}

func perfForward(ctx context.Context, o perfOptions, ref *perfReference, w io.Writer) error {
	fmt.Fprintf(w, "Forward pass, %d images of 1×28×28 in batches of %d, images/s\n", o.images, o.batch)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tevomerge\ttorch\tevomerge/torch")
	r := rng.New(1, "bench-perf", "images")
	images := make([]float32, o.images*28*28)
	for i := range images {
		images[i] = float32(r.Float64())
	}
	for _, pm := range perfModels {
		m, err := nn.New(pm.spec, 1)
		if err != nil {
			return fmt.Errorf("bench perf: model %s: %w", pm.name, err)
		}
		t, err := measure(ctx, o, func() error {
			for i0 := 0; i0 < o.images; i0 += o.batch {
				i1 := min(o.images, i0+o.batch)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pm.name, t.rate(float64(o.images), "%.0f"), refCell(torch, "%.0f"), ratio(float64(o.images)/t.best, torch))
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

func perfMerge(ctx context.Context, o perfOptions, ref *perfReference, w io.Writer) error {
	n, models := o.mergeElements, o.mergeModels
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
func perfEval(ctx context.Context, o perfOptions, _ *perfReference, w io.Writer) error {
	fmt.Fprintln(w, "Full evaluations on mnist-tasks (task arithmetic, λ per layer group, native evaluator)")
	b, err := preparedBenchmark(ctx, o.data)
	if err != nil {
		fmt.Fprintf(w, "skipped: %v\n", err)
		return nil
	}
	pool, err := evaluate.BenchmarkPool(b)
	if err != nil {
		return err
	}
	tasks, err := evaluate.BenchmarkTasks(b, nil, "")
	if err != nil {
		return err
	}
	var groups []string
	for i, l := range pool.Spec().Layers {
		if l.Kind == nn.KindLinear {
			groups = append(groups, "layers."+strconv.Itoa(i))
		}
	}
	op := operators.TaskArithmetic()
	_, mapping, err := population.DeriveSpace(op.Params(), population.SearchSpec{
		Operator: op.Name(), Models: pool.ModelNames(),
		Targets: []population.Target{{Param: "lambda", Groups: groups}},
	})
	if err != nil {
		return err
	}
	objs := []fitness.Objective{{Name: "mean/normalized", Task: evaluate.MeanTask, Metric: evaluate.MetricNormalized, Direction: fitness.Maximize}}
	e, err := evaluate.NewNative(evaluate.NativeConfig{
		Merge: evaluate.MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: 1},
		Tasks: tasks, Objectives: objs, Workers: 1,
	})
	if err != nil {
		return err
	}
	x := make([]float64, mapping.Space().Len())
	for i := range x {
		x[i] = 0.3 + 0.05*float64(i%4)
	}
	examples := 0
	for _, t := range tasks {
		examples += t.Fitness.Len()
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
	fmt.Fprintf(w, "%s evaluations/s (%d tasks, %d fitness examples per evaluation, 1 worker)\n", t.rate(1, "%.2f"), len(tasks), examples)
	return nil
}

// preparedBenchmark opens mnist-tasks from its cache after checking the
// manifest and every member's checksum, so that nothing is trained.
func preparedBenchmark(ctx context.Context, df benchDataFlags) (*data.Benchmark, error) {
	root := df.cacheDir
	if root == "" {
		var err error
		if root, err = data.DefaultCacheRoot(); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(root, data.MNISTTasksName+"-"+data.MNISTTasksVersion)
	raw, err := os.ReadFile(filepath.Join(dir, data.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("mnist-tasks is not prepared in %s (run `evomerge bench prepare mnist-tasks`): %w", dir, err)
	}
	var man data.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, fmt.Errorf("%s: %w; run `evomerge bench prepare mnist-tasks --force`", filepath.Join(dir, data.ManifestFile), err)
	}
	recipe, err := data.DefaultRecipe(data.MNISTTasksName)
	if err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(man.Recipe, recipe) {
		return nil, fmt.Errorf("the mnist-tasks cache in %s was built with another recipe; run `evomerge bench prepare mnist-tasks`", dir)
	}
	for _, m := range man.Members {
		sum, err := data.FileSHA256(filepath.Join(dir, m.File))
		if err != nil || sum != m.SHA256 {
			return nil, fmt.Errorf("the mnist-tasks cache in %s is damaged (%s); run `evomerge bench prepare mnist-tasks --force`", dir, m.File)
		}
	}
	return data.Prepare(ctx, data.MNISTTasksName, data.Options{CacheDir: root, MNISTDir: df.mnistDir})
}
