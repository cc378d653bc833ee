package evaluate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
)

// DefaultStatisticsExamples is how many examples of each model's task the
// statistics of data-aware operators are computed on by default: 256, as
// FusionBench computes Fisher information and RegMean's Gram matrices.
const DefaultStatisticsExamples = 256

// StatisticsVersion is the version of how statistics are computed; it
// enters the evaluation spec (so candidate ids) of merges that read them.
const StatisticsVersion = 1

// StatisticsOptions select how per-model statistics are computed.
type StatisticsOptions struct {
	// Examples is how many examples of each model's task, the first of the
	// task's fitness split, the statistics are computed on (all of the
	// split when it has fewer).
	Examples int
	// Labels are the labels the Fisher information is taken over
	// (model.EmpiricalFisher or model.ExpectedFisher).
	Labels model.FisherLabels
}

// StatisticsComputer is implemented by the settings of evaluator kinds that
// compute the per-model statistics data-aware operators read
// (operators.Requirements Fisher or Gram: fisher, regmean): the native
// kind. A run whose operator reads statistics is refused with any other.
type StatisticsComputer interface {
	// Statistics are the options the kind computes statistics with, its
	// defaults applied.
	Statistics() StatisticsOptions
}

// NeedsStatistics reports whether op reads per-model statistics (Fisher
// information or Gram matrices).
func NeedsStatistics(op operators.Operator) bool {
	req := op.Requirements()
	return req.Fisher || req.Gram
}

// StatisticsWhat names, in words, the statistics op reads (for messages);
// "" when it reads none.
func StatisticsWhat(op operators.Operator) string {
	req := op.Requirements()
	switch {
	case req.Fisher && req.Gram:
		return "diagonal Fisher information and input Gram matrices"
	case req.Gram:
		return "input Gram matrices of the linear layers"
	case req.Fisher:
		return "diagonal Fisher information"
	}
	return ""
}

// Statistics are the per-model statistics of a merge, with what identifies
// them.
type Statistics struct {
	// Source gives the operator the statistics (model indexes are the
	// pool's).
	Source operators.StatsSource
	// Spec describes what they were computed from and how (a JSON object):
	// it enters the merge's description, so the evaluation spec and the
	// candidate ids of merges that read statistics.
	Spec json.RawMessage
}

// statisticsSpec is Statistics.Spec.
type statisticsSpec struct {
	V      int                `json:"v"`
	Fisher bool               `json:"fisher"`
	Labels model.FisherLabels `json:"labels,omitempty"`
	Gram   bool               `json:"gram"`
	Models []statisticsData   `json:"models"`
}

// statisticsData is what one model's statistics were computed on.
type statisticsData struct {
	Model    string     `json:"model"`
	Task     string     `json:"task"`
	Head     string     `json:"head"`
	Split    data.Split `json:"split"`
	Examples int        `json:"examples"`
	Data     string     `json:"data"`
}

