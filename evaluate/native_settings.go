package evaluate

import (
	"context"
	"errors"
	"fmt"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/tasks"
)

// NativeKind is the native evaluator's name in evaluator.kind.
const NativeKind = "native"

// NativeSettings are the native evaluator's keys of [evaluator].
type NativeSettings struct {
	// Examples limits the fitness split to its first Examples examples per
	// task (0: all).
	Examples int `toml:"examples,omitempty"`
}

// NewNativeSettings returns empty settings to decode [evaluator] into.
func NewNativeSettings() Settings { return new(NativeSettings) }

// Defaults: every setting's zero is its default.
func (s *NativeSettings) Defaults() {}

// Validate reports every problem.
func (s *NativeSettings) Validate(report func(key, msg string)) {
	ValidateExamples(s.Examples, report)
}

// FitnessExamples is Examples.
func (s *NativeSettings) FitnessExamples() int { return s.Examples }

// BuildNative is the native kind's factory: the benchmark's tasks on its
// fitness split, cut to Examples, scored by a Native evaluator.
func BuildNative(ctx context.Context, settings Settings, env Env) (*Built, error) {
	s := settings.(*NativeSettings)
	if env.Benchmark == nil {
		return nil, errors.New("the native evaluator scores on a built-in benchmark's task data, and the run has none")
	}
	ts, err := env.Benchmark.LoadTasks(ctx, benchmarks.TaskOptions{})
	if err != nil {
		return nil, err
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
