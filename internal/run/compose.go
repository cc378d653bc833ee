package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/evaluate/lineage"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/reports"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/m2n2"
	"github.com/evomerge/evomerge/search/mapmerge"
)

// components are everything a run is built from, derived from the
// experiment alone (and the benchmark cache), so a resumed run rebuilds the
// same ones.
type components struct {
	exp        *configs.Experiment
	bench      *benchmarks.Benchmark // nil for pools without a benchmark
	pool       *evaluate.Pool
	op         operators.Operator
	space      *population.Space
	mapping    *searchspace.Mapping
	objectives []fitness.Objective
	directions []fitness.Direction
	tasks      []tasks.Task
	// eval scores candidates; native is set when it scores natively (it
	// also scores the front on test).
	eval   evaluator
	native *evaluate.Native
	// sessions starts the service each session scores through (the NATS
	// coordinator); nil when eval scores by itself.
	sessions evaluate.SessionStarter
	method   search.Method
	// views are the algorithm views of the report (views.json); note is a
	// line every output carries (AdaMerging's test-time adaptation).
	views reports.Views
	note  string
	// mapMethod and archive give the MAP and M2N2 views their data.
	mapMethod *mapmerge.Method
	archive   *archiveRecorder
	// lineage is M2N2's evaluator (eval wraps it).
	lineage *lineage.Evaluator
	// poolFiles are the checkpoint files of the pool's models, in order.
	poolFiles []string
	// gradients is the gradient evaluator of a method that needs loss
	// gradients (search.Problem.Gradients); methodState is a state to
	// restore the method from when state.json has none (an older run
	// directory's result file).
	gradients   search.GradientEvaluator
	alignment   search.AlignmentEvaluator
	recipes     search.RecipeEvaluator
	methodState []byte
	// fwRecord is what FW-Merging found (for fw.json and its view), once
	// it has asked its merge, and fwScale its step scale λ.
	fwRecord *rundir.FWRecord
	fwScale  float64
	// adaMethod is AdaMerging's method (for adamerging.json and its view)
	// and adaInputs the split it adapts on.
	adaMethod *adamerging.Method
	adaInputs string
	// scal is the scalarisation a single-objective method (ga, cmaes)
	// minimises; nil for the others.
	scal *search.Scalarization
	// out and logger are told of the method's own progress (nil: not
	// told).
	out    io.Writer
	logger *slog.Logger
}

