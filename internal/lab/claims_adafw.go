package lab

// What the adamerging and fw-scaling claims share: the mnist-tasks base,
// experts and data loaded once, scoring of merged backbones with every
// task's head, λ chosen on validation, AdaMerging and CMA-ES runs, and the
// AdaMerging/FW section of the results file.

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/evaluate/gradient"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/cmaes"
)

// AdaFWBegin and AdaFWEnd delimit the AdaMerging/FW section of a results
// file; each claim's block inside it has markers of its own (afSubMarkers).
const (
	AdaFWBegin = "<!-- adamerging-fw:start -->"
	AdaFWEnd   = "<!-- adamerging-fw:end -->"
)

func afSubMarkers(key string) (string, string) {
	return "<!-- adamerging-fw:" + key + ":start -->", "<!-- adamerging-fw:" + key + ":end -->"
}

func checkAdaMerging(o ClaimOptions) error {
	if err := checkAdaFW(o); err != nil {
		return err
	}
	if o.EvoEvaluations < 1 {
		return fmt.Errorf("EvoEvaluations %d: give a positive count", o.EvoEvaluations)
	}
	return nil
}

func checkFWScaling(o ClaimOptions) error {
	if err := checkAdaFW(o); err != nil {
		return err
	}
	if len(o.Added) == 0 || slices.Min(o.Added) < 0 {
		return fmt.Errorf("Added %v: give one or more non-negative counts", o.Added)
	}
	if o.Proxy < 1 || o.Iterations < 1 || !(o.Eta > 0) {
		return fmt.Errorf("Proxy %d, Iterations %d and Eta %g must be positive", o.Proxy, o.Iterations, o.Eta)
	}
	return nil
}

// checkAdaFW checks the options both claims share.
func checkAdaFW(o ClaimOptions) error {
	if o.Seeds < 1 {
		return fmt.Errorf("Seeds %d: give a positive count", o.Seeds)
	}
	if o.Steps < 1 {
		return fmt.Errorf("Steps %d: give a positive count", o.Steps)
	}
	return nil
}

// afClaimEnv is what both claims load once: the benchmark, its base and
// experts (backbones only, heads stay with the task), the working model
// with every task's head, and the per-task data.
type afClaimEnv struct {
	b          *benchmarks.Benchmark
	base       []checkpoint.Tensor // backbone tensors of θ0
	experts    []model.Network
	expertBone [][]checkpoint.Tensor
	names      []string // expert member names, task order
	work       model.Network
	// tasks hold every task's test examples (unlabelled use only:
	// AdaMerging reads their inputs) and validation examples (labelled:
	// selection, proxy).
	tasks []tasks.Task
	logf  func(string, ...any)
}

func afBackbone(ts []checkpoint.Tensor) []checkpoint.Tensor {
	var out []checkpoint.Tensor
	for _, t := range ts {
		if !benchmarks.IsHeadTensor(t.Name) {
			out = append(out, t)
		}
	}
	return out
}

func afLoadClaimEnv(ctx context.Context, b *benchmarks.Benchmark, stderr io.Writer) (*afClaimEnv, error) {
	env := &afClaimEnv{b: b, logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}
	bm, ok := b.Base()
	if !ok {
		return nil, fmt.Errorf("benchmark %s has no base model; AdaMerging and FW need one", b.Name)
	}
	baseModel, err := b.LoadMember(bm.Name)
	if err != nil {
		return nil, err
	}
	env.base = afBackbone(model.Tensors(baseModel))
	for _, t := range b.Tasks {
		m, ok := b.Expert(t.Name)
		if !ok {
			return nil, fmt.Errorf("benchmark %s has no expert for task %s", b.Name, t.Name)
		}
		expert, err := b.LoadMember(m.Name)
		if err != nil {
			return nil, err
		}
		env.experts = append(env.experts, expert)
		env.expertBone = append(env.expertBone, afBackbone(model.Tensors(expert)))
		env.names = append(env.names, t.Name)
		task := t
		task.Splits = map[data.Split]*data.Dataset{}
		for _, split := range []data.Split{data.Test, data.Validation} {
			d, err := b.Data(t.Name, split)
			if err != nil {
				return nil, err
			}
			task.Splits[split] = d
		}
		env.tasks = append(env.tasks, task)
	}
	if env.work, err = env.withHeads(env.base); err != nil {
		return nil, err
	}
	return env, nil
}

