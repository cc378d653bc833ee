package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// NativeVersion is the version of the native evaluator's scoring; it enters
// every candidate id it scores.
const NativeVersion = "native/1"

// MeanTask, as an objective's Task, averages the metric over every task in
// task order.
const MeanTask = "mean"

// NativeConfig configures the native evaluator.
type NativeConfig struct {
	Merge MergeConfig
	// Tasks are scored on their fitness split (and, for final scores, on
	// test): each needs its fitness examples and the pool's head for it.
	Tasks []tasks.Task
	// Objectives are the scores, in score order: Task is a task name or
	// MeanTask, Metric a name of tasks.Metrics.
	Objectives []fitness.Objective
	// Workers is the number of candidates evaluated at once; 0 means 1.
	// Each worker's matrix products and per-example loops already use every
	// core, so extra workers gain little: on two cores mnist-tasks ran 18.7
	// evaluations/s with one worker and 19.2 with two, and a tiny synthetic
	// pool (products too small to split) 2,600 against 2,860
	// (BenchmarkNativeEvaluate). Each worker holds one copy of the model and
	// its activations.
	Workers int
	// BatchSize is the number of examples per forward pass; 0 means 500.
	// Scores do not depend on it.
	BatchSize int
}

// Native is the Go-native evaluator: it merges each genome straight into the
// parameters of a per-worker internal/model network (the pool's tensors read
// in place from its memory-mapped files, nothing written to disk) and scores every task on the fitness split.
// Native implements search.Evaluator and is safe for concurrent use.
type Native struct {
	merger   *Merger
	tasks    []tasks.Task
	objs     []objective
	classes  []int // per task, the head's class count
	names    []fitness.Objective
	batch    int
	spec     string
	version  string
	workers  chan *nativeWorker
	nWorkers int
}

type objective struct {
	task   int // -1: mean over tasks
	metric tasks.Metric
}

// nativeWorker owns a model whose parameter slices are the merge
// destinations, and the merge temporaries.
type nativeWorker struct {
	model model.Network
	dst   [][]float32 // indexed like the pool's tensors (= plan tensors)
	buf   mergeBuffers
}