// progress tells the terminal and the run log of a method's long work of
// its own (search.Env.Progress).
func (c *components) progress(msg string, attrs ...any) {
	if c.out != nil {
		fmt.Fprintln(c.out, msg)
	}
	if c.logger != nil {
		c.logger.Info(msg, attrs...)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// evaluator is what a run needs of an evaluator: scoring, the identity its
// results are cached under, and the merger that exports candidates.
type evaluator interface {
	search.Evaluator
	EvalSpec() string
	Version() string
	Merger() *evaluate.Merger
}

// composeOptions tune how components are built.
type composeOptions struct {
	// Log receives benchmark preparation progress.
	Log io.Writer
	// Workers overrides search.concurrency (0: keep it).
	Workers int
	// WithMethod builds the search method (not needed by export or status).
	WithMethod bool
	// Dir is the run directory and Resuming says a session ran before
	// (M2N2's storage depends on both).
	Dir      string
	Resuming bool
	// Logger is the run log, told of a method's own progress with Log.
	Logger *slog.Logger
}

// compose builds the components of an experiment. Errors about the
// configuration are configs.Problems naming key and line.
func compose(ctx context.Context, exp *configs.Experiment, opt composeOptions) (*components, error) {
	c := &components{exp: exp, out: opt.Log, logger: opt.Logger}
	// An operator that reads statistics needs an evaluator that computes
	// them: refused before the benchmark is prepared.
	if err := statisticsKindProblem(exp); err != nil {
		return nil, err
	}
	// Model pool and task data.
	m := exp.Models
	if m.Benchmark != "" {
		var recipe *benchmarks.Recipe
		if m.Recipe == configs.RecipeSmoke {
			r, err := benchmarks.SmokeRecipe(m.Benchmark)
			if err != nil {
				return nil, configs.Problems{exp.Problem("models.benchmark", err.Error())}
			}
			recipe = &r
		}
		if _, err := benchmarks.DefaultRecipe(m.Benchmark); err != nil {
			return nil, configs.Problems{exp.Problem("models.benchmark", err.Error())}
		}
		b, err := benchmarks.Prepare(ctx, m.Benchmark, benchmarks.Options{CacheDir: m.CacheDir, Recipe: recipe, Log: opt.Log})
		if err != nil {
			return nil, fmt.Errorf("preparing benchmark %s: %w", m.Benchmark, err)
		}
		c.bench = b
	}
	settings, err := registry.Settings(exp)
	if err != nil {
		return nil, err
	}
	if slices.Contains(settings.Traits().Needs, search.NeedRecipes) {
		// A method that evolves whole models (M2N2) is scored by the
		// recipe (lineage) evaluator over seed models instead of merges of
		// a pool; its method is built through the registry like every one.
		if err := composeRecipes(ctx, exp, settings, c, opt); err != nil {
			return nil, err
		}
		if opt.WithMethod {
			if c.method, err = c.buildMethod(); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	derived := settings.Traits().Derived
	var files *evaluate.PoolFiles
	// poolTasks are the pool models' tasks, for statistics.
	var poolTasks []poolTask
	if len(m.Experts) > 0 {
		f := evaluate.PoolFiles{Base: m.Base}
		if derived != nil && derived.WithBenchmarkPool && c.bench != nil && m.Base == "" {
			poolTasks = c.benchmarkPoolTasks()
			// FW-Merging's pool: the checkpoints given join the
			// benchmark's base and experts (e.g. irrelevant or noisy ones).
			if base, ok := c.bench.Base(); ok {
				f.Base = base.Path
			}
			for _, bm := range c.bench.Pool() {
				f.Models = append(f.Models, bm.Path)
				f.Names = append(f.Names, cmpOr(bm.Task, bm.Name))
			}
		}
		for _, x := range m.Experts {
			f.Models = append(f.Models, x.Path)
			f.Names = append(f.Names, x.Name)
		}
		poolTasks = append(poolTasks, expertTasks(exp)...)
		if c.bench != nil {
			f.Benchmark, f.BenchmarkVersion = c.bench.Name, c.bench.Version
		}
		c.poolFiles = f.Models
		files = &f
		c.pool, err = evaluate.LoadPool(f)
	} else {
		c.pool, err = evaluate.BenchmarkPool(c.bench)
		poolTasks = c.benchmarkPoolTasks()
		for _, bm := range c.bench.Pool() {
			c.poolFiles = append(c.poolFiles, bm.Path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: models: %w", exp.File(), err)
	}

	// Operator and the searched space.
	op, err := operators.Builtin().Get(exp.Merge.Operator)
	if err != nil {
		return nil, configs.Problems{exp.Problem("merge.operator", err.Error())}
	}
	c.op = op
	if op.Requirements().Base == operators.BaseRequired && !c.pool.HasBase() {
		msg := fmt.Sprintf("missing: %s works on task vectors θi − θ0 and needs a base model; set models.base to the checkpoint the experts were fine-tuned from", op.Name())
		if m.Benchmark != "" && len(m.Experts) > 0 {
			msg += fmt.Sprintf(" (with [[models.experts]] the pool is models.base plus the experts listed; benchmark %s's own base and experts are not added, it gives the task data)", m.Benchmark)
		}
		return nil, configs.Problems{exp.Problem("models.base", msg)}
	}
	var spec searchspace.Spec
	if derived != nil {
		spec = derivedSpec(exp, c.pool, *derived)
	} else {
		spec, err = searchSpec(exp, op, c.pool)
	}
	if err != nil {
		return nil, err
	}
	c.space, c.mapping, err = searchspace.Derive(op.Params(), spec)
	if err != nil {
		return nil, configs.Problems{exp.Problem("merge.search", err.Error())}
	}
	if err := checkMemoryLimits(exp, modelBytes(c.pool.Source()), c.space.Len(), cmp.Or(opt.Workers, exp.Search.Concurrency)); err != nil {
		return nil, err
	}

	// Objectives and tasks.
	var taskNames []string
	if c.bench != nil {
		taskNames = c.bench.TaskNames()
	} else {
		for _, x := range m.Experts {
			if x.Task != "" && !slices.Contains(taskNames, x.Task) {
				taskNames = append(taskNames, x.Task)
			}
		}
	}
	if err := c.expandObjectives(taskNames); err != nil {
		return nil, err
	}
	// The task each model's statistics are computed on.
	var modelTasks []string
	if evaluate.NeedsStatistics(op) {
		if modelTasks, err = c.statisticsTasks(op, poolTasks, taskNames); err != nil {
			return nil, err
		}
	}
	workers := exp.Search.Concurrency
	if opt.Workers > 0 {
		workers = opt.Workers
	}
	mergeCfg := evaluate.MergeConfig{
		Pool: c.pool, Operator: op, Mapping: c.mapping, Seed: exp.Experiment.Seed,
		TaskTensors: exp.Merge.TaskTensors,
	}
	// The evaluator, through its kind's registry entry.
	built, err := registry.BuildEvaluator(ctx, exp, evaluate.Env{
		Merge: mergeCfg, Spec: spec, Files: files, Benchmark: c.bench, Smoke: m.Recipe == configs.RecipeSmoke,
		Objectives: c.objectives, Workers: workers, Log: opt.Log, ModelTasks: modelTasks,
	})
	if err != nil {
		var ps configs.Problems
		if errors.As(err, &ps) {
			return nil, ps
		}
		return nil, fmt.Errorf("%s: evaluator: %w", exp.File(), err)
	}
	c.eval, c.native, c.tasks, c.sessions = built.Evaluator, built.Native, built.Tasks, built.Sessions
	if opt.WithMethod {
		if c.method, err = c.buildMethod(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// searchSpec turns [merge] into a searchspace.Spec, checking the fixed
// values against the operator and the layer groups against the pool.
func searchSpec(exp *configs.Experiment, op operators.Operator, pool *evaluate.Pool) (searchspace.Spec, error) {
	var ps configs.Problems
	names := pool.ModelNames()
	recipe := &operators.Recipe{Method: op.Name(), Params: exp.Merge.Params, Groups: exp.Merge.Groups}
	for _, n := range names {
		recipe.Models = append(recipe.Models, operators.RecipeModel{Name: n})
	}
	fixed, err := recipe.Settings(op)
	if err != nil {
		es, ok := operators.AsRecipeErrors(err)
		if !ok {
			return searchspace.Spec{}, err
		}
		for _, e := range es {
			ps = append(ps, exp.Problem("merge."+e.Key, e.Err.Error()))
		}
	}
	groups := mergeableGroups(pool, exp.Merge.TaskTensors)
	spec := searchspace.Spec{Operator: op.Name(), Models: names, Fixed: fixed}
	for i, s := range exp.Merge.Search {
		t := searchspace.Target{Param: s.Param, PerModel: s.PerModel, Lower: s.Lower, Upper: s.Upper}
		switch {
		case s.PerGroup:
			t.Groups = slices.Clone(groups)
		case len(s.Groups) > 0:
			for j, g := range s.Groups {
				if !slices.Contains(groups, g) {
					ps = append(ps, exp.Problem(fmt.Sprintf("merge.search[%d].groups[%d]", i, j),
						fmt.Sprintf("the pool has no layer group %q of merged tensors; its groups are %s", g, strings.Join(groups, ", "))))
				}
			}
			t.Groups = slices.Clone(s.Groups)
		}
		spec.Targets = append(spec.Targets, t)
	}
	if len(ps) > 0 {
		return searchspace.Spec{}, ps
	}
	return spec, nil
}

// mergeableGroups lists the layer groups of the pool's merged (not
// per-task) tensors in canonical tensor order.
func mergeableGroups(pool *evaluate.Pool, taskPatterns []string) []string {
	tasks := operators.DefaultTaskTensors()
	if len(taskPatterns) > 0 {
		tasks = operators.TaskTensors{Patterns: taskPatterns}
	}
	var groups []string
	for _, t := range pool.Source().Tensors() {
		if tasks.Match(t.Name) {
			continue
		}
		if g := checkpoint.LayerGroup(t.Name); !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return groups
}

// expandObjectives resolves "all" into one objective per task and checks
// task names.
func (c *components) expandObjectives(tasks []string) error {
	var ps configs.Problems
	for i, o := range c.exp.Objectives {
		dir, err := fitness.ParseDirection(o.Direction)
		if err != nil {
			ps = append(ps, c.exp.Problem(fmt.Sprintf("objectives[%d].direction", i), err.Error()))
			continue
		}
		add := func(task string) {
			c.objectives = append(c.objectives, fitness.Objective{Name: task + "/" + o.Metric, Task: task, Metric: o.Metric, Direction: dir})
			c.directions = append(c.directions, dir)
		}
		switch {
		case o.Task == configs.TaskAll:
			for _, t := range tasks {
				add(t)
			}
		case o.Task == configs.TaskMean:
			add(evaluate.MeanTask)
		case slices.Contains(tasks, o.Task):
			add(o.Task)
		default:
			ps = append(ps, c.exp.Problem(fmt.Sprintf("objectives[%d].task", i),
				unknownTask(o.Task, tasks)))
		}
	}
	if len(ps) == 0 {
		if err := fitness.ValidateObjectives(c.objectives); err != nil {
			ps = append(ps, c.exp.Problem("objectives", err.Error()))
		}
	}
	return ps.Err()
}

// buildMethod makes the configured search method through its registry
// entry.
func (c *components) buildMethod() (search.Method, error) {
	name := c.exp.Search.Algorithm
	alg, ok := registry.Algorithm(name)
	if !ok {
		return nil, configs.Problems{c.exp.Problem("search.algorithm", fmt.Sprintf("unknown algorithm %q: choose one of %s", name, strings.Join(registry.AlgorithmNames(), ", ")))}
	}
	settings, err := registry.Settings(c.exp)
	if err != nil {
		return nil, err
	}
	m, err := alg.New(settings, c.env(nil))
	if err != nil {
		return nil, c.settingProblems("search."+name, err)
	}
	if sc, ok := m.(interface{ Scalarization() search.Scalarization }); ok {
		scal := sc.Scalarization()
		c.scal = &scal
	}
	switch mm := m.(type) {
	case *mapmerge.Method:
		c.mapMethod = mm
	case *m2n2.Method:
		if s, ok := settings.(*m2n2.Settings); ok {
			c.archive = &archiveRecorder{method: mm, every: s.SnapshotEvery}
		}
	}
	return m, nil
}

// env is what the run's methods are built from; initial are points the
// method starts from (the continuing search's).
func (c *components) env(initial [][]float64) search.Env {
	s := c.exp.Search
	return search.Env{
		Space: c.space, Objectives: c.objectives, Seed: c.exp.Experiment.Seed,
		Budget:     search.Budget{MaxEvaluations: s.MaxEvaluations, MaxGenerations: s.MaxGenerations, MaxTime: s.MaxTime},
		StartPoint: c.startPoint, Initial: initial, MultiObjective: registry.MultiObjective,
		Continue: c.continueWith, Progress: c.progress,
	}
}

// continueWith builds the named algorithm with its default settings,
// starting from x (search.Env.Continue).
func (c *components) continueWith(name string, x []float64) (search.Method, error) {
	alg, ok := registry.Algorithm(name)
	if !ok || alg.New == nil {
		return nil, fmt.Errorf("%q cannot continue from a found point: choose one of %s", name, strings.Join(registry.AlgorithmNames(), ", "))
	}
	settings := alg.NewSettings()
	settings.Defaults(c.env(nil).Budget)
	return alg.New(settings, c.env([][]float64{x}))
}

func objectiveNames(objs []fitness.Objective) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return strings.Join(names, ", ")
}

// settingProblems turns the errors a factory returned (SettingErrors,
// joined or alone, and Problems) into Problems naming the user's keys under
// table.
func (c *components) settingProblems(table string, err error) error {
	var ps configs.Problems
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var se *search.SettingError
		var more configs.Problems
		switch {
		case errors.As(err, &more):
			ps = append(ps, more...)
		case errors.As(err, &se):
			ps = append(ps, c.exp.Problem(table+"."+se.Key, se.Msg))
		default:
			ps = append(ps, c.exp.Problem(table, err.Error()))
		}
	}
	walk(err)
	return ps
}

// startPoint resolves a start point named at key (relative to the
// algorithm's table) in space units.
func (c *components) startPoint(key string, p search.StartPoint) ([]float64, error) {
	switch p.Kind {
	case search.StartAdaMerging:
		return c.adaMergingStart("search."+c.exp.Search.Algorithm+"."+key, p.Path)
	case search.StartDefaults:
		return c.space.Defaults(), nil
	case search.StartAverage:
		x, err := searchspace.AveragePoint(c.space, c.op, c.exp.Merge.Params, c.pool.NumModels())
		if err != nil {
			return nil, &search.SettingError{Key: key, Msg: fmt.Sprintf("start point %q: %v; drop it or use %q", search.StartAverage, err, search.StartDefaults)}
		}
		return x, nil
	}
	return nil, &search.SettingError{Key: key, Msg: fmt.Sprintf("unknown start point kind %q", p.Kind)}
}

// evaluateExportOptions are the options of exported checkpoints: float32 in
// one file, as `evomerge merge` writes by default.
func evaluateExportOptions() evaluate.ExportOptions { return evaluate.ExportOptions{} }

// fitnessExamples is how many fitness examples per task the experiment's
// evaluator keeps (0: all).
func fitnessExamples(exp *configs.Experiment) int { return registry.FitnessExamples(exp) }

// unknownTask says which task names an objective may use.
func unknownTask(task string, tasks []string) string {
	if len(tasks) == 0 {
		return fmt.Sprintf("unknown task %q: the run knows no tasks; name the task each expert was fine-tuned for (task = %q in its [[models.experts]] table) or use a benchmark's tasks (models.benchmark)", task, task)
	}
	return fmt.Sprintf("unknown task %q: use one of %s, %q or %q", task, strings.Join(tasks, ", "), configs.TaskAll, configs.TaskMean)
}
