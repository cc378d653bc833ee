package evaluate

import (
	"context"
	"fmt"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/population"
)

// BenchmarkNativeEvaluate measures full evaluations (merge + score on the
// fitness split) per second, with allocations per evaluation: one op is one
// candidate. Sub-benchmarks: a small synthetic pool (always) and mnist-tasks
// (when it is already prepared), each with 1 and 2 workers.
func BenchmarkNativeEvaluate(b *testing.B) {
	b.Run("synthetic", func(b *testing.B) {
		s := newSynthetic(b, 1000)
		pool := s.pool(b)
		objs := []fitness.Objective{{Name: "mean/acc", Task: MeanTask, Metric: tasks.MetricAccuracy, Direction: fitness.Maximize}}
		benchWorkers(b, NativeConfig{Merge: groupTaskArithmetic(b, pool), Tasks: s.tasks, Objectives: objs})
	})
	b.Run("mnist-tasks", func(b *testing.B) {
		bm := testkit.PreparedMNISTTasks(b)
		pool, err := BenchmarkPool(bm)
		if err != nil {
			b.Fatal(err)
		}
		ts, err := bm.LoadTasks(context.Background(), benchmarks.TaskOptions{})
		if err != nil {
			b.Skipf("mnist-tasks data: %v", err)
		}
		benchWorkers(b, NativeConfig{Merge: groupTaskArithmetic(b, pool), Tasks: ts, Objectives: meanAndTaskObjectives(ts)})
	})
}

// meanAndTaskObjectives are the objectives of the mnist-tasks benchmarks:
// the mean normalized accuracy, then each task's accuracy.
func meanAndTaskObjectives(ts []tasks.Task) []fitness.Objective {
	objs := []fitness.Objective{{Name: "mean/normalized", Task: MeanTask, Metric: tasks.MetricNormalized, Direction: fitness.Maximize}}
	for _, t := range ts {
		objs = append(objs, fitness.Objective{Name: t.Name + "/accuracy", Task: t.Name, Metric: tasks.MetricAccuracy, Direction: fitness.Maximize})
	}
	return objs
}

func benchWorkers(b *testing.B, cfg NativeConfig) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg.Workers = workers
			e, err := NewNative(cfg)
			if err != nil {
				b.Fatal(err)
			}
			dims := cfg.Merge.Mapping.Space().Len()
			batch := make([]*population.Candidate, workers)
			for i := range batch {
				x := make([]float64, dims)
				for j := range x {
					x[j] = 0.3 + 0.1*float64(i+j)
				}
				batch[i] = &population.Candidate{Genome: population.VectorGenome(x)}
			}
			examples := 0
			for _, t := range cfg.Tasks {
				examples += t.Fitness().Len()
			}
			ctx := context.Background()
			if err := e.Evaluate(ctx, batch); err != nil { // warm-up: buffers grow to size
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += workers {
				part := batch[:min(workers, b.N-done)]
				for _, c := range part {
					c.Status, c.Scores, c.Correct = population.StatusPending, nil, nil
				}
				if err := e.Evaluate(ctx, part); err != nil {
					b.Fatal(err)
				}
				if !part[0].OK() {
					b.Fatal(part[0].Error)
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "evals/s")
			b.ReportMetric(float64(b.N)*float64(examples)/sec, "examples/s")
		})
	}
}