// NewNative builds the evaluator and its workers. Errors name the task,
// head or objective at fault.
func NewNative(cfg NativeConfig) (*Native, error) {
	merger, err := NewMerger(cfg.Merge)
	if err != nil {
		return nil, err
	}
	if len(cfg.Tasks) == 0 {
		return nil, errors.New("evaluate: no tasks to score: give at least one task with data")
	}
	if cfg.Workers < 0 || cfg.BatchSize < 0 {
		return nil, fmt.Errorf("evaluate: workers %d and batch size %d must not be negative (0 means default)", cfg.Workers, cfg.BatchSize)
	}
	e := &Native{merger: merger, tasks: cfg.Tasks, names: cfg.Objectives, batch: cfg.BatchSize, nWorkers: cfg.Workers}
	if e.nWorkers == 0 {
		e.nWorkers = 1
	}
	if e.batch == 0 {
		e.batch = tasks.DefaultBatch
	}
	probe, err := e.newWorker()
	if err != nil {
		return nil, err
	}
	taskIndex := map[string]int{}
	for i, t := range cfg.Tasks {
		if err := checkTask(t, probe.model); err != nil {
			return nil, err
		}
		e.classes = append(e.classes, probe.model.Classes(t.Head))
		if _, dup := taskIndex[t.Name]; dup {
			return nil, fmt.Errorf("evaluate: task %q is listed twice", t.Name)
		}
		taskIndex[t.Name] = i
	}
	if err := fitness.ValidateObjectives(cfg.Objectives); err != nil {
		return nil, err
	}
	var errs []error
	for _, o := range cfg.Objectives {
		obj := objective{task: -1}
		if o.Task != MeanTask {
			i, ok := taskIndex[o.Task]
			if !ok {
				errs = append(errs, fmt.Errorf("evaluate: objective %q: unknown task %q: use one of %s or %q for the mean over tasks", o.Name, o.Task, strings.Join(tasks.Names(cfg.Tasks), ", "), MeanTask))
				continue
			}
			obj.task = i
		}
		m, ok := tasks.LookupMetric(o.Metric)
		if !ok {
			errs = append(errs, fmt.Errorf("evaluate: objective %q: %w", o.Name, tasks.UnknownMetric(o.Metric)))
		}
		obj.metric = m
		if m.NeedsReference {
			for i, t := range cfg.Tasks {
				if obj.task >= 0 && obj.task != i {
					continue
				}
				if acc := t.ExpertAccuracy[t.FitnessSplit]; !(acc > 0) {
					errs = append(errs, fmt.Errorf("evaluate: objective %q: task %q has no expert accuracy on %s to normalise by: use metric %q", o.Name, t.Name, t.FitnessSplit, tasks.MetricAccuracy))
				}
			}
		}
		e.objs = append(e.objs, obj)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if e.spec, err = e.evalSpec(); err != nil {
		return nil, err
	}
	e.version = NativeVersion + "+pool:" + merger.pool.Version()
	e.workers = make(chan *nativeWorker, e.nWorkers)
	e.workers <- probe
	for range e.nWorkers - 1 {
		w, err := e.newWorker()
		if err != nil {
			return nil, err
		}
		e.workers <- w
	}
	return e, nil
}

// checkTask verifies a task's data fits the model and its head.
func checkTask(t tasks.Task, net model.Network) error {
	if t.Name == "" || t.Name == MeanTask {
		return fmt.Errorf("evaluate: task name %q is reserved or empty: name every task", t.Name)
	}
	if t.FitnessSplit == data.Test {
		return fmt.Errorf("evaluate: task %s: the test split cannot be the fitness split: it is held out to score the final front", t.Name)
	}
	classes := net.Classes(t.Head)
	if classes == 0 {
		return fmt.Errorf("evaluate: task %s: the pool has no head %q (tensors heads.%s.weight and .bias): add the task's expert to the pool or fix the head name (heads: %s)", t.Name, t.Head, t.Head, strings.Join(net.Heads(), ", "))
	}
	for _, d := range []*data.Dataset{t.Fitness(), t.Data(data.Test)} {
		if d == nil {
			continue
		}
		if d.Len() == 0 {
			return fmt.Errorf("evaluate: task %s: dataset %q is empty", t.Name, d.Name)
		}
		if err := d.Validate(); err != nil {
			return fmt.Errorf("evaluate: task %s: %w", t.Name, err)
		}
		if d.Kind != data.Images {
			return fmt.Errorf("evaluate: task %s: dataset %q holds %s, and the models score images only", t.Name, d.Name, d.Kind)
		}
		if d.Features() != net.InputSize() {
			return fmt.Errorf("evaluate: task %s: dataset %q has %v (C,H,W) images but the models take %v", t.Name, d.Name, d.Shape(), net.Config().InputShape())
		}
		for i, y := range d.Y {
			if int(y) >= classes {
				return fmt.Errorf("evaluate: task %s: label %d of example %d of %q is outside head %q's %d classes", t.Name, y, i, d.Name, t.Head, classes)
			}
		}
	}
	if t.Fitness() == nil {
		return fmt.Errorf("evaluate: task %s has no fitness data", t.Name)
	}
	return nil
}

func (e *Native) newWorker() (*nativeWorker, error) {
	net, err := e.merger.newModel()
	if err != nil {
		return nil, err
	}
	metas := e.merger.pool.src.Tensors()
	w := &nativeWorker{model: net, dst: make([][]float32, len(metas))}
	for i, t := range metas {
		w.dst[i] = net.Param(t.Name).Data
	}
	return w, nil
}

// evalSpec describes what a score means: tasks (head, split, size and a hash
// of the data), objectives and the merge.
func (e *Native) evalSpec() (string, error) {
	type taskSpec struct {
		Name     string     `json:"name"`
		Head     string     `json:"head"`
		Split    data.Split `json:"split"`
		Examples int        `json:"examples"`
		Data     string     `json:"data"`
	}
	spec := struct {
		Evaluator  string              `json:"evaluator"`
		Tasks      []taskSpec          `json:"tasks"`
		Objectives []fitness.Objective `json:"objectives"`
		Merge      json.RawMessage     `json:"merge"`
	}{Evaluator: "native", Objectives: e.names, Merge: json.RawMessage(e.merger.desc)}
	for _, t := range e.tasks {
		fit := t.Fitness()
		spec.Tasks = append(spec.Tasks, taskSpec{Name: t.Name, Head: t.Head, Split: t.FitnessSplit, Examples: fit.Len(), Data: fit.Fingerprint()})
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("evaluate: encode evaluation spec: %w", err)
	}
	return string(b), nil
}

// EvalSpec is the evaluation spec that enters candidate ids
// (search.Settings.EvalSpec): tasks, heads, fitness split, example counts and
// data hashes, objectives and the merge (operator, seed, task tensors,
// search space and fixed settings).
func (e *Native) EvalSpec() string { return e.spec }

// Version is the evaluator and pool version that enters candidate ids
// (search.Settings.Version).
func (e *Native) Version() string { return e.version }

// Merger returns the evaluator's merger (Export, Recipe, Materialize).
func (e *Native) Merger() *Merger { return e.merger }

// Objectives returns the objectives in score order.
func (e *Native) Objectives() []fitness.Objective {
	return append([]fitness.Objective(nil), e.names...)
}

// TaskResult is one task's result on one split.
type TaskResult struct {
	Task     string     `json:"task"`
	Split    data.Split `json:"split"`
	Accuracy float64    `json:"accuracy"`
	Loss     float64    `json:"loss"`
	Examples int        `json:"examples"`
	// Normalized is Accuracy / the expert's accuracy on the split; NaN
	// when the task has none.
	Normalized float64 `json:"-"`
}

// Result is a genome's full result on one split.
type Result struct {
	// Scores has one value per objective, in objective order.
	Scores  []float64                    `json:"scores"`
	Tasks   []TaskResult                 `json:"tasks"`
	Correct []population.TaskCorrectness `json:"correct"`
}

// Evaluate implements search.Evaluator: every candidate of the batch gets
// Scores (objective order), per-task Correct and Status ok, or Status failed
// with the reason (a recipe genome, an operator error, a non-finite merged
// weight or score). At most Workers candidates run at once; results go to
// the candidate at the same index whatever the order of completion. A
// cancelled context stops the batch between tensors or forward batches and
// is returned; unfinished candidates stay pending.
func (e *Native) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	run := func(w *nativeWorker) {
		defer wg.Done()
		defer func() { e.workers <- w }()
		for {
			i := int(next.Add(1) - 1)
			if i >= len(batch) || ctx.Err() != nil {
				return
			}
			c := batch[i]
			res, err := e.evaluate(ctx, w, c.Genome, false)
			switch {
			case err != nil && ctx.Err() != nil:
				return // left pending: the run was cancelled
			case err != nil:
				c.Fail(err)
			default:
				c.Scores, c.Correct, c.Status, c.Error = res.Scores, res.Correct, population.StatusOK, ""
			}
		}
	}
	n := min(e.nWorkers, len(batch))
	for range n {
		w := <-e.workers
		wg.Add(1)
		go run(w)
	}
	wg.Wait()
	return ctx.Err()
}

