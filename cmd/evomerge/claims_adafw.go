package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/evaluate/gradient"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/nn"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/cmaes"
	"github.com/evomerge/evomerge/search/fw"
)

const claimAdaMergingSynopsis = `claims adamerging [--out FILE] [--seeds N] [--steps N] [--evo-evals N] [--smoke] [--cache-dir DIR] [--mnist-dir DIR]

Reproduces the AdaMerging paper's main table on mnist-tasks: weight
averaging, task arithmetic and TIES (λ chosen on validation), Fisher,
RegMean, task-wise and layer-wise AdaMerging and AdaMerging++ (Adam on the
prediction entropy of the unlabelled TEST inputs of every task: test-time
adaptation), and CMA-ES over per-tensor task-arithmetic coefficients on
labelled validation data. Cells are test-split normalized accuracy, mean ±
sd over the seeds. --out writes the table into the AdaMerging/FW section of
a markdown file.`

const claimFWSynopsis = `claims fw-scaling [--out FILE] [--seeds N] [--added 0,4,8,16] [--steps N] [--smoke] [--cache-dir DIR] [--mnist-dir DIR]

Reproduces FW-Merging's scaling study on mnist-tasks: the pool holds the
four relevant experts plus 0, 4, 8 or 16 irrelevant models (experts
fine-tuned on other tasks, and randomly perturbed copies of the experts).
FW-Merging (hard, layer-wise LMO, labelled proxy set of validation
examples), task arithmetic and TIES (λ chosen on validation) and layer-wise
AdaMerging (unlabelled test inputs) merge the whole pool; cells are
test-split mean normalized accuracy on the four tasks, mean ± sd over the
seeds. --out writes the table into the AdaMerging/FW section.`

// Markers of this section of docs/results.md and of each claim inside it.
const (
	adaFWBegin = "<!-- adamerging-fw:start -->"
	adaFWEnd   = "<!-- adamerging-fw:end -->"
)

func afSubMarkers(key string) (string, string) {
	return "<!-- adamerging-fw:" + key + ":start -->", "<!-- adamerging-fw:" + key + ":end -->"
}

// afClaimFlags are the flags both claims share.
type afClaimFlags struct {
	data  benchDataFlags
	out   string
	seeds int
	steps int
	smoke bool
}

func (c *afClaimFlags) register(fs *flag.FlagSet) {
	c.data.register(fs)
	fs.StringVar(&c.out, "out", "", "markdown file whose AdaMerging/FW section receives the table (default: print it)")
	fs.IntVar(&c.seeds, "seeds", 3, "seeds (at least 3 for a table with standard deviations)")
	fs.IntVar(&c.steps, "steps", adamerging.DefaultSteps, "AdaMerging Adam steps")
	fs.BoolVar(&c.smoke, "smoke", false, "use the benchmark's tiny smoke recipe (pipeline check; results are not meaningful)")
}

func (c *afClaimFlags) check() error {
	if c.seeds < 1 {
		return usagef("--seeds %d: give a positive count", c.seeds)
	}
	if c.steps < 1 {
		return usagef("--steps %d: give a positive count", c.steps)
	}
	return nil
}

// prepare loads (or trains) mnist-tasks.
func (c *afClaimFlags) prepare(ctx context.Context, stderr io.Writer) (*data.Benchmark, error) {
	opt := data.Options{CacheDir: c.data.cacheDir, MNISTDir: c.data.mnistDir, Log: stderr}
	if c.smoke {
		r, err := data.SmokeRecipe(data.MNISTTasksName)
		if err != nil {
			return nil, err
		}
		opt.Recipe = &r
	}
	return data.Prepare(ctx, data.MNISTTasksName, opt)
}

// afClaimEnv is what both claims load once: the benchmark, its base and
// experts (backbones only, heads stay with the task), the working model
// with every task's head, and the per-task data.
type afClaimEnv struct {
	b          *data.Benchmark
	base       []checkpoint.Tensor // backbone tensors of θ0
	experts    []*nn.Model
	expertBone [][]checkpoint.Tensor
	names      []string // expert member names, task order
	work       *nn.Model
	test       []gradient.Task // unlabelled use only (AdaMerging)
	valid      []gradient.Task // labelled validation (selection, proxy)
	logf       func(string, ...any)
}

func afBackbone(ts []checkpoint.Tensor) []checkpoint.Tensor {
	var out []checkpoint.Tensor
	for _, t := range ts {
		if !data.IsHeadTensor(t.Name) {
			out = append(out, t)
		}
	}
	return out
}

func afLoadClaimEnv(ctx context.Context, b *data.Benchmark, stderr io.Writer) (*afClaimEnv, error) {
	env := &afClaimEnv{b: b, logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}
	bm, ok := b.Base()
	if !ok {
		return nil, fmt.Errorf("benchmark %s has no base model; AdaMerging and FW need one", b.Name)
	}
	baseModel, err := b.LoadMember(bm.Name)
	if err != nil {
		return nil, err
	}
	env.base = afBackbone(baseModel.Tensors())
	for _, t := range b.Tasks {
		m, ok := b.Expert(t.Name)
		if !ok {
			return nil, fmt.Errorf("benchmark %s has no expert for task %s", b.Name, t.Name)
		}
		model, err := b.LoadMember(m.Name)
		if err != nil {
			return nil, err
		}
		env.experts = append(env.experts, model)
		env.expertBone = append(env.expertBone, afBackbone(model.Tensors()))
		env.names = append(env.names, t.Name)
		for _, split := range []data.Split{data.Test, data.Validation} {
			d, err := b.Data(t.Name, split)
			if err != nil {
				return nil, err
			}
			task := gradient.Task{Name: t.Name, Head: t.Head, X: d.X, N: d.Len()}
			if split == data.Test {
				env.test = append(env.test, task) // labels deliberately left out
			} else {
				task.Y = d.Y
				env.valid = append(env.valid, task)
			}
		}
	}
	if env.work, err = env.withHeads(env.base); err != nil {
		return nil, err
	}
	return env, nil
}

