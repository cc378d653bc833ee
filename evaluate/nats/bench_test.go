package nats

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// mnistSetup is task arithmetic with λ per linear layer group over
// mnist-tasks, scored by mean normalized accuracy and each task's accuracy.
func mnistSetup(tb testing.TB, b *benchmarks.Benchmark) *Setup {
	tb.Helper()
	base, experts, err := BenchmarkRefs(b)
	if err != nil {
		tb.Fatal(err)
	}
	groups := b.Config().Groups()
	var names []string
	for _, e := range experts {
		names = append(names, e.Name)
	}
	objs := []fitness.Objective{{Name: "mean/normalized", Task: evaluate.MeanTask, Metric: tasks.MetricNormalized, Direction: fitness.Maximize}}
	for _, task := range b.TaskNames() {
		objs = append(objs, fitness.Objective{Name: task + "/accuracy", Task: task, Metric: tasks.MetricAccuracy, Direction: fitness.Maximize})
	}
	return &Setup{
		V: SetupVersion, Benchmark: &BenchmarkRef{Name: b.Name}, Base: base, Experts: experts,
		Operator: "task_arithmetic", Seed: 1, Objectives: objs,
		Search: searchspace.Spec{Operator: "task_arithmetic", Models: names, Targets: []searchspace.Target{{Param: "lambda", Groups: groups}}},
	}
}

var genomeCounter atomic.Int64

// freshBatch returns n candidates never evaluated before in this process.
func freshBatch(dims, n int) []*population.Candidate {
	out := make([]*population.Candidate, n)
	for i := range out {
		k := float64(genomeCounter.Add(1))
		x := make([]float64, dims)
		for j := range x {
			f := k*0.6180339887 + float64(j)*0.37
			x[j] = 0.2 + 0.6*(f-float64(int(f)))
		}
		out[i] = &population.Candidate{Genome: population.VectorGenome(x), Status: population.StatusPending}
	}
	return out
}

// BenchmarkMNISTTasks measures evaluations per second on mnist-tasks
// in-process and through an embedded NATS server with 1, 2 and 4 local
// worker processes (one evaluation at a time each). One op is one
// candidate; batches of 8 as a search would send them. Run with a fixed
// count, e.g. -benchtime=48x.
func BenchmarkMNISTTasks(b *testing.B) {
	bm := testkit.PreparedMNISTTasks(b)
	s := mnistSetup(b, bm)
	local, err := s.Build(context.Background(), BuildOptions{Kinds: testKinds, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	dims := len(s.Search.Targets[0].Groups)
	const batch = 8
	// measure evaluates b.N fresh candidates in batches. With a
	// distributed evaluator it also reports the workers' own time per
	// evaluation (worker-ms/eval, from the results' Started and Finished);
	// with one worker, ms/eval minus that is the overhead of going through
	// NATS (publish, fetch, setup check, result write, watch).
	measure := func(b *testing.B, ev search.Evaluator) {
		var inWorker time.Duration
		b.ResetTimer()
		for done := 0; done < b.N; done += batch {
			cands := freshBatch(dims, min(batch, b.N-done))
			if err := ev.Evaluate(context.Background(), cands); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			for _, c := range cands {
				if c.Status != population.StatusOK {
					b.Fatalf("candidate %s: %s %s", short(c.ID), c.Status, c.Error)
				}
				if d, ok := ev.(*Evaluator); ok {
					r, err := d.lookup(context.Background(), c.ID)
					if err != nil {
						b.Fatal(err)
					}
					inWorker += r.Finished.Sub(r.Started)
				}
			}
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/eval")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
		if inWorker > 0 {
			b.ReportMetric(float64(inWorker.Microseconds())/1000/float64(b.N), "worker-ms/eval")
		}
	}
	b.Run("in-process", func(b *testing.B) { measure(b, local) })
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			srv := startServer(b, "127.0.0.1:0", b.TempDir())
			nc := connect(b, srv.ClientURL())
			ev, err := NewEvaluator(context.Background(), nc, s, local, Options{Poll: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				startWorker(b, srv.ClientURL(), 0, time.Minute, 1, envNative+"=1")
			}
			// Warm-up: every worker builds the setup (loads the pool and data).
			if err := ev.Evaluate(context.Background(), freshBatch(dims, 4*n)); err != nil {
				b.Fatal(err)
			}
			measure(b, ev)
		})
	}
}

// BenchmarkRoundTrip measures the fixed cost of a distributed evaluation
// on a tiny synthetic pool (an evaluation takes well under a millisecond):
// publish, fetch, setup and identity check, result write, watch, with one
// local worker process, one candidate per batch (latency) and 8 per batch.
func BenchmarkRoundTrip(b *testing.B) {
	s := writePool(b, b.TempDir(), 20)
	local := localNative(b, s)
	srv := startServer(b, "127.0.0.1:0", b.TempDir())
	nc := connect(b, srv.ClientURL())
	ev, err := NewEvaluator(context.Background(), nc, s, local, Options{Poll: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	startWorker(b, srv.ClientURL(), 0, time.Minute, 1)
	if err := ev.Evaluate(context.Background(), freshBatch(2, 4)); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			for done := 0; done < b.N; done += size {
				cands := freshBatch(2, min(size, b.N-done))
				if err := ev.Evaluate(context.Background(), cands); err != nil {
					b.Fatal(err)
				}
				if cands[0].Status != population.StatusOK {
					b.Fatalf("%s %s", cands[0].Status, cands[0].Error)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/eval")
		})
	}
}
