package benchmarks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/internal/tasks"
)

// HeadPrefix starts the name of every per-task head tensor
// ("heads.<task>.weight", "heads.<task>.bias"). Heads are never merged.
const HeadPrefix = "heads."

// Head sources reported in TaskScore.HeadSource.
const (
	HeadFromModel  = "model"  // the evaluated checkpoint has the task's head
	HeadFromExpert = "expert" // the checkpoint lacks it; the task's expert head was used
)

// evalBatch is the batch size of evaluation forward passes.
const evalBatch = 500

// TaskScore is the result of one task (`evomerge eval --json` prints it).
type TaskScore struct {
	Task       string  `json:"task"`
	Accuracy   float64 `json:"accuracy"`
	Loss       float64 `json:"loss"`
	Examples   int     `json:"examples"`
	HeadSource string  `json:"head"`
	// ExpertAccuracy is the task's expert on the same split, and Normalized
	// is Accuracy/ExpertAccuracy; both absent when the benchmark has no
	// expert for the task.
	ExpertAccuracy *float64 `json:"expert_accuracy,omitempty"`
	Normalized     *float64 `json:"normalized_accuracy,omitempty"`
}

// Scores is a model's result on every task of a benchmark on one split.
type Scores struct {
	Benchmark    string      `json:"benchmark"`
	Version      string      `json:"version"`
	Split        data.Split  `json:"split"`
	Model        string      `json:"model,omitempty"`
	Tasks        []TaskScore `json:"tasks"`
	MeanAccuracy float64     `json:"mean_accuracy"`
	// MeanNormalized averages Normalized over the tasks that have it.
	MeanNormalized *float64 `json:"mean_normalized_accuracy,omitempty"`
}

// FileOptions configure EvaluateFile.
type FileOptions struct {
	// AllowNonFinite scores a model whose weights hold NaN or ±Inf; without
	// it such a model is refused with a *checkpoint.NonFiniteError naming
	// the tensor (its scores would be a loss of NaN and chance accuracy).
	AllowNonFinite bool
}

// EvaluateFile loads a checkpoint (any path checkpoint.Open accepts),
// checks that its weights are finite (see FileOptions) and evaluates it.
func (b *Benchmark) EvaluateFile(ctx context.Context, path string, split data.Split, opt FileOptions) (*Scores, error) {
	m, err := all.Load(path)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: load model %s: %w", path, err)
	}
	if !opt.AllowNonFinite {
		for _, p := range m.Params() {
			if first, count := checkpoint.NonFinite(p.Data); count > 0 {
				return nil, &checkpoint.NonFiniteError{Path: path, Tensor: p.Name, Index: first, Value: p.Data[first], Count: count, Total: len(p.Data)}
			}
		}
	}
	s, err := b.Evaluate(ctx, m, split)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: evaluate %s: %w", path, err)
	}
	s.Model = path
	return s, nil
}

// Evaluate scores a model on every task on the split (tasks.Score):
// accuracy, mean cross-entropy and, for tasks with an expert, normalized
// accuracy. A model lacking a task's head (heads.<task>.*) is scored with
// the head of that task's expert, since heads are per task and never
// merged. m's parameters are only read, but when m has every head it is
// run itself (its buffers are used), so m must not be in use elsewhere.
func (b *Benchmark) Evaluate(ctx context.Context, m model.Network, split data.Split) (*Scores, error) {
	if _, err := data.ParseSplit(string(split)); err != nil {
		return nil, err
	}
	if in, want := m.Config().InputShape(), b.cfg.InputShape(); in != want {
		return nil, fmt.Errorf("model input is %v (C,H,W), benchmark %s needs %v: the model does not belong to benchmark %s", in, b.Name, want, b.Name)
	}
	run, sources, err := b.WithTaskHeads(m)
	if err != nil {
		return nil, err
	}
	normalized, _ := tasks.LookupMetric(tasks.MetricNormalized)
	scores := &Scores{Benchmark: b.Name, Version: b.Version, Split: split}
	var sumNorm float64
	var nNorm int
	for i := range b.Tasks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := b.taskOn(&b.Tasks[i], split)
		if err != nil {
			return nil, err
		}
		d := t.Data(split)
		if in := run.Config().InputShape(); in != d.Shape() {
			return nil, fmt.Errorf("model input is %v (C,H,W) but task %s has %v images", in, t.Name, d.Shape())
		}
		res, err := tasks.Score(ctx, run, &t, split, tasks.ScoreOptions{Batch: evalBatch})
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Name, err)
		}
		ts := TaskScore{Task: t.Name, Accuracy: res.Accuracy, Loss: res.Loss, Examples: res.Examples, HeadSource: sources[i]}
		if ref, ok := t.ExpertAccuracy[split]; ok && ref > 0 {
			norm := normalized.Value(res, ref)
			ts.ExpertAccuracy, ts.Normalized = &ref, &norm
			sumNorm += norm
			nNorm++
		}
		scores.Tasks = append(scores.Tasks, ts)
		scores.MeanAccuracy += res.Accuracy / float64(len(b.Tasks))
	}
	if nNorm > 0 {
		mean := sumNorm / float64(nNorm)
		scores.MeanNormalized = &mean
	}
	return scores, nil
}