// withHeads builds a model from backbone tensors and every expert's head.
func (e *afClaimEnv) withHeads(bone []checkpoint.Tensor) (*nn.Model, error) {
	ts := slices.Clone(bone)
	for _, m := range e.experts {
		for _, t := range m.Tensors() {
			if data.IsHeadTensor(t.Name) {
				ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: slices.Clone(t.Data)})
			}
		}
	}
	return nn.FromTensors(e.b.Spec(), ts)
}

// taskVectors builds the task vectors of the given backbones over the base.
func (e *afClaimEnv) taskVectors(models [][]checkpoint.Tensor, names []string) (*gradient.TaskVectors, error) {
	src, err := operators.NewMemSource(e.base, models...)
	if err != nil {
		return nil, err
	}
	tv, err := gradient.NewTaskVectors(src, operators.TaskTensors{})
	if err != nil {
		return nil, err
	}
	tv.Models = names
	return tv, nil
}

// scoreTensors evaluates backbone tensors (any order) with every task's head.
func (e *afClaimEnv) scoreTensors(ctx context.Context, names []string, tensors [][]float32, split data.Split) (*data.Scores, error) {
	for i, name := range names {
		p := e.work.Param(name)
		if p == nil || len(p.Data) != len(tensors[i]) {
			return nil, fmt.Errorf("merged tensor %q does not fit the benchmark's model", name)
		}
		copy(p.Data, tensors[i])
	}
	return e.b.Evaluate(ctx, e.work, split)
}

// scoreOperator merges the backbones with an operator and scores the merge.
func (e *afClaimEnv) scoreOperator(ctx context.Context, src operators.Source, op operators.Operator, s operators.Settings, stats operators.StatsSource, split data.Split) (*data.Scores, error) {
	merged, err := mergeInMemory(ctx, op, src, s, stats)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(merged))
	vals := make([][]float32, len(merged))
	for i, t := range merged {
		names[i], vals[i] = t.Name, t.Data
	}
	return e.scoreTensors(ctx, names, vals, split)
}

// tunedOperator picks λ on validation from lambdaGrid and scores it on test.
func (e *afClaimEnv) tunedOperator(ctx context.Context, src operators.Source, name string) (*data.Scores, float64, error) {
	return e.tuned(ctx, src, name, "lambda", lambdaGrid, nil)
}

// tuned picks one parameter of an operator on validation from a grid and
// scores the choice on test.
func (e *afClaimEnv) tuned(ctx context.Context, src operators.Source, name, param string, grid []float64, stats operators.StatsSource) (*data.Scores, float64, error) {
	op, err := operators.Builtin().Get(name)
	if err != nil {
		return nil, 0, err
	}
	best, bestVal := math.Inf(-1), math.NaN()
	var lastErr error
	for _, v := range grid {
		s := operators.Settings{Default: operators.Values{Global: map[string]operators.Value{param: operators.F(v)}}}
		sc, err := e.scoreOperator(ctx, src, op, s, stats, data.Validation)
		if err != nil {
			lastErr = fmt.Errorf("%s %s = %g: %w", name, param, v, err)
			continue
		}
		if m := meanNormalized(sc); m > best {
			best, bestVal = m, v
		}
	}
	if math.IsNaN(bestVal) {
		return nil, 0, lastErr
	}
	s := operators.Settings{Default: operators.Values{Global: map[string]operators.Value{param: operators.F(bestVal)}}}
	sc, err := e.scoreOperator(ctx, src, op, s, stats, data.Test)
	return sc, bestVal, err
}

// runAdaMerging learns coefficients on the unlabelled test inputs and
// scores the merge on test.
func (e *afClaimEnv) runAdaMerging(ctx context.Context, tv *gradient.TaskVectors, layout string, steps int, seed uint64) (*data.Scores, *adamerging.Result, error) {
	lay, err := gradient.NewLayout(layout, tv, checkpoint.LayerGroup)
	if err != nil {
		return nil, nil, err
	}
	ev, err := gradient.NewAdaMerging(e.work, tv, lay, e.test, gradient.AdaMergingOptions{Seed: seed})
	if err != nil {
		return nil, nil, err
	}
	res, err := adamerging.Optimize(ctx, ev, lay.Len(), adamerging.Options{Steps: steps, Names: lay.Names(tv)})
	if err != nil {
		return nil, nil, err
	}
	if err := ev.SetCoefficients(res.Coefficients); err != nil {
		return nil, nil, err
	}
	sc, err := e.b.Evaluate(ctx, e.work, data.Test)
	return sc, res, err
}

