package tasks

import (
	"maps"

	"github.com/evomerge/evomerge/internal/data"
)

// Task is one thing a merged model is asked to do: labelled examples per
// split and how they are scored (the model head that answers them; the
// metrics of Metrics, some of which divide by the task's expert accuracy).
type Task struct {
	// Name identifies the task in objectives, scores and reports.
	Name string
	// Description says what the task is, for people ("" when unknown).
	Description string
	// Head is the model head answering the task: the tensors
	// heads.<Head>.weight and heads.<Head>.bias.
	Head string
	// Classes is the head's number of outputs (labels lie in
	// [0, Classes)); 0 when the task does not say.
	Classes int
	// FitnessSplit is the split search fitness is measured on: train or
	// validation, never test (held out to score the final front).
	FitnessSplit data.Split
	// Splits holds the task's examples per split; a split that was not
	// loaded is absent. A benchmark's own task list holds none (its Data
	// method loads them).
	Splits map[data.Split]*data.Dataset
	// ExpertAccuracy[split] is the accuracy of the task's expert on the
	// examples of Splits[split]: the reference of the metrics that need
	// one (Metric.NeedsReference). A split without an entry has none.
	ExpertAccuracy map[data.Split]float64
}

// New returns a task answered by head whose fitness examples, on split,
// are d.
func New(name, head string, split data.Split, d *data.Dataset) Task {
	return Task{Name: name, Head: head, FitnessSplit: split, Splits: map[data.Split]*data.Dataset{split: d}}
}

// Data returns the task's examples on a split, or nil when it has none.
func (t *Task) Data(split data.Split) *data.Dataset { return t.Splits[split] }

// Fitness returns the task's examples on its fitness split, or nil.
func (t *Task) Fitness() *data.Dataset { return t.Splits[t.FitnessSplit] }

// WithData returns a copy of the task whose examples on split are d (nil
// removes the split); t itself and the copies made before are unchanged.
func (t Task) WithData(split data.Split, d *data.Dataset) Task {
	out := t
	out.Splits = maps.Clone(t.Splits)
	if out.Splits == nil {
		out.Splits = map[data.Split]*data.Dataset{}
	}
	if d == nil {
		delete(out.Splits, split)
	} else {
		out.Splits[split] = d
	}
	out.ExpertAccuracy = maps.Clone(t.ExpertAccuracy)
	return out
}

// LimitFitness keeps the first n examples of each task's fitness data
// (n <= 0: all). It replaces the tasks by copies (WithData), so tasks
// copied before keep their data.
func LimitFitness(ts []Task, n int) {
	if n <= 0 {
		return
	}
	for i := range ts {
		if d := ts[i].Fitness(); d != nil {
			ts[i] = ts[i].WithData(ts[i].FitnessSplit, d.Head(n))
		}
	}
}

// Names lists the tasks' names in order.
func Names(ts []Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}
