package lab

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/operators"
)

// OperatorsOptions configure [BenchOperators].
type OperatorsOptions struct {
	// Output receives the markdown table, or with ResultsFile the line
	// saying where it was written; Log receives progress. Nil discards.
	Output, Log io.Writer
	// ResultsFile, when set, is the markdown file whose operators section
	// (between OperatorsBegin and OperatorsEnd) receives the table.
	ResultsFile string
	// Command is the command line recorded with the table.
	Command string
	// StatsExamples is the number of training images per task for Fisher
	// and RegMean statistics (at least 1).
	StatsExamples int
	// Smoke uses mnist-tasks' tiny smoke recipe (a pipeline check; the
	// figures are not meaningful).
	Smoke bool
	// CacheDir and MNISTDir locate the benchmark cache and MNIST
	// (internal/benchmarks' defaults when empty).
	CacheDir, MNISTDir string
}

// BenchOperators merges the mnist-tasks experts with every merge operator
// that takes their number of models, once with the operator's defaults and
// once with its main coefficient chosen on validation, scores every merge
// on the test split and writes the markdown table.
func BenchOperators(ctx context.Context, o OperatorsOptions) error {
	if o.StatsExamples < 1 {
		return fmt.Errorf("lab: bench operators: StatsExamples %d: give a positive count", o.StatsExamples)
	}
	stdout, stderr := orDiscard(o.Output), orDiscard(o.Log)
	b, err := prepare(ctx, benchmarks.MNISTTasksName, o.CacheDir, o.MNISTDir, o.Smoke, stderr)
	if err != nil {
		return err
	}
	res, err := runOperatorsBench(ctx, b, opsBenchOptions{benchmark: benchmarks.MNISTTasksName, statsExamples: o.StatsExamples, command: o.Command, log: stderr})
	if err != nil {
		return err
	}
	md := res.markdown()
	if o.ResultsFile == "" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := writeResultsSection(o.ResultsFile, md); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the operators results to %s\n", o.ResultsFile)
	return nil
}

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
	scores  *benchmarks.Scores
	err     error
	seconds float64
}

// opsResult is the whole table.
type opsResult struct {
	bench    *benchmarks.Benchmark
	experts  *benchmarks.Scores
	base     *benchmarks.Scores
	defaults []opsRow
	tuned    []opsRow
	elapsed  time.Duration
	stats    int
	command  string
}

// runOperatorsBench merges the benchmark's experts with every applicable
// operator and scores the merges.
func runOperatorsBench(ctx context.Context, b *benchmarks.Benchmark, opt opsBenchOptions) (*opsResult, error) {
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
	var experts []model.Network
	var expertTensors [][]checkpoint.Tensor
	var statsData []model.TaskData
	for _, m := range pool {
		expert, err := b.LoadMember(m.Name)
		if err != nil {
			return nil, err
		}
		experts = append(experts, expert)
		expertTensors = append(expertTensors, model.Tensors(expert))
		task, ok := b.Task(m.Task)
		if !ok {
			return nil, fmt.Errorf("benchmark %s: member %s has unknown task %q", b.Name, m.Name, m.Task)
		}
		d, err := b.DataRange(task.Name, data.Train, 0, opt.statsExamples)
		if err != nil {
			return nil, err
		}
		statsData = append(statsData, model.TaskData{Head: task.Head, X: d.X, Y: d.Y, N: d.Len()})
	}
	src, err := operators.NewMemSource(model.Tensors(baseModel), expertTensors...)
	if err != nil {
		return nil, err
	}
	logf("computing Fisher information and Gram matrices on %d training images per task", opt.statsExamples)
	stats, err := model.ComputeStats(ctx, experts, statsData, model.StatsOptions{Fisher: true, Gram: true})
	if err != nil {
		return nil, err
	}

	res := &opsResult{bench: b, stats: opt.statsExamples, command: opt.command}
	if res.base, err = b.Evaluate(ctx, baseModel, data.Test); err != nil {
		return nil, err
	}
	res.experts = expertScores(b)

	evaluate := func(op operators.Operator, s operators.Settings, split data.Split) (*benchmarks.Scores, error) {
		tensors, err := mergeInMemory(ctx, op, src, s, stats)
		if err != nil {
			return nil, err
		}
		merged, err := b.Config().FromTensors(tensors)
		if err != nil {
			return nil, err
		}
		return b.Evaluate(ctx, merged, split)
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