// entropyAnalysis measures the paper's premise on this benchmark: the
// entropy objective (full test inputs, summed over tasks) and the test
// accuracy of the base (λ = 0), of λ = 0.3 everywhere (AdaMerging's start)
// and of the learned layer-wise coefficients.
func (e *afClaimEnv) entropyAnalysis(ctx context.Context, tv *gradient.TaskVectors, learned *adamerging.Result) (string, error) {
	lay, err := gradient.NewLayout(gradient.LayoutTensor, tv, nil)
	if err != nil {
		return "", err
	}
	ev, err := gradient.NewAdaMerging(e.work, tv, lay, e.test, gradient.AdaMergingOptions{Full: true})
	if err != nil {
		return "", err
	}
	var w strings.Builder
	w.WriteString("\nWhy entropy misleads here (full test inputs, entropy summed over the four tasks; layer-wise coefficients):\n\n")
	w.WriteString("| coefficients | entropy objective | test mean normalized accuracy |\n|---|---:|---:|\n")
	points := []struct {
		name string
		c    []float64
	}{
		{"λ = 0 (the base, expert heads)", make([]float64, lay.Len())},
		{"λ = 0.3 (AdaMerging's start)", slices.Repeat([]float64{0.3}, lay.Len())},
		{"learned by layer-wise AdaMerging (seed 1)", learned.Coefficients},
	}
	var h, acc [3]float64
	for i, p := range points {
		if h[i], err = ev.LossGrad(ctx, p.c, make([]float64, lay.Len())); err != nil {
			return "", err
		}
		sc, err := e.b.Evaluate(ctx, e.work, data.Test)
		if err != nil {
			return "", err
		}
		acc[i] = 100 * meanNormalized(sc)
		fmt.Fprintf(&w, "| %s | %.3f | %.1f |\n", p.name, h[i], acc[i])
	}
	w.WriteString("\n")
	switch {
	case h[0] < h[1] && acc[0] < acc[1]:
		fmt.Fprintf(&w, "The base has lower entropy than AdaMerging's start (%.3f < %.3f) but lower accuracy (%.1f < %.1f): on this benchmark entropy does not track the supervised loss, so minimising it pulls coefficients back toward the base. ", h[0], h[1], acc[0], acc[1])
	case h[2] < h[1] && acc[2] < acc[1]:
		fmt.Fprintf(&w, "AdaMerging lowered the entropy (%.3f → %.3f) and the accuracy with it (%.1f → %.1f): entropy does not track the supervised loss on this benchmark. ", h[1], h[2], acc[1], acc[2])
	default:
		w.WriteString("Entropy and accuracy move together between these points. ")
	}
	w.WriteString("The diagnostic row (same optimiser and gradient, cross-entropy on labelled validation inputs) separates the objective from the machinery; docs/adamerging.md discusses the disagreement with the paper.\n")
	return w.String(), nil
}

// row is one method of a claim table: one score per seed.
type afClaimRow struct {
	method, setting string
	paper           string
	scores          []*data.Scores
	err             error // the method failed; the row says why
}

func (r *afClaimRow) means() (mean, sd float64) {
	var xs []float64
	for _, s := range r.scores {
		xs = append(xs, 100*meanNormalized(s))
	}
	return afMeanSD(xs)
}

func afMeanSD(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) < 2 {
		return m, 0
	}
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)-1))
}

// taskMean is the mean over seeds of one task's normalized accuracy (%).
func (r *afClaimRow) taskMean(i int) float64 {
	var s float64
	for _, sc := range r.scores {
		if sc.Tasks[i].Normalized != nil {
			s += 100 * *sc.Tasks[i].Normalized
		}
	}
	return s / float64(len(r.scores))
}

// afCmaesEvaluator scores per-tensor task-arithmetic coefficients on a
// labelled validation subset (search.Evaluator).
type afCmaesEvaluator struct {
	env *afClaimEnv
	tv  *gradient.TaskVectors
	lay *gradient.Layout
	dst [][]float32
	b   *data.Benchmark
}

func (c *afCmaesEvaluator) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	for _, cand := range batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.tv.MergeInto(c.dst, c.lay, cand.Genome.Values)
		sc, err := c.env.scoreTensors(ctx, c.tv.Names, c.dst, data.Validation)
		if err != nil {
			cand.Fail(err)
			continue
		}
		cand.Scores = []float64{meanNormalized(sc)}
		cand.Status = population.StatusOK
	}
	return nil
}

