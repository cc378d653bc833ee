package lab

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/operators"
)

// prepare loads (or trains and caches) a built-in benchmark, with its tiny
// smoke recipe when smoke is set.
func prepare(ctx context.Context, name, cacheDir, mnistDir string, smoke bool, log io.Writer) (*benchmarks.Benchmark, error) {
	opt := benchmarks.Options{CacheDir: cacheDir, MNISTDir: mnistDir, Log: log}
	if smoke {
		r, err := benchmarks.SmokeRecipe(name)
		if err != nil {
			return nil, err
		}
		opt.Recipe = &r
	}
	return benchmarks.Prepare(ctx, name, opt)
}

// orDiscard is w, or io.Discard when w is nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
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
func expertScores(b *benchmarks.Benchmark) *benchmarks.Scores {
	s := &benchmarks.Scores{Benchmark: b.Name, Version: b.Version, Split: data.Test}
	for _, t := range b.Tasks {
		ts := benchmarks.TaskScore{Task: t.Name}
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

func meanNormalized(s *benchmarks.Scores) float64 {
	if s == nil || s.MeanNormalized == nil {
		return math.NaN()
	}
	return *s.MeanNormalized
}

func describeScores(s *benchmarks.Scores, err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return fmt.Sprintf("test mean normalized %.4f, mean accuracy %.4f", meanNormalized(s), s.MeanAccuracy)
}

// oneLine flattens an error message into one table cell of at most 160
// bytes.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
