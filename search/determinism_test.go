package search_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/cmaes"
	"github.com/evomerge/evomerge/search/ga"
	"github.com/evomerge/evomerge/search/nsga2"
	"github.com/evomerge/evomerge/search/random"
	"github.com/evomerge/evomerge/search/searchtest"
)

// batchLog records the ids of every evaluated batch, in order.
type batchLog struct{ batches [][]string }

func (b *batchLog) Init(search.RunInfo) error { return nil }
func (b *batchLog) Record(ev search.Event) error {
	if ev.Kind == search.EventBatch {
		ids := make([]string, len(ev.Batch))
		for i, c := range ev.Batch {
			ids[i] = c.ID
		}
		b.batches = append(b.batches, ids)
	}
	return nil
}

// TestDeterminismAllMethods: the same seed gives the same asked genomes,
// batch by batch, and the same front, whether the evaluator runs candidates
// one by one or on 4 goroutines that complete in random order; another seed
// gives another run. Failures are injected by candidate id.
func TestDeterminismAllMethods(t *testing.T) {
	scal := search.Scalarization{Weights: []float64{1, 1}}
	methods := []struct {
		name string
		make func() (search.Method, error)
	}{
		{"random-lhs", func() (search.Method, error) { return random.New(random.Options{BatchSize: 12, Sampling: random.LHS}) }},
		{"nsga2", func() (search.Method, error) { return nsga2.New(nsga2.Options{PopulationSize: 12}) }},
		{"ga", func() (search.Method, error) { return ga.New(ga.Options{PopulationSize: 12, Scalarization: scal}) }},
		{"cmaes-full", func() (search.Method, error) {
			return cmaes.New(cmaes.Options{Variant: cmaes.Full, Scalarization: scal})
		}},
		{"cmaes-separable", func() (search.Method, error) {
			return cmaes.New(cmaes.Options{Variant: cmaes.Separable, Scalarization: scal})
		}},
	}
	p := searchtest.ZDT2(6)
	for _, mc := range methods {
		t.Run(mc.name, func(t *testing.T) {
			run := func(seed uint64, workers int) (*batchLog, *search.Result) {
				m, err := mc.make()
				if err != nil {
					t.Fatal(err)
				}
				log := &batchLog{}
				ev := &searchtest.Evaluator{Problem: p, Workers: workers, JitterSeed: uint64(workers) * 31, FailRate: 0.15, FailSeed: 4}
				res, err := search.Run(context.Background(), m, ev, problemOf(p, seed),
					search.Settings{MaxEvaluations: 150, Recorders: []search.Recorder{log}, EvalSpec: "zdt2", Version: "test/1"})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != search.StatusEvaluationLimit {
					t.Fatalf("status %s: %v", res.Status, res.Err)
				}
				return log, res
			}
			serial, res1 := run(42, 1)
			conc, res2 := run(42, 4)
			_, res3 := run(43, 1)
			if len(serial.batches) < 3 {
				t.Fatalf("only %d batches", len(serial.batches))
			}
			if fmt.Sprint(serial.batches) != fmt.Sprint(conc.batches) {
				t.Fatal("batches differ between 1 and 4 concurrent workers")
			}
			if !slices.Equal(res1.Front, res2.Front) || res1.Failed != res2.Failed || res1.Failed == 0 {
				t.Fatalf("fronts %v / %v, failed %d / %d", res1.Front, res2.Front, res1.Failed, res2.Failed)
			}
			if res1.Candidates[0].ID == res3.Candidates[0].ID && res1.Candidates[len(res1.Candidates)-1].ID == res3.Candidates[len(res3.Candidates)-1].ID {
				t.Fatal("another seed gave the same run")
			}
		})
	}
}