// runCMAES searches per-tensor coefficients with CMA-ES on validation and
// scores the best candidate on test.
func (e *afClaimEnv) runCMAES(ctx context.Context, tv *gradient.TaskVectors, evals int, seed uint64, init []float64) (*data.Scores, error) {
	lay, err := gradient.NewLayout(gradient.LayoutTensor, tv, nil)
	if err != nil {
		return nil, err
	}
	names := lay.Names(tv)
	dims := make([]population.Dim, len(names))
	for i, n := range names {
		dims[i] = population.Dim{Name: n, Kind: population.KindFloat, Lower: 0, Upper: 1, Default: adamerging.DefaultInit}
	}
	space, err := population.NewSpace(dims)
	if err != nil {
		return nil, err
	}
	m, err := cmaes.New(cmaes.Options{Initial: init})
	if err != nil {
		return nil, err
	}
	ev := &afCmaesEvaluator{env: e, tv: tv, lay: lay, b: e.b}
	for _, base := range tv.Base {
		ev.dst = append(ev.dst, make([]float32, len(base)))
	}
	res, err := search.Run(ctx, m, ev, search.Problem{Space: space, Directions: []fitness.Direction{fitness.Maximize}, Seed: seed},
		search.Settings{MaxEvaluations: evals, EvalSpec: "claims/adamerging/validation", Version: e.b.Version})
	if err != nil {
		return nil, err
	}
	if res.Status == search.StatusFailure {
		return nil, res.Err
	}
	var best *population.Candidate
	for _, c := range res.Candidates {
		if c.OK() && (best == nil || c.Scores[0] > best.Scores[0]) {
			best = c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("CMA-ES evaluated no candidate successfully")
	}
	ev.tv.MergeInto(ev.dst, lay, best.Genome.Values)
	return e.scoreTensors(ctx, tv.Names, ev.dst, data.Test)
}

// runClaimAdaMerging is `evomerge claims adamerging`.
func runClaimAdaMerging(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("claims adamerging", claimAdaMergingSynopsis, stderr)
	var cf afClaimFlags
	cf.register(fs)
	evoEvals := fs.Int("evo-evals", 240, "CMA-ES evaluations per seed")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("claims adamerging takes no positional arguments, got %q", pos)
	}
	if err := cf.check(); err != nil {
		return err
	}
	if *evoEvals < 1 {
		return usagef("--evo-evals %d: give a positive count", *evoEvals)
	}
	start := time.Now()
	b, err := cf.prepare(ctx, stderr)
	if err != nil {
		return err
	}
	env, err := afLoadClaimEnv(ctx, b, stderr)
	if err != nil {
		return err
	}
	env.logf("%s", adamerging.Note)
	tv, err := env.taskVectors(env.expertBone, env.names)
	if err != nil {
		return err
	}
	tvpp, err := tv.TIES(0.2, gradient.TrimModel)
	if err != nil {
		return err
	}
	src, err := operators.NewMemSource(env.base, env.expertBone...)
	if err != nil {
		return err
	}
	// Fisher and RegMean statistics on 256 training images per task.
	var statsData []nn.TaskData
	for _, t := range b.Tasks {
		d, err := b.DataRange(t.Name, data.Train, 0, 256)
		if err != nil {
			return err
		}
		statsData = append(statsData, nn.TaskData{Head: t.Head, X: d.X, Y: d.Y, N: d.Len()})
	}
	stats, err := nn.ComputeStats(ctx, env.experts, statsData, nn.StatsOptions{Fisher: true, Gram: true})
	if err != nil {
		return err
	}
	reg := operators.Builtin()
	fixed := func(method, setting, paper, op string) (*afClaimRow, error) {
		o, err := reg.Get(op)
		if err != nil {
			return nil, err
		}
		sc, err := env.scoreOperator(ctx, src, o, operators.Settings{}, stats, data.Test)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		env.logf("%s: %.2f", method, 100*meanNormalized(sc))
		return &afClaimRow{method: method, setting: setting, paper: paper, scores: afRepeatScores(sc, cf.seeds)}, nil
	}
	var rows []*afClaimRow
	avg, err := fixed("weight averaging", "deterministic", "65.8", "linear")
	if err != nil {
		return err
	}
	rows = append(rows, avg)
	for _, x := range []struct{ method, op, paper string }{{"task arithmetic", "task_arithmetic", "69.1"}, {"TIES", "ties", "72.4"}} {
		sc, lambda, err := env.tunedOperator(ctx, src, x.op)
		if err != nil {
			return err
		}
		env.logf("%s (λ = %g on validation): %.2f", x.method, lambda, 100*meanNormalized(sc))
		rows = append(rows, &afClaimRow{method: x.method, setting: fmt.Sprintf("λ = %g (validation), deterministic", lambda), paper: x.paper, scores: afRepeatScores(sc, cf.seeds)})
	}
	fisherRow, err := fixed("Fisher", "defaults, 256 train images per task, deterministic", "68.3", "fisher")
	if err != nil {
		return err
	}
	rows = append(rows, fisherRow)
	rm, alpha, err := env.tuned(ctx, src, "regmean", "alpha", []float64{0.1, 0.3, 0.5, 0.7, 0.9, 0.95}, stats)
	if err != nil {
		// The operator's own error is the result: recorded, not hidden.
		env.logf("RegMean failed: %v", err)
		rows = append(rows, &afClaimRow{method: "RegMean", setting: "α grid 0.1-0.95 (validation), 256 train images per task", paper: "71.8", err: err})
	} else {
		env.logf("RegMean (α = %g on validation): %.2f", alpha, 100*meanNormalized(rm))
		rows = append(rows, &afClaimRow{method: "RegMean", setting: fmt.Sprintf("α = %g (validation), 256 train images per task, deterministic", alpha), paper: "71.8", scores: afRepeatScores(rm, cf.seeds)})
	}
	type adaVariant struct {
		method, layout, paper string
		tv                    *gradient.TaskVectors
	}
	variants := []adaVariant{
		{"task-wise AdaMerging", gradient.LayoutTask, "71.1", tv},
		{"task-wise AdaMerging++", gradient.LayoutTask, "73.7", tvpp},
		{"layer-wise AdaMerging", gradient.LayoutTensor, "80.1", tv},
		{"layer-wise AdaMerging++", gradient.LayoutTensor, "81.1", tvpp},
	}
	var layerwise []*adamerging.Result
	var trajectories []string
	for _, v := range variants {
		row := &afClaimRow{method: v.method, setting: fmt.Sprintf("%d Adam steps, 2×16 unlabelled test inputs per task per step", cf.steps), paper: v.paper}
		for s := range cf.seeds {
			seed := rng.Derive(uint64(s+1), "claims", "adamerging", v.method)
			sc, res, err := env.runAdaMerging(ctx, v.tv, v.layout, cf.steps, seed)
			if err != nil {
				return fmt.Errorf("%s seed %d: %w", v.method, s+1, err)
			}
			row.scores = append(row.scores, sc)
			if v.method == "layer-wise AdaMerging" {
				layerwise = append(layerwise, res)
			}
			if s == 0 {
				trajectories = append(trajectories, afDescribeTrajectory(v.method, res))
			}
			env.logf("%s seed %d: %.2f", v.method, s+1, 100*meanNormalized(sc))
		}
		rows = append(rows, row)
	}
	// Diagnostic: the same optimiser and exact gradient on a supervised
	// objective (cross-entropy on labelled validation inputs) instead of the
	// entropy of test inputs. Not a method of the paper.
	sup := &afClaimRow{method: "layer-wise, cross-entropy on validation (diagnostic)", setting: fmt.Sprintf("%d Adam steps, 2×16 labelled validation inputs per task per step; not the paper's objective", cf.steps), paper: "-"}
	for s := range cf.seeds {
		seed := rng.Derive(uint64(s+1), "claims", "adamerging", "supervised")
		lay, err := gradient.NewLayout(gradient.LayoutTensor, tv, nil)
		if err != nil {
			return err
		}
		ev, err := gradient.NewAdaMerging(env.work, tv, lay, env.valid, gradient.AdaMergingOptions{Seed: seed, Supervised: true})
		if err != nil {
			return err
		}
		res, err := adamerging.Optimize(ctx, ev, lay.Len(), adamerging.Options{Steps: cf.steps})
		if err != nil {
			return err
		}
		if err := ev.SetCoefficients(res.Coefficients); err != nil {
			return err
		}
		sc, err := b.Evaluate(ctx, env.work, data.Test)
		if err != nil {
			return err
		}
		sup.scores = append(sup.scores, sc)
		env.logf("supervised diagnostic seed %d: %.2f", s+1, 100*meanNormalized(sc))
	}
	rows = append(rows, sup)
	analysis, err := env.entropyAnalysis(ctx, tv, layerwise[0])
	if err != nil {
		return err
	}
	trajectories = append(trajectories, analysis)

	evo := &afClaimRow{method: "CMA-ES, per-tensor coefficients", setting: fmt.Sprintf("%d evaluations on labelled validation, from 0.3", *evoEvals), paper: "-"}
	seeded := &afClaimRow{method: "CMA-ES seeded by layer-wise AdaMerging", setting: fmt.Sprintf("%d evaluations on labelled validation, mean starts at the learned λ", *evoEvals), paper: "-"}
	for s := range cf.seeds {
		seed := rng.Derive(uint64(s+1), "claims", "adamerging", "cmaes")
		sc, err := env.runCMAES(ctx, tv, *evoEvals, seed, nil)
		if err != nil {
			return fmt.Errorf("CMA-ES seed %d: %w", s+1, err)
		}
		evo.scores = append(evo.scores, sc)
		env.logf("CMA-ES seed %d: %.2f", s+1, 100*meanNormalized(sc))
		space, err := layerwise[s].Space(0, 1)
		if err != nil {
			return err
		}
		init, err := layerwise[s].Seed(space)
		if err != nil {
			return err
		}
		sc, err = env.runCMAES(ctx, tv, *evoEvals, seed, init)
		if err != nil {
			return fmt.Errorf("seeded CMA-ES seed %d: %w", s+1, err)
		}
		seeded.scores = append(seeded.scores, sc)
		env.logf("seeded CMA-ES seed %d: %.2f", s+1, 100*meanNormalized(sc))
	}
	rows = append(rows, evo, seeded)

	cmd := "evomerge claims adamerging" + cf.commandSuffix()
	if *evoEvals != 240 {
		cmd += fmt.Sprintf(" --evo-evals %d", *evoEvals)
	}
	md := afAdaMergingMarkdown(b, rows, trajectories, cmd, cf, time.Since(start))
	return cf.emit(stdout, "adamerging", md)
}

