package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/nn"
	"github.com/evomerge/evomerge/operators"
)

const benchOpsSynopsis = `bench operators [--out FILE] [--stats-examples N] [--smoke] [--cache-dir DIR] [--mnist-dir DIR]

Merges the mnist-tasks experts with every merge method that takes their
number of models, once with the method's defaults and once with its main
coefficient (λ for task-vector methods, α for regmean, β for LiNeS) chosen
on the validation split from a small grid, scores every merge on the test
split, and prints a markdown table of per-task and mean normalized accuracy
(merged accuracy / expert accuracy) with absolute accuracies. --out writes
the table into the operators section of a markdown file (between
<!-- operators-results:begin --> and <!-- operators-results:end -->,
appended when absent), atomically. Fisher and RegMean statistics are
computed on the first --stats-examples training images of each expert's
task.`

// opsBenchOptions configure runOperatorsBench.
type opsBenchOptions struct {
	benchmark     string
	statsExamples int
	command       string // the command line recorded with the results
	log           io.Writer
}

// coefficientGrid is a method's main coefficient and the values tried on
// validation. Methods without one are run with their defaults only.
type coefficientGrid struct {
	param  string
	values []float64
}

var lambdaGrid = []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.2, 1.5}

// mainCoefficient picks the coefficient tuned for an operator.
func mainCoefficient(op operators.Operator) (coefficientGrid, bool) {
	has := func(name string) bool {
		return slices.ContainsFunc(op.Params(), func(p operators.ParamSpec) bool { return p.Name == name })
	}
	switch {
	case has("lambda"):
		return coefficientGrid{"lambda", lambdaGrid}, true
	case op.Name() == "regmean":
		return coefficientGrid{"alpha", []float64{0.1, 0.3, 0.5, 0.7, 0.9, 0.95}}, true
	case strings.HasPrefix(op.Name(), "lines") && has("beta"):
		return coefficientGrid{"beta", []float64{0, 0.25, 0.5, 0.75, 1.0, 1.5}}, true
	}
	return coefficientGrid{}, false
}

// opsRow is one method's result.
type opsRow struct {
	method  string
	setting string // "defaults" or "lambda = 0.4"
	scores  *data.Scores
	err     error
	seconds float64
}

// opsResult is the whole table.
type opsResult struct {
	bench    *data.Benchmark
	experts  *data.Scores
	base     *data.Scores
	defaults []opsRow
	tuned    []opsRow
	elapsed  time.Duration
	stats    int
	command  string
}

// runOperatorsBenchmark is `evomerge bench operators`.
func runOperatorsBenchmark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench operators", benchOpsSynopsis, stderr)
	var df benchDataFlags
	df.register(fs)
	out := fs.String("out", "", "markdown file whose operators section receives the table (default: print it)")
	statsExamples := fs.Int("stats-examples", 256, "training images per task for Fisher and RegMean statistics")
	smoke := fs.Bool("smoke", false, "use the benchmark's tiny smoke recipe (pipeline check; results are not meaningful)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("bench operators takes no positional arguments, got %q", pos)
	}
	if *statsExamples < 1 {
		return usagef("--stats-examples %d: give a positive count", *statsExamples)
	}
	opt := data.Options{CacheDir: df.cacheDir, MNISTDir: df.mnistDir, Log: stderr}
	if *smoke {
		r, err := data.SmokeRecipe(data.MNISTTasksName)
		if err != nil {
			return err
		}
		opt.Recipe = &r
	}
	b, err := data.Prepare(ctx, data.MNISTTasksName, opt)
	if err != nil {
		return err
	}
	cmdLine := "evomerge bench operators"
	if *out != "" {
		cmdLine += " --out " + *out
	}
	if *statsExamples != 256 {
		cmdLine += fmt.Sprintf(" --stats-examples %d", *statsExamples)
	}
	if *smoke {
		cmdLine += " --smoke"
	}
	res, err := runOperatorsBench(ctx, b, opsBenchOptions{benchmark: data.MNISTTasksName, statsExamples: *statsExamples, command: cmdLine, log: stderr})
	if err != nil {
		return err
	}
	md := res.markdown()
	if *out == "" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := writeResultsSection(*out, md); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the operators results to %s\n", *out)
	return nil
}

