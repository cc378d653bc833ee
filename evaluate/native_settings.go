package evaluate

import (
	"context"
	"errors"
	"fmt"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
)

// NativeKind is the native evaluator's name in evaluator.kind.
const NativeKind = "native"

// NativeSettings are the native evaluator's keys of [evaluator].
type NativeSettings struct {
	// Examples limits the fitness split to its first Examples examples per
	// task (0: all).
	Examples int `toml:"examples,omitempty"`
	// StatisticsExamples is how many examples of each expert's own task,
	// the first of its fitness split (whatever Examples is), the
	// statistics of data-aware operators (fisher, regmean) are computed on
	// before the search (0: DefaultStatisticsExamples, 256 as
	// FusionBench; a split with fewer gives all of its examples).
	StatisticsExamples int `toml:"statistics_examples,omitzero"`
	// FisherLabels are the labels the Fisher information of the fisher
	// operator is taken over (model.FisherLabels): "empirical" (default,
	// the true labels, as FusionBench) or "expected" (the model's own
	// predictive distribution, exactly).
	FisherLabels string `toml:"fisher_labels,omitempty"`
}

// NewNativeSettings returns empty settings to decode [evaluator] into.
func NewNativeSettings() Settings { return new(NativeSettings) }

// Defaults: every setting's zero is its default. The statistics settings
// stay absent unless given, so the resolved configuration (and the NATS
// setup) of a run whose operator reads no statistics is what it was
// before they existed; Statistics applies their defaults, and a merge that
// reads statistics records the values it used in its evaluation spec.
func (s *NativeSettings) Defaults() {}

// Validate reports every problem.
func (s *NativeSettings) Validate(report func(key, msg string)) {
	ValidateExamples(s.Examples, report)
	ValidateStatistics(s.StatisticsExamples, s.FisherLabels, report)
}

// Statistics implements StatisticsComputer: the statistics settings with
// their defaults.
func (s *NativeSettings) Statistics() StatisticsOptions {
	o := StatisticsOptions{Examples: s.StatisticsExamples, Labels: model.FisherLabels(s.FisherLabels)}
	if o.Examples == 0 {
		o.Examples = DefaultStatisticsExamples
	}
	if o.Labels == "" {
		o.Labels = model.EmpiricalFisher
	}
	return o
}

// ValidateStatistics checks the statistics settings of a kind that
// computes them (StatisticsComputer).
func ValidateStatistics(examples int, labels string, report func(key, msg string)) {
	if examples < 0 {
		report("statistics_examples", fmt.Sprintf("%d: give a positive count of examples per expert (default %d, as FusionBench)", examples, DefaultStatisticsExamples))
	}
	switch model.FisherLabels(labels) {
	case "", model.EmpiricalFisher, model.ExpectedFisher:
	default:
		report("fisher_labels", fmt.Sprintf("unknown Fisher labels %q: use %q (each example's true label, the default) or %q (the expectation over the model's own predictions)", labels, model.EmpiricalFisher, model.ExpectedFisher))
	}
}

// FitnessExamples is Examples.
func (s *NativeSettings) FitnessExamples() int { return s.Examples }

// BuildNative is the native kind's factory: the benchmark's tasks on its
// fitness split, cut to Examples, scored by a Native evaluator. For an
// operator that reads statistics (fisher, regmean) it first computes each
// pool model's on its own task (env.ModelTasks), on the first
// StatisticsExamples examples of the task's fitness split.
func BuildNative(ctx context.Context, settings Settings, env Env) (*Built, error) {
	s := settings.(*NativeSettings)
	if env.Benchmark == nil {
		return nil, errors.New("the native evaluator scores on a built-in benchmark's task data, and the run has none")
	}
	ts, err := env.Benchmark.LoadTasks(ctx, benchmarks.TaskOptions{})
	if err != nil {
		return nil, err
	}
	if op := env.Merge.Operator; op != nil && NeedsStatistics(op) && env.Merge.Pool != nil {
		st, err := ComputeStatistics(ctx, env.Merge.Pool, op, ts, env.ModelTasks, s.Statistics(), env.Log)
		if err != nil {
			return nil, err
		}
		env.Merge.Statistics = st
	}
	tasks.LimitFitness(ts, s.Examples)
	native, err := NewNative(NativeConfig{Merge: env.Merge, Tasks: ts, Objectives: env.Objectives, Workers: env.Workers})
	if err != nil {
		return nil, err
	}
	return &Built{Evaluator: native, Native: native, Tasks: ts}, nil
}

// ValidateExamples checks the examples setting of a kind that scores on
// the fitness split (ExampleLimiter).
func ValidateExamples(n int, report func(key, msg string)) {
	if n < 0 {
		report("examples", fmt.Sprintf("%d: give a positive count (0 means the whole fitness split)", n))
	}
}