func (c *afClaimFlags) commandSuffix() string {
	s := ""
	if c.out != "" {
		s += " --out " + c.out
	}
	if c.seeds != 3 {
		s += fmt.Sprintf(" --seeds %d", c.seeds)
	}
	if c.steps != adamerging.DefaultSteps {
		s += fmt.Sprintf(" --steps %d", c.steps)
	}
	if c.smoke {
		s += " --smoke"
	}
	return s
}

func (c *afClaimFlags) emit(stdout io.Writer, key, md string) error {
	if c.out == "" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := writeAdaFWSection(c.out, key, md); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the %s results to %s\n", key, c.out)
	return nil
}

func afRepeatScores(s *data.Scores, n int) []*data.Scores {
	out := make([]*data.Scores, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// afDescribeTrajectory summarises a learned coefficient trajectory.
func afDescribeTrajectory(method string, r *adamerging.Result) string {
	first, last := r.Trajectory[0], r.Trajectory[len(r.Trajectory)-1]
	var w strings.Builder
	fmt.Fprintf(&w, "- %s (seed 1): entropy %.4f → %.4f over %d steps; learned λ:", method, first.Loss, last.Loss, len(r.Trajectory))
	for i, c := range r.Coefficients {
		name := fmt.Sprint(i)
		if i < len(r.Names) {
			name = r.Names[i]
		}
		fmt.Fprintf(&w, " `%s` %.3f", name, c)
		if i < len(r.Coefficients)-1 {
			w.WriteString(",")
		}
	}
	w.WriteString("\n")
	return w.String()
}

func afAdaMergingMarkdown(b *data.Benchmark, rows []*afClaimRow, trajectories []string, cmd string, cf afClaimFlags, elapsed time.Duration) string {
	var w bytes.Buffer
	fmt.Fprintf(&w, "## AdaMerging on %s (version %s)\n\n", b.Name, b.Version)
	fmt.Fprintf(&w, "Produced by `%s` (%s on this machine, recipe %q, seeds: %d). ", cmd, elapsed.Round(time.Second), b.Manifest.Recipe.Name, cf.seeds)
	w.WriteString("Cells are test-split normalized accuracy (merged accuracy / the task's expert accuracy, %), mean over seeds, and the mean over tasks as mean ± sd over seeds. ")
	w.WriteString("Deterministic methods give the same number for every seed (sd 0). Every task keeps its expert's head. ")
	w.WriteString("**AdaMerging rows are test-time adaptation**: their entropy objective reads the unlabelled inputs of every task's test split (never the labels), exactly as the paper; ")
	w.WriteString("task arithmetic and TIES choose λ on the labelled validation split, CMA-ES optimises on labelled validation. ")
	w.WriteString("The paper column is its CLIP ViT-B/32 eight-task average (normalized differently: it reports absolute accuracy), for the ordering only.\n\n")
	tasks := b.TaskNames()
	fmt.Fprintf(&w, "| method | setting | %s | mean ± sd | paper (ViT-B/32) |\n", strings.Join(tasks, " | "))
	fmt.Fprintf(&w, "|---|---|%s---:|---:|\n", strings.Repeat("---:|", len(tasks)))
	score := map[string]float64{}
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(&w, "| %s | %s | failed: %s |%s %s |\n", r.method, r.setting, strings.ReplaceAll(oneLine(r.err.Error()), "|", "/"), strings.Repeat(" |", len(tasks)), r.paper)
			continue
		}
		m, sd := r.means()
		score[r.method] = m
		fmt.Fprintf(&w, "| %s | %s |", r.method, r.setting)
		for i := range tasks {
			fmt.Fprintf(&w, " %.1f |", r.taskMean(i))
		}
		fmt.Fprintf(&w, " %.1f ± %.1f | %s |\n", m, sd, r.paper)
	}
	w.WriteString("\n### The paper's claims, checked\n\n")
	check := func(claim string, ok bool, detail string) {
		mark := "holds"
		if !ok {
			mark = "**does not hold**"
		}
		fmt.Fprintf(&w, "- %s: %s (%s)\n", claim, mark, detail)
	}
	lw := score["layer-wise AdaMerging"]
	for _, other := range []string{"task arithmetic", "TIES", "task-wise AdaMerging", "weight averaging"} {
		check("layer-wise AdaMerging above "+other, lw > score[other], fmt.Sprintf("%.1f vs %.1f", lw, score[other]))
	}
	check("task-wise AdaMerging++ at least task-wise", score["task-wise AdaMerging++"] >= score["task-wise AdaMerging"],
		fmt.Sprintf("%.1f vs %.1f", score["task-wise AdaMerging++"], score["task-wise AdaMerging"]))
	check("layer-wise AdaMerging++ at least layer-wise", score["layer-wise AdaMerging++"] >= score["layer-wise AdaMerging"],
		fmt.Sprintf("%.1f vs %.1f", score["layer-wise AdaMerging++"], score["layer-wise AdaMerging"]))
	for _, m := range []string{"task arithmetic", "TIES"} {
		check(m+" (λ on validation) above weight averaging", score[m] > score["weight averaging"], fmt.Sprintf("%.1f vs %.1f", score[m], score["weight averaging"]))
	}
	w.WriteString("\n### Learned coefficients\n\n")
	for _, t := range trajectories {
		w.WriteString(t)
	}
	return w.String()
}