// taskOn returns a copy of the benchmark's task t holding its examples on
// split (Data) and, when it has an expert, the expert's accuracy there
// from the manifest.
func (b *Benchmark) taskOn(t *tasks.Task, split data.Split) (tasks.Task, error) {
	d, err := b.Data(t.Name, split)
	if err != nil {
		return tasks.Task{}, err
	}
	out := t.WithData(split, d)
	if ref, ok := b.expertAccuracy(split, t.Name); ok {
		out.ExpertAccuracy = map[data.Split]float64{split: ref}
	}
	return out, nil
}

// expertAccuracy returns the manifest's accuracy of a task's expert.
func (b *Benchmark) expertAccuracy(split data.Split, task string) (float64, bool) {
	exp, ok := b.Expert(task)
	if !ok {
		return 0, false
	}
	acc, ok := b.Manifest.Accuracy[split][exp.Name][task]
	return acc, ok
}

// WithTaskHeads returns a model that has the head of every task, and for
// each task where the head came from (HeadFromModel or HeadFromExpert). When m already has every head it is returned as is; otherwise
// the result is a new model with m's backbone and, for each missing head,
// the head of the task's expert.
func (b *Benchmark) WithTaskHeads(m model.Network) (model.Network, []string, error) {
	sources := make([]string, len(b.Tasks))
	var missing bool
	for i, t := range b.Tasks {
		switch {
		case m.Param(headWeight(t.Head)) != nil:
			sources[i] = HeadFromModel
		default:
			if _, ok := b.Expert(t.Name); !ok {
				return nil, nil, fmt.Errorf("model has no head %s and benchmark %s has no expert for task %s to lend one", headWeight(t.Head), b.Name, t.Name)
			}
			sources[i] = HeadFromExpert
			missing = true
		}
	}
	if !missing {
		return m, sources, nil
	}
	out, err := m.Config().WithHeads(b.heads).New(0)
	if err != nil {
		return nil, nil, fmt.Errorf("model architecture cannot take the benchmark's heads: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range out.Params() {
		src := m
		if head, ok := headOf(p.Name); ok && m.Param(p.Name) == nil {
			task := b.taskForHead(head)
			exp, _ := b.Expert(task)
			if src, err = b.loadMemberLocked(exp.Name); err != nil {
				return nil, nil, err
			}
		}
		q := src.Param(p.Name)
		if q == nil {
			return nil, nil, fmt.Errorf("model has no tensor %s needed by benchmark %s", p.Name, b.Name)
		}
		if !slices.Equal(q.Shape, p.Shape) {
			return nil, nil, fmt.Errorf("tensor %s has shape %v, the benchmark's architecture needs %v: the model does not belong to benchmark %s", p.Name, q.Shape, p.Shape, b.Name)
		}
		copy(p.Data, q.Data)
	}
	return out, sources, nil
}

// taskForHead returns the task served by a head name.
func (b *Benchmark) taskForHead(head string) string {
	for _, t := range b.Tasks {
		if t.Head == head {
			return t.Name
		}
	}
	return head
}

func headWeight(head string) string { return HeadPrefix + head + ".weight" }

// headOf returns the head name of a head tensor ("heads.rot90.bias" -> "rot90").
func headOf(tensor string) (string, bool) {
	rest, ok := strings.CutPrefix(tensor, HeadPrefix)
	if !ok {
		return "", false
	}
	head, _, ok := strings.Cut(rest, ".")
	return head, ok
}

// IsHeadTensor reports whether a tensor belongs to a per-task head.
func IsHeadTensor(name string) bool {
	_, ok := headOf(name)
	return ok
}