// runOperatorsBench merges the benchmark's experts with every applicable
// operator and scores the merges.
func runOperatorsBench(ctx context.Context, b *data.Benchmark, opt opsBenchOptions) (*opsResult, error) {
	start := time.Now()
	logf := func(format string, args ...any) {
		if opt.log != nil {
			fmt.Fprintf(opt.log, format+"\n", args...)
		}
	}
	baseMember, ok := b.Base()
	if !ok {
		return nil, fmt.Errorf("benchmark %s has no base model; the operators benchmark needs one", b.Name)
	}
	baseModel, err := b.LoadMember(baseMember.Name)
	if err != nil {
		return nil, err
	}
	pool := b.Pool()
	var experts []*nn.Model
	var expertTensors [][]checkpoint.Tensor
	var statsData []nn.TaskData
	for _, m := range pool {
		model, err := b.LoadMember(m.Name)
		if err != nil {
			return nil, err
		}
		experts = append(experts, model)
		expertTensors = append(expertTensors, model.Tensors())
		task, ok := b.Task(m.Task)
		if !ok {
			return nil, fmt.Errorf("benchmark %s: member %s has unknown task %q", b.Name, m.Name, m.Task)
		}
		d, err := b.DataRange(task.Name, data.Train, 0, opt.statsExamples)
		if err != nil {
			return nil, err
		}
		statsData = append(statsData, nn.TaskData{Head: task.Head, X: d.X, Y: d.Y, N: d.Len()})
	}
	src, err := operators.NewMemSource(baseModel.Tensors(), expertTensors...)
	if err != nil {
		return nil, err
	}
	logf("computing Fisher information and Gram matrices on %d training images per task", opt.statsExamples)
	stats, err := nn.ComputeStats(ctx, experts, statsData, nn.StatsOptions{Fisher: true, Gram: true})
	if err != nil {
		return nil, err
	}

	res := &opsResult{bench: b, stats: opt.statsExamples, command: opt.command}
	if res.base, err = b.Evaluate(ctx, baseModel, data.Test); err != nil {
		return nil, err
	}
	res.experts = expertScores(b)

	evaluate := func(op operators.Operator, s operators.Settings, split data.Split) (*data.Scores, error) {
		tensors, err := mergeInMemory(ctx, op, src, s, stats)
		if err != nil {
			return nil, err
		}
		model, err := nn.FromTensors(b.Spec(), tensors)
		if err != nil {
			return nil, err
		}
		return b.Evaluate(ctx, model, split)
	}
	reg := operators.Builtin()
	names := reg.Names()
	// LiNeS over TIES as well as over task arithmetic ("lines").
	names = append(names, "lines+ties")
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		op, err := reg.Get(name)
		if err != nil {
			return nil, err
		}
		req := op.Requirements()
		if n := len(pool); n < req.MinModels || (req.MaxModels > 0 && n > req.MaxModels) {
			logf("%s: skipped (takes %d-%d models, the benchmark has %d)", name, req.MinModels, req.MaxModels, n)
			continue
		}
		t0 := time.Now()
		row := opsRow{method: name, setting: "defaults"}
		row.scores, row.err = evaluate(op, operators.Settings{}, data.Test)
		row.seconds = time.Since(t0).Seconds()
		res.defaults = append(res.defaults, row)
		logf("%s defaults: %s", name, describeScores(row.scores, row.err))

		grid, ok := mainCoefficient(op)
		if !ok {
			continue
		}
		t0 = time.Now()
		best, bestVal := math.Inf(-1), math.NaN()
		var lastErr error
		for _, v := range grid.values {
			s := operators.Settings{Default: operators.Values{Global: map[string]operators.Value{grid.param: operators.F(v)}}}
			sc, err := evaluate(op, s, data.Validation)
			if err != nil {
				lastErr = err
				logf("%s %s = %g: %v", name, grid.param, v, err)
				continue
			}
			if m := meanNormalized(sc); m > best {
				best, bestVal = m, v
			}
		}
		tuned := opsRow{method: name}
		if math.IsNaN(bestVal) {
			tuned.setting = grid.param + " grid"
			tuned.err = lastErr
		} else {
			tuned.setting = fmt.Sprintf("%s = %g (validation %.4f)", grid.param, bestVal, best)
			s := operators.Settings{Default: operators.Values{Global: map[string]operators.Value{grid.param: operators.F(bestVal)}}}
			tuned.scores, tuned.err = evaluate(op, s, data.Test)
		}
		tuned.seconds = time.Since(t0).Seconds()
		res.tuned = append(res.tuned, tuned)
		logf("%s tuned %s: %s", name, tuned.setting, describeScores(tuned.scores, tuned.err))
	}
	res.elapsed = time.Since(start)
	return res, nil
}