// writeAdaFWSection replaces (or appends) the block of one claim inside
// the AdaMerging/FW section of a markdown file, atomically.
func writeAdaFWSection(path, key, block string) error {
	return editResults(path, func(text string) (string, error) {
		inner, _, err := markedContent(text, adaFWBegin, adaFWEnd)
		if err != nil {
			return "", err
		}
		sb, se := afSubMarkers(key)
		if inner, err = setMarked(inner, sb, se, "", block); err != nil {
			return "", err
		}
		return setMarked(text, adaFWBegin, adaFWEnd, "", inner)
	})
}

// afFWModels are the irrelevant models of one seed: experts fine-tuned on
// other tasks and randomly perturbed copies of the experts, interleaved.
type afFWModels struct {
	paths []string
	kinds []string
}

// irrelevantModels writes n irrelevant backbones for a seed into dir.
func (e *afClaimEnv) irrelevantModels(ctx context.Context, dir string, n int, seed uint64, trainExamples int) (*afFWModels, error) {
	mn, err := e.b.MNIST()
	if err != nil {
		return nil, err
	}
	trainLen := mn.Len(data.Train)
	lo := max(0, trainLen-trainExamples)
	plain, err := mn.SplitRange(data.Train, lo, trainLen)
	if err != nil {
		return nil, err
	}
	out := &afFWModels{}
	pixels := plain.Features()
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var tensors []checkpoint.Tensor
		var kind string
		if i%2 == 0 {
			// An expert of another task: digits under a pixel permutation
			// no target task uses, fine-tuned from the base.
			perm := data.PixelPermutation(pixels, rng.Derive(seed, "claims", "fw", "perm", fmt.Sprint(i)), "claims/fw/other-task")
			d, err := data.PermutePixels(plain, perm)
			if err != nil {
				return nil, err
			}
			m, err := e.withHeads(e.base)
			if err != nil {
				return nil, err
			}
			head := e.b.Tasks[0].Head
			if err := nn.Train(ctx, m, d.X, d.Y, d.Len(), nn.TrainConfig{Head: head, Epochs: 2, BatchSize: 64, LR: 1e-3,
				Seed: rng.Derive(seed, "claims", "fw", "train", fmt.Sprint(i))}); err != nil {
				return nil, err
			}
			tensors, kind = afBackbone(m.Tensors()), "other-task expert"
		} else {
			// A perturbed copy of an expert: Gaussian noise per tensor with
			// the standard deviation of that expert's task vector.
			k := (i / 2) % len(e.expertBone)
			r := rng.New(seed, "claims", "fw", "noise", fmt.Sprint(i))
			for ti, t := range e.expertBone[k] {
				var ss float64
				for j, v := range t.Data {
					d := float64(v - e.base[ti].Data[j])
					ss += d * d
				}
				sd := math.Sqrt(ss / float64(len(t.Data)))
				vals := make([]float32, len(t.Data))
				for j, v := range t.Data {
					vals[j] = v + float32(sd*r.NormFloat64())
				}
				tensors = append(tensors, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: vals})
			}
			kind = "noisy copy of expert-" + e.names[k]
		}
		path := filepath.Join(dir, fmt.Sprintf("irrelevant-%02d.safetensors", i))
		if err := checkpoint.Write(path, tensors, nil, checkpoint.WriteOptions{}); err != nil {
			return nil, err
		}
		out.paths = append(out.paths, path)
		out.kinds = append(out.kinds, kind)
	}
	return out, nil
}