// withHeads builds a model from backbone tensors and every expert's head.
func (e *afClaimEnv) withHeads(bone []checkpoint.Tensor) (model.Network, error) {
	ts := slices.Clone(bone)
	for _, m := range e.experts {
		for _, t := range model.Tensors(m) {
			if benchmarks.IsHeadTensor(t.Name) {
				ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: slices.Clone(t.Data)})
			}
		}
	}
	return e.b.Config().FromTensors(ts)
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
func (e *afClaimEnv) scoreTensors(ctx context.Context, names []string, tensors [][]float32, split data.Split) (*benchmarks.Scores, error) {
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
func (e *afClaimEnv) scoreOperator(ctx context.Context, src operators.Source, op operators.Operator, s operators.Settings, stats operators.StatsSource, split data.Split) (*benchmarks.Scores, error) {
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
func (e *afClaimEnv) tunedOperator(ctx context.Context, src operators.Source, name string) (*benchmarks.Scores, float64, error) {
	return e.tuned(ctx, src, name, "lambda", lambdaGrid, nil)
}

// tuned picks one parameter of an operator on validation from a grid and
// scores the choice on test.
func (e *afClaimEnv) tuned(ctx context.Context, src operators.Source, name, param string, grid []float64, stats operators.StatsSource) (*benchmarks.Scores, float64, error) {
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
func (e *afClaimEnv) runAdaMerging(ctx context.Context, tv *gradient.TaskVectors, layout string, steps int, seed uint64) (*benchmarks.Scores, *adamerging.Result, error) {
	lay, err := gradient.NewLayout(layout, tv, checkpoint.LayerGroup)
	if err != nil {
		return nil, nil, err
	}
	ev, err := gradient.NewAdaMerging(e.work, tv, lay, e.tasks, gradient.AdaMergingOptions{Seed: seed, Split: data.Test})
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
	ev, err := gradient.NewAdaMerging(e.work, tv, lay, e.tasks, gradient.AdaMergingOptions{Full: true, Split: data.Test})
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
	scores          []*benchmarks.Scores
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
	b   *benchmarks.Benchmark
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
func (e *afClaimEnv) runCMAES(ctx context.Context, tv *gradient.TaskVectors, evals int, seed uint64, init []float64) (*benchmarks.Scores, error) {
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

// afEmit prints a claim's table or, with ResultsFile, writes it into the
// file's AdaMerging/FW section and says so.
func afEmit(o ClaimOptions, key, md string) error {
	if o.ResultsFile == "" {
		_, err := io.WriteString(o.Output, md)
		return err
	}
	if err := writeAdaFWSection(o.ResultsFile, key, md); err != nil {
		return err
	}
	fmt.Fprintf(o.Output, "wrote the %s results to %s\n", key, o.ResultsFile)
	return nil
}

// writeAdaFWSection replaces (or appends) the block of one claim inside
// the AdaMerging/FW section of a markdown file, atomically.
func writeAdaFWSection(path, key, block string) error {
	return editResults(path, func(text string) (string, error) {
		inner, _, err := markedContent(text, AdaFWBegin, AdaFWEnd)
		if err != nil {
			return "", err
		}
		sb, se := afSubMarkers(key)
		if inner, err = setMarked(inner, sb, se, "", block); err != nil {
			return "", err
		}
		return setMarked(text, AdaFWBegin, AdaFWEnd, "", inner)
	})
}