// Score evaluates one genome on a split: the fitness split, or test to score
// a final front member. It does not fill any candidate.
func (e *Native) Score(ctx context.Context, g population.Genome, split data.Split) (*Result, error) {
	test := false
	switch {
	case split == data.Test:
		for i := range e.tasks {
			if t := &e.tasks[i]; t.Data(data.Test) == nil {
				return nil, fmt.Errorf("evaluate: task %s has no test data", t.Name)
			}
		}
		test = true
	case split != e.tasks[0].FitnessSplit:
		return nil, fmt.Errorf("evaluate: split %q: score on the fitness split %q or on %q", split, e.tasks[0].FitnessSplit, data.Test)
	}
	w := <-e.workers
	defer func() { e.workers <- w }()
	return e.evaluate(ctx, w, g, test)
}

// Materialize returns the genome's merged model, heads included, with the
// pool's architecture.
func (e *Native) Materialize(ctx context.Context, g population.Genome) (model.Network, error) {
	return e.merger.Materialize(ctx, g)
}

func (e *Native) evaluate(ctx context.Context, w *nativeWorker, g population.Genome, test bool) (*Result, error) {
	p, err := e.merger.Plan(ctx, g)
	if err != nil {
		return nil, err
	}
	if err := w.buf.merge(ctx, p, e.merger.pool.src, w.dst); err != nil {
		return nil, err
	}
	return e.scoreModel(ctx, w.model, test)
}