// runClaimFWScaling is `evomerge claims fw-scaling`.
func runClaimFWScaling(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("claims fw-scaling", claimFWSynopsis, stderr)
	var cf afClaimFlags
	cf.register(fs)
	addedFlag := fs.String("added", "0,4,8,16", "numbers of irrelevant models added to the pool")
	proxy := fs.Int("proxy", 200, "labelled validation examples per task in FW's proxy set")
	iters := fs.Int("iterations", 10, "FW iterations")
	eta := fs.Float64("eta", 1, "FW step size η (γt = η·2/(t+2))")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("claims fw-scaling takes no positional arguments, got %q", pos)
	}
	if err := cf.check(); err != nil {
		return err
	}
	var added []int
	for _, f := range strings.Split(*addedFlag, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 0 {
			return usagef("--added %q: give comma-separated non-negative counts", *addedFlag)
		}
		added = append(added, n)
	}
	if *proxy < 1 || *iters < 1 || !(*eta > 0) {
		return usagef("--proxy, --iterations and --eta must be positive")
	}
	start := time.Now()
	b, err := cf.prepare(ctx, stderr)
	if err != nil {
		return err
	}
	env, err := afLoadClaimEnv(ctx, b, stderr)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "evomerge-fw-claim-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The relevant experts as backbone checkpoints on disk.
	var relevant []string
	for k, bone := range env.expertBone {
		p := filepath.Join(tmp, "expert-"+env.names[k]+".safetensors")
		if err := checkpoint.Write(p, bone, nil, checkpoint.WriteOptions{}); err != nil {
			return err
		}
		relevant = append(relevant, p)
	}
	proxyTasks := make([]gradient.Task, len(env.valid))
	for i, t := range env.valid {
		n := min(*proxy, t.N)
		size := len(t.X) / t.N
		proxyTasks[i] = gradient.Task{Name: t.Name, Head: t.Head, X: t.X[:n*size], Y: t.Y[:n], N: n}
	}
	maxAdded := slices.Max(added)
	trainExamples := 2000
	if cf.smoke {
		trainExamples = 100
	}
	methods := []string{"FW-Merging (hard, layer-wise)", "task arithmetic (λ on validation)", "TIES (λ on validation)", "layer-wise AdaMerging",
		"task arithmetic (λ = 0.3 fixed)", "TIES (λ = 0.3 fixed)"}
	table := map[string]map[int][]float64{}
	for _, m := range methods {
		table[m] = map[int][]float64{}
	}
	var selection []string
	var kinds []string
	for s := range cf.seeds {
		seed := rng.Derive(uint64(s+1), "claims", "fw")
		dir := filepath.Join(tmp, fmt.Sprintf("seed-%d", s+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		irr, err := env.irrelevantModels(ctx, dir, maxAdded, seed, trainExamples)
		if err != nil {
			return err
		}
		if s == 0 {
			kinds = irr.kinds
		}
		for _, n := range added {
			pool := append(slices.Clone(relevant), irr.paths[:n]...)
			names := slices.Clone(env.names)
			bones := slices.Clone(env.expertBone)
			for i := range n {
				names = append(names, fmt.Sprintf("irrelevant-%02d", i))
				ts, _, err := checkpoint.LoadAll(irr.paths[i])
				if err != nil {
					return err
				}
				bones = append(bones, ts)
			}
			tv, err := env.taskVectors(bones, names)
			if err != nil {
				return err
			}
			// FW-Merging: streams the pool from disk.
			ev, err := gradient.NewFrankWolfe(env.work, tv, nil, pool, proxyTasks, gradient.FWOptions{})
			if err != nil {
				return err
			}
			res, err := fw.Merge(ctx, ev, fw.Options{Iterations: *iters, StepSize: *eta})
			if err != nil {
				return err
			}
			ev.LoadTheta()
			sc, err := b.Evaluate(ctx, env.work, data.Test)
			if err != nil {
				return err
			}
			table[methods[0]][n] = append(table[methods[0]][n], 100*meanNormalized(sc))
			if s == 0 {
				selection = append(selection, afDescribeSelection(n, len(relevant), irr.kinds, res))
			}
			env.logf("seed %d, +%d: FW %.2f", s+1, n, 100*meanNormalized(sc))
			src, err := operators.NewMemSource(env.base, bones...)
			if err != nil {
				return err
			}
			for mi, op := range []string{"task_arithmetic", "ties"} {
				sc, lambda, err := env.tunedOperator(ctx, src, op)
				if err != nil {
					return err
				}
				table[methods[1+mi]][n] = append(table[methods[1+mi]][n], 100*meanNormalized(sc))
				env.logf("seed %d, +%d: %s (λ = %g) %.2f", s+1, n, op, lambda, 100*meanNormalized(sc))
			}
			for mi, op := range []string{"task_arithmetic", "ties"} {
				sc, _, err := env.tuned(ctx, src, op, "lambda", []float64{0.3}, nil)
				if err != nil {
					return err
				}
				table[methods[4+mi]][n] = append(table[methods[4+mi]][n], 100*meanNormalized(sc))
			}
			sc, _, err = env.runAdaMerging(ctx, tv, gradient.LayoutTensor, cf.steps, rng.Derive(seed, "adamerging", fmt.Sprint(n)))
			if err != nil {
				return err
			}
			table[methods[3]][n] = append(table[methods[3]][n], 100*meanNormalized(sc))
			env.logf("seed %d, +%d: layer-wise AdaMerging %.2f", s+1, n, 100*meanNormalized(sc))
		}
	}
	cmd := "evomerge claims fw-scaling" + cf.commandSuffix()
	if *addedFlag != "0,4,8,16" {
		cmd += " --added " + *addedFlag
	}
	if *proxy != 200 {
		cmd += fmt.Sprintf(" --proxy %d", *proxy)
	}
	if *iters != 10 {
		cmd += fmt.Sprintf(" --iterations %d", *iters)
	}
	if *eta != 1 {
		cmd += fmt.Sprintf(" --eta %g", *eta)
	}
	var w bytes.Buffer
	fmt.Fprintf(&w, "## FW-Merging scaling on %s (version %s)\n\n", b.Name, b.Version)
	fmt.Fprintf(&w, "Produced by `%s` (%s on this machine, recipe %q, seeds: %d). ", cmd, time.Since(start).Round(time.Second), b.Manifest.Recipe.Name, cf.seeds)
	fmt.Fprintf(&w, "The pool holds the %d relevant experts plus N irrelevant models, alternately an expert fine-tuned from the base on another task (digits under a pixel permutation no target task uses, %d training images, 2 epochs) and a copy of an expert perturbed by Gaussian noise with its task vector's standard deviation per tensor; each seed draws new ones. ", len(relevant), trainExamples)
	fmt.Fprintf(&w, "FW-Merging: hard, layer-wise LMO (cosine of each vertex's direction with the gradient; the base is the null vertex), task-arithmetic update, %d iterations, η = %g, starts at the base, labelled proxy set of the first %d validation examples per task (cross-entropy); pool members are streamed from disk. ", *iters, *eta, *proxy)
	fmt.Fprintf(&w, "Task arithmetic and TIES merge the whole pool with λ chosen on validation; layer-wise AdaMerging (%d steps) merges the whole pool and reads the unlabelled test inputs (test-time adaptation). ", cf.steps)
	w.WriteString("Cells: test-split mean normalized accuracy (%), mean ± sd over seeds.\n\n")
	w.WriteString("| method |")
	for _, n := range added {
		fmt.Fprintf(&w, " +%d |", n)
	}
	w.WriteString("\n|---|" + strings.Repeat("---:|", len(added)) + "\n")
	for _, m := range methods {
		fmt.Fprintf(&w, "| %s |", m)
		for _, n := range added {
			mean, sd := afMeanSD(table[m][n])
			fmt.Fprintf(&w, " %.1f ± %.1f |", mean, sd)
		}
		w.WriteString("\n")
	}
	w.WriteString("\n### The paper's claims, checked\n\n")
	ref, _ := afMeanSD(table[methods[0]][added[0]])
	for _, n := range added[1:] {
		fwm, _ := afMeanSD(table[methods[0]][n])
		ok := fwm >= ref-2
		mark := "holds"
		if !ok {
			mark = "**does not hold**"
		}
		fmt.Fprintf(&w, "- FW with +%d irrelevant models within 2 points of FW on the relevant experts only: %s (%.1f vs %.1f)\n", n, mark, fwm, ref)
	}
	last := added[len(added)-1]
	for _, m := range methods[1:] {
		a, _ := afMeanSD(table[m][added[0]])
		z, _ := afMeanSD(table[m][last])
		mark := "degrades"
		if z >= a {
			mark = "**does not degrade**"
		}
		fmt.Fprintf(&w, "- %s over the whole pool %s from +%d to +%d (%.1f → %.1f)\n", m, mark, added[0], last, a, z)
	}
	if len(kinds) > 0 {
		w.WriteString("\nIrrelevant models in pool order (seed 1): " + strings.Join(kinds, ", ") + ".\n")
	}
	w.WriteString("\n### FW selection per iteration (seed 1)\n\n")
	fmt.Fprintf(&w, "Per iteration t, the number of the %d mergeable tensors whose step went to a relevant expert (R), an expert of another task (O), a noisy copy of an expert (N), the base (B), or that stayed (S).\n\n", len(env.base))
	for _, s := range selection {
		w.WriteString(s)
	}
	return cf.emit(stdout, "fw", w.String())
}

// afDescribeSelection summarises which vertices FW chose, per iteration:
// tensors that went to relevant experts (R), experts of other tasks (O),
// noisy copies of the experts (N), the base (B) or stayed (S).
func afDescribeSelection(added, relevant int, kinds []string, res *fw.Result) string {
	var w strings.Builder
	fmt.Fprintf(&w, "- +%d: ", added)
	var other, noisy int
	for _, it := range res.Iterations {
		var r, o, n, base, stay int
		for _, v := range it.Vertex {
			switch {
			case v == search.VertexBase:
				base++
			case v == search.VertexStay:
				stay++
			case v < relevant:
				r++
			case strings.HasPrefix(kinds[v-relevant], "other-task"):
				o++
			default:
				n++
			}
		}
		other, noisy = other+o, noisy+n
		fmt.Fprintf(&w, "t%d R%d O%d N%d B%d S%d; ", it.T, r, o, n, base, stay)
	}
	fmt.Fprintf(&w, "in total %d tensor steps went to experts of other tasks and %d to noisy copies\n", other, noisy)
	return w.String()
}
