package benchmarks

import (
	"context"
	"fmt"
	"strings"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/tasks"
)

// TaskOptions select a benchmark's tasks for LoadTasks.
type TaskOptions struct {
	// Names are the tasks, in score order; empty means every task.
	Names []string
	// Split is the fitness split; "" means the benchmark's FitnessSplit.
	// The test split is refused.
	Split data.Split
	// FitnessExamples limits the fitness data to the split's first examples
	// (a fixed random subset: validation is in permuted order); 0 means the
	// whole split. The experts' reference accuracies are then measured on
	// that subset.
	FitnessExamples int
}

// LoadTasks returns the selected tasks with their examples on the fitness
// split and on test, and their experts' accuracies on both: from the
// manifest, or, with FitnessExamples, measured on the fitness prefix
// (tasks.ScoreDataset), so normalized accuracy stays exact. The test split
// is refused as fitness split.
func (b *Benchmark) LoadTasks(ctx context.Context, opt TaskOptions) ([]tasks.Task, error) {
	split := opt.Split
	if split == "" {
		split = b.FitnessSplit
	}
	if _, err := data.ParseSplit(string(split)); err != nil {
		return nil, fmt.Errorf("benchmarks: fitness split: %w", err)
	}
	if split == data.Test {
		return nil, fmt.Errorf("benchmarks: the test split cannot be the fitness split: it is held out to score the final front; use %q", data.Validation)
	}
	if opt.FitnessExamples < 0 {
		return nil, fmt.Errorf("benchmarks: fitness examples %d: use 0 for the whole split or a positive count", opt.FitnessExamples)
	}
	names := opt.Names
	if len(names) == 0 {
		names = b.TaskNames()
	}
	out := make([]tasks.Task, 0, len(names))
	for _, name := range names {
		t, ok := b.Task(name)
		if !ok {
			return nil, fmt.Errorf("benchmarks: benchmark %s has no task %q (tasks: %s)", b.Name, name, strings.Join(b.TaskNames(), ", "))
		}
		fit, err := b.Data(name, split)
		if err != nil {
			return nil, fmt.Errorf("benchmarks: task %s: %w", name, err)
		}
		test, err := b.Data(name, data.Test)
		if err != nil {
			return nil, fmt.Errorf("benchmarks: task %s: %w", name, err)
		}
		limited := opt.FitnessExamples > 0 && opt.FitnessExamples < fit.Len()
		if limited {
			fit = fit.Head(opt.FitnessExamples)
		}
		t.FitnessSplit = split
		t.Splits = map[data.Split]*data.Dataset{split: fit, data.Test: test}
		t.ExpertAccuracy = map[data.Split]float64{}
		if exp, ok := b.Expert(name); ok {
			if acc, ok := b.Manifest.Accuracy[data.Test][exp.Name][name]; ok {
				t.ExpertAccuracy[data.Test] = acc
			}
			if acc, ok := b.Manifest.Accuracy[split][exp.Name][name]; ok && !limited {
				t.ExpertAccuracy[split] = acc
			}
			if limited {
				shared, err := b.LoadMember(exp.Name)
				if err != nil {
					return nil, fmt.Errorf("benchmarks: task %s: %w", name, err)
				}
				res, err := tasks.ScoreDataset(ctx, shared.Clone(), fit, t.Head, tasks.ScoreOptions{Batch: evalBatch})
				if err != nil {
					return nil, fmt.Errorf("benchmarks: task %s: expert %s: %w", name, exp.Name, err)
				}
				t.ExpertAccuracy[split] = res.Accuracy
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// WithSplit returns copies of the benchmark's tasks ts holding their
// examples on split too (at most the first limit when limit > 0), for
// evaluators that read another split than the fitness one (AdaMerging's
// unlabelled inputs, FW-Merging's proxy). The copies' other splits are
// ts's; ts is unchanged.
func (b *Benchmark) WithSplit(ts []tasks.Task, split data.Split, limit int) ([]tasks.Task, error) {
	if _, err := data.ParseSplit(string(split)); err != nil {
		return nil, err
	}
	out := make([]tasks.Task, len(ts))
	for i := range ts {
		d, err := b.Data(ts[i].Name, split)
		if err != nil {
			return nil, err
		}
		if limit > 0 && d.Len() > limit {
			d = d.Head(limit)
		}
		out[i] = ts[i].WithData(split, d)
	}
	return out, nil
}