// ScoreModel scores a model the caller owns (it must not be used
// concurrently) on every task, on the fitness split or on test, with the
// evaluator's objectives: for models built outside the evaluator, such as
// crossovers of materialised parents. The model needs each task's head with
// the pool's class count and the pool's input size.
func (e *Native) ScoreModel(ctx context.Context, net model.Network, split data.Split) (*Result, error) {
	test := split == data.Test
	if !test && split != e.tasks[0].FitnessSplit {
		return nil, fmt.Errorf("evaluate: split %q: score on the fitness split %q or on %q", split, e.tasks[0].FitnessSplit, data.Test)
	}
	if fit := e.tasks[0].Fitness(); net.InputSize() != fit.Features() {
		return nil, fmt.Errorf("evaluate: the model takes %v (C,H,W) inputs, the tasks have %v", net.Config().InputShape(), fit.Shape())
	}
	for i := range e.tasks {
		t := &e.tasks[i]
		if got := net.Classes(t.Head); got != e.classes[i] {
			return nil, fmt.Errorf("evaluate: task %s: the model's head %q has %d classes, want %d (heads: %s)", t.Name, t.Head, got, e.classes[i], strings.Join(net.Heads(), ", "))
		}
		if test && t.Data(data.Test) == nil {
			return nil, fmt.Errorf("evaluate: task %s has no test data", t.Name)
		}
	}
	return e.scoreModel(ctx, net, test)
}

func (e *Native) scoreModel(ctx context.Context, net model.Network, test bool) (*Result, error) {
	res := &Result{
		Scores:  make([]float64, len(e.objs)),
		Tasks:   make([]TaskResult, len(e.tasks)),
		Correct: make([]population.TaskCorrectness, len(e.tasks)),
	}
	normalized, _ := tasks.LookupMetric(tasks.MetricNormalized)
	for i := range e.tasks {
		t := &e.tasks[i]
		split := t.FitnessSplit
		if test {
			split = data.Test
		}
		bits := population.NewBitset(t.Data(split).Len())
		r, err := tasks.Score(ctx, net, t, split, tasks.ScoreOptions{Batch: e.batch, Correct: bits.Words})
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Name, err)
		}
		if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			return nil, fmt.Errorf("task %s: the merged model's loss is %v", t.Name, r.Loss)
		}
		res.Tasks[i] = TaskResult{Task: t.Name, Split: split, Accuracy: r.Accuracy, Loss: r.Loss, Examples: r.Examples,
			Normalized: normalized.Value(r, t.ExpertAccuracy[split])}
		res.Correct[i] = population.TaskCorrectness{Task: t.Name, Bits: bits}
	}
	for k, o := range e.objs {
		if o.task >= 0 {
			res.Scores[k] = e.metric(o.metric, res, o.task)
			continue
		}
		var sum float64
		for i := range res.Tasks {
			sum += e.metric(o.metric, res, i)
		}
		res.Scores[k] = sum / float64(len(res.Tasks))
	}
	for k, v := range res.Scores {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("objective %q is %v (no expert accuracy on this split to normalise by?)", e.names[k].Name, v)
		}
	}
	return res, nil
}

// metric is metric m of task i's result in res.
func (e *Native) metric(m tasks.Metric, res *Result, i int) float64 {
	tr := &res.Tasks[i]
	return m.Value(tasks.Result{Accuracy: tr.Accuracy, Loss: tr.Loss, Examples: tr.Examples}, e.tasks[i].ExpertAccuracy[tr.Split])
}

var _ search.Evaluator = (*Native)(nil)