// mergeInMemory merges src with op and returns the merged tensors.
func mergeInMemory(ctx context.Context, op operators.Operator, src operators.Source, s operators.Settings, stats operators.StatsSource) ([]checkpoint.Tensor, error) {
	plan, err := operators.NewPlan(op, src, s, operators.PlanOptions{Stats: stats})
	if err != nil {
		return nil, err
	}
	var out []checkpoint.Tensor
	err = operators.MergeAll(ctx, plan, src,
		func(m operators.TensorMeta) []float32 { return make([]float32, m.NumElements()) },
		func(m operators.TensorMeta, dst []float32) error {
			out = append(out, checkpoint.Tensor{Name: m.Name, Shape: m.Shape, Data: dst})
			return nil
		})
	return out, err
}

// expertScores is each task's expert on its own task (test split), from the
// benchmark manifest.
func expertScores(b *data.Benchmark) *data.Scores {
	s := &data.Scores{Benchmark: b.Name, Version: b.Version, Split: data.Test}
	for _, t := range b.Tasks {
		ts := data.TaskScore{Task: t.Name}
		if e, ok := b.Expert(t.Name); ok {
			ts.Accuracy = b.Manifest.Accuracy[data.Test][e.Name][t.Name]
			one := 1.0
			ts.Normalized = &one
		}
		s.Tasks = append(s.Tasks, ts)
		s.MeanAccuracy += ts.Accuracy / float64(len(b.Tasks))
	}
	one := 1.0
	s.MeanNormalized = &one
	return s
}

func meanNormalized(s *data.Scores) float64 {
	if s == nil || s.MeanNormalized == nil {
		return math.NaN()
	}
	return *s.MeanNormalized
}

func describeScores(s *data.Scores, err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return fmt.Sprintf("test mean normalized %.4f, mean accuracy %.4f", meanNormalized(s), s.MeanAccuracy)
}