// ComputeStatistics computes, once, the statistics op reads for every
// model of the pool (the experts θ1..θN; a base needs none) on that model's
// own task: modelTasks[i] names the task of model i among ts, and its
// first opt.Examples examples of the task's fitness split (never test) are
// used. It computes only what op reads (Fisher information and/or Gram
// matrices) with model.ComputeStats, deterministically: the same pool,
// data and options give the same statistics on any machine. Progress goes
// to log (nil: none).
func ComputeStatistics(ctx context.Context, pool *Pool, op operators.Operator, ts []tasks.Task, modelTasks []string, opt StatisticsOptions, log io.Writer) (*Statistics, error) {
	if !NeedsStatistics(op) {
		return nil, fmt.Errorf("evaluate: %s reads no statistics", op.Name())
	}
	if opt.Examples < 1 {
		return nil, fmt.Errorf("evaluate: statistics on %d examples per model: give a positive count", opt.Examples)
	}
	req := op.Requirements()
	labels := opt.Labels
	if req.Fisher && labels == "" {
		labels = model.EmpiricalFisher
	}
	n := pool.NumModels()
	if len(modelTasks) != n {
		return nil, fmt.Errorf("evaluate: %s reads each model's %s, computed on its own task's data, and the tasks of the pool's %d models are not known (%d given): name each expert's task", op.Name(), StatisticsWhat(op), n, len(modelTasks))
	}
	names := pool.ModelNames()
	spec := statisticsSpec{V: StatisticsVersion, Fisher: req.Fisher, Gram: req.Gram}
	if req.Fisher {
		spec.Labels = labels
	}
	nets := make([]model.Network, n)
	sets := make([]model.TaskData, n)
	for i := range n {
		t, err := statisticsTask(ts, modelTasks[i])
		if err != nil {
			return nil, fmt.Errorf("evaluate: statistics of model %d (%s): %w", i+1, names[i], err)
		}
		d := t.Fitness().Head(opt.Examples)
		if nets[i], err = pool.Expert(i); err != nil {
			return nil, err
		}
		if nets[i].Classes(t.Head) == 0 {
			return nil, fmt.Errorf("evaluate: statistics of model %d (%s): it has no head %q for task %s (heads: %s): name the task it was fine-tuned for", i+1, names[i], t.Head, t.Name, strings.Join(nets[i].Heads(), ", "))
		}
		sets[i] = model.TaskData{Head: t.Head, X: d.X, Y: d.Y, N: d.Len()}
		spec.Models = append(spec.Models, statisticsData{Model: names[i], Task: t.Name, Head: t.Head, Split: t.FitnessSplit, Examples: d.Len(), Data: d.Fingerprint()})
	}
	if log != nil {
		fmt.Fprintf(log, "computing the %s of %d models on up to %d %s examples of each one's task...\n", StatisticsWhat(op), n, opt.Examples, spec.Models[0].Split)
	}
	start := time.Now()
	stats, err := model.ComputeStats(ctx, nets, sets, model.StatsOptions{Fisher: req.Fisher, Labels: labels, Gram: req.Gram, Examples: opt.Examples})
	if err != nil {
		return nil, fmt.Errorf("evaluate: statistics: %w", err)
	}
	if log != nil {
		fmt.Fprintf(log, "statistics computed in %.1fs\n", time.Since(start).Seconds())
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("evaluate: encode the statistics' description: %w", err)
	}
	return &Statistics{Source: stats, Spec: b}, nil
}

// statisticsTask finds a model's task among ts and checks its fitness data
// can give statistics.
func statisticsTask(ts []tasks.Task, name string) (*tasks.Task, error) {
	if name == "" {
		return nil, fmt.Errorf("its task is not known: name the task it was fine-tuned for")
	}
	for i := range ts {
		t := &ts[i]
		if t.Name != name {
			continue
		}
		d := t.Fitness()
		switch {
		case t.FitnessSplit == data.Test:
			return nil, fmt.Errorf("task %s: the test split cannot give statistics: it is held out to score the final front", t.Name)
		case d == nil || d.Len() == 0:
			return nil, fmt.Errorf("task %s has no %s examples to compute statistics on", t.Name, t.FitnessSplit)
		case d.Kind != data.Images:
			return nil, fmt.Errorf("task %s: dataset %q holds %s, and the models take images only", t.Name, d.Name, d.Kind)
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown task %q: the run's tasks are %s", name, strings.Join(tasks.Names(ts), ", "))
}

// Expert returns model i of the pool (0-based, θ1..θN; the base is not
// counted) as a network of the pool's architecture, with the heads its
// checkpoint holds, read from the pool's files.
func (p *Pool) Expert(i int) (model.Network, error) {
	if i < 0 || i >= len(p.paths) {
		return nil, fmt.Errorf("evaluate: model %d: the pool has %d models", i+1, len(p.paths))
	}
	r := p.readers[i]
	if p.HasBase() {
		r = p.readers[i+1]
	}
	var tensors []checkpoint.Tensor
	for _, name := range r.Names() {
		info, _ := r.Info(name)
		v, err := r.Read(name)
		if err != nil {
			return nil, fmt.Errorf("evaluate: model %d (%s): %w", i+1, p.names[i], err)
		}
		tensors = append(tensors, checkpoint.Tensor{Name: name, Shape: info.Shape, Data: v})
	}
	net, err := p.cfg.FromTensors(tensors)
	if err != nil {
		return nil, fmt.Errorf("evaluate: model %d (%s): %w", i+1, p.names[i], err)
	}
	return net, nil
}