// markdown renders the results section.
func (r *opsResult) markdown() string {
	var w bytes.Buffer
	tasks := r.bench.TaskNames()
	fmt.Fprintf(&w, "## Merge operators on %s (version %s)\n\n", r.bench.Name, r.bench.Version)
	fmt.Fprintf(&w, "Produced by `%s` (%s, recipe %q). ", r.command, r.elapsed.Round(time.Second), r.bench.Manifest.Recipe.Name)
	fmt.Fprintf(&w, "Every merge combines the %d experts' backbones; each task keeps its expert's head (heads are never merged). ", len(r.bench.Pool()))
	fmt.Fprintf(&w, "Cells are test-split normalized accuracy (merged accuracy / the task's expert accuracy) with the absolute accuracy in parentheses, in percent. ")
	fmt.Fprintf(&w, "\"Tuned\" picks the method's main coefficient on the validation split (mean normalized accuracy) from the grid shown in `cmd/evomerge/benchops.go`; test data is used only for the scores below. ")
	fmt.Fprintf(&w, "Fisher and RegMean statistics come from the first %d training images of each expert's task (empirical Fisher, per-example squared gradients).\n\n", r.stats)

	header := "| method | setting | " + strings.Join(tasks, " | ") + " | mean normalized | Δ vs averaging |\n"
	sep := "|---|---|" + strings.Repeat("---:|", len(tasks)) + "---:|---:|\n"
	avg := r.averaging()
	row := func(method, setting string, s *data.Scores, err error) {
		if err != nil {
			fmt.Fprintf(&w, "| %s | %s | failed: %s |\n", method, setting, strings.ReplaceAll(oneLine(err.Error()), "|", "/"))
			return
		}
		fmt.Fprintf(&w, "| %s | %s |", method, setting)
		for _, t := range s.Tasks {
			norm := "-"
			if t.Normalized != nil {
				norm = fmt.Sprintf("%.1f", 100**t.Normalized)
			}
			fmt.Fprintf(&w, " %s (%.1f) |", norm, 100*t.Accuracy)
		}
		delta := "-"
		if !math.IsNaN(avg) {
			delta = fmt.Sprintf("%+.1f", 100*(meanNormalized(s)-avg))
		}
		fmt.Fprintf(&w, " %.1f | %s |\n", 100*meanNormalized(s), delta)
	}
	w.WriteString("### Reference points\n\n")
	w.WriteString(header)
	w.WriteString(sep)
	row("experts", "each task's own expert", r.experts, nil)
	row("base", "pretrained base, expert heads", r.base, nil)
	w.WriteString("\n### Defaults\n\n")
	w.WriteString(header)
	w.WriteString(sep)
	for _, x := range r.defaults {
		row(x.method, x.setting, x.scores, x.err)
	}
	w.WriteString("\n### Main coefficient tuned on validation\n\n")
	w.WriteString(header)
	w.WriteString(sep)
	for _, x := range r.tuned {
		row(x.method, x.setting, x.scores, x.err)
	}
	w.WriteString("\n### Against plain averaging\n\n")
	if math.IsNaN(avg) {
		w.WriteString("Plain averaging (linear at its defaults) did not produce a score.\n")
		return w.String()
	}
	fmt.Fprintf(&w, "Plain averaging (`linear`, uniform weights) reaches %.1f%% mean normalized accuracy. ", 100*avg)
	type best struct {
		method, setting string
		score           float64
	}
	// Each method counts with the setting chosen on validation: the tuned
	// coefficient when it has one, else its defaults (never the better of
	// the two on test, which would select on test data).
	bestOf := map[string]best{}
	for _, x := range r.defaults {
		if x.err == nil && x.method != "linear" {
			bestOf[x.method] = best{x.method, x.setting, meanNormalized(x.scores)}
		}
	}
	for _, x := range r.tuned {
		if x.err == nil {
			bestOf[x.method] = best{x.method, strings.SplitN(x.setting, " (", 2)[0], meanNormalized(x.scores)}
		}
	}
	var winners, losers []best
	for _, b := range bestOf {
		if b.score > avg {
			winners = append(winners, b)
		} else {
			losers = append(losers, b)
		}
	}
	byScore := func(a, b best) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.method, b.method)
	}
	slices.SortFunc(winners, byScore)
	slices.SortFunc(losers, byScore)
	if len(winners) == 0 {
		w.WriteString("No other operator beats it on this benchmark.\n")
	} else {
		fmt.Fprintf(&w, "Operators that beat it (each with its coefficient chosen on validation, or its defaults when it has none; test split):\n\n")
		for _, b := range winners {
			fmt.Fprintf(&w, "- `%s` (%s): %.1f%%, +%.1f points\n", b.method, b.setting, 100*b.score, 100*(b.score-avg))
		}
	}
	if len(losers) > 0 {
		w.WriteString("\nNot better than averaging: ")
		parts := make([]string, len(losers))
		for i, b := range losers {
			parts[i] = fmt.Sprintf("`%s` (%.1f%%, %+.1f)", b.method, 100*b.score, 100*(b.score-avg))
		}
		w.WriteString(strings.Join(parts, ", ") + ".\n")
	}
	return w.String()
}

// averaging is the mean normalized accuracy of plain averaging (linear at
// its defaults), NaN when it did not run.
func (r *opsResult) averaging() float64 {
	for _, x := range r.defaults {
		if x.method == "linear" && x.err == nil {
			return meanNormalized(x.scores)
		}
	}
	return math.NaN()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// Markers delimiting the operators section of a results file.
const (
	opsResultsBegin = "<!-- operators-results:begin -->"
	opsResultsEnd   = "<!-- operators-results:end -->"
)

// writeResultsSection replaces the operators section of the markdown file
// at path (or appends it, or creates the file), atomically.
func writeResultsSection(path, section string) error {
	return editResults(path, func(text string) (string, error) {
		return setMarked(text, opsResultsBegin, opsResultsEnd, "", section)
	})
}
