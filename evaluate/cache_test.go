package evaluate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// countingEvaluator scores a genome with the sum of its values and fails
// genomes whose first value is negative; it records what it was asked.
type countingEvaluator struct {
	mu    sync.Mutex
	calls int
	seen  []string // genome encodings evaluated
	err   error    // returned after evaluating
	leave int      // candidates at the end of a batch left pending
}

func (e *countingEvaluator) Evaluate(_ context.Context, batch []*population.Candidate) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	for i, c := range batch {
		if i >= len(batch)-e.leave {
			continue
		}
		b, _ := c.Genome.CanonicalJSON()
		e.seen = append(e.seen, string(b))
		if c.Genome.Values[0] < 0 {
			c.Fail(fmt.Errorf("negative first value %v", c.Genome.Values[0]))
			continue
		}
		sum := 0.0
		for _, v := range c.Genome.Values {
			sum += v
		}
		c.Scores = []float64{sum, -sum}
		c.Correct = []population.TaskCorrectness{{Task: "t", Bits: population.BitsetOf([]bool{sum > 1, true})}}
		c.Status = population.StatusOK
	}
	return e.err
}

func TestCacheHitsMissesAndDuplicates(t *testing.T) {
	inner := &countingEvaluator{}
	store := NewMemoryStore()
	c, err := NewCache(inner, store, "spec-A", "v1")
	if err != nil {
		t.Fatal(err)
	}
	batch := candidates([]float64{1, 2}, []float64{3, 4}, []float64{1, 2}, []float64{-1, 0}, []float64{1, 2})
	if err := c.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats(); got != (CacheStats{Hits: 0, Misses: 3, Duplicates: 2}) {
		t.Errorf("first batch stats %+v, want 3 misses and 2 duplicates", got)
	}
	if len(inner.seen) != 3 {
		t.Errorf("the inner evaluator saw %d genomes, want 3 (duplicates evaluated once): %v", len(inner.seen), inner.seen)
	}
	for _, i := range []int{2, 4} {
		if !reflect.DeepEqual(batch[i].Scores, batch[0].Scores) || !reflect.DeepEqual(batch[i].Correct, batch[0].Correct) || batch[i].Status != population.StatusOK {
			t.Errorf("duplicate %d: %+v, want the result of candidate 0 %+v", i, batch[i], batch[0])
		}
	}
	batch[2].Correct[0].Bits.Set(1, false)
	if !batch[0].Correct[0].Bits.Get(1) {
		t.Error("a duplicate shares its correctness bits with the evaluated candidate")
	}
	if batch[3].Status != population.StatusFailed || !strings.Contains(batch[3].Error, "negative") {
		t.Errorf("failed candidate: %+v", batch[3])
	}
	for i, cand := range batch {
		want, _ := population.ID(cand.Genome, "spec-A", "v1")
		if cand.ID != want {
			t.Errorf("candidate %d id %q, want %q", i, cand.ID, want)
		}
	}
	if store.Len() != 3 {
		t.Errorf("store holds %d candidates, want 3", store.Len())
	}

	// Second batch: every known genome is a hit (failures included), the
	// new one is evaluated.
	before := len(inner.seen)
	again := candidates([]float64{3, 4}, []float64{-1, 0}, []float64{5, 5}, []float64{1, 2})
	if err := c.Evaluate(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats(); got != (CacheStats{Hits: 3, Misses: 4, Duplicates: 2}) {
		t.Errorf("cumulative stats %+v, want 3 hits, 4 misses, 2 duplicates", got)
	}
	if len(inner.seen) != before+1 {
		t.Errorf("the inner evaluator saw %d new genomes, want 1", len(inner.seen)-before)
	}
	if !reflect.DeepEqual(again[0].Scores, []float64{7, -7}) || again[1].Status != population.StatusFailed || !reflect.DeepEqual(again[3].Scores, batch[0].Scores) {
		t.Errorf("hits did not reproduce the stored results: %+v %+v %+v", again[0], again[1], again[3])
	}
	// An all-hit batch does not call the inner evaluator.
	calls := inner.calls
	if err := c.Evaluate(context.Background(), candidates([]float64{5, 5})); err != nil {
		t.Fatal(err)
	}
	if inner.calls != calls {
		t.Error("an all-hit batch called the inner evaluator")
	}
}

func TestCacheNeverAnswersForAnotherSpec(t *testing.T) {
	store := NewMemoryStore()
	for _, spec := range []struct{ spec, version string }{{"spec-A", "v1"}, {"spec-B", "v1"}, {"spec-A", "v2"}} {
		inner := &countingEvaluator{}
		c, err := NewCache(inner, store, spec.spec, spec.version)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Evaluate(context.Background(), candidates([]float64{1, 2})); err != nil {
			t.Fatal(err)
		}
		if got := c.Stats(); got.Hits != 0 || got.Misses != 1 {
			t.Errorf("%v: stats %+v: a result of another spec or version was reused", spec, got)
		}
	}
	if store.Len() != 3 {
		t.Errorf("store holds %d entries, want 3", store.Len())
	}
}

func TestCacheErrorsAndPending(t *testing.T) {
	inner := &countingEvaluator{err: errors.New("evaluator broke"), leave: 1}
	store := NewMemoryStore()
	c, err := NewCache(inner, store, "s", "v")
	if err != nil {
		t.Fatal(err)
	}
	batch := candidates([]float64{1, 1}, []float64{2, 2}, []float64{2, 2})
	if err := c.Evaluate(context.Background(), batch); err == nil || !strings.Contains(err.Error(), "evaluator broke") {
		t.Errorf("error %v, want the inner evaluator's", err)
	}
	if store.Len() != 1 || batch[1].Status != population.StatusPending || batch[2].Status != population.StatusPending {
		t.Errorf("pending candidates were stored or answered: store %d, statuses %s %s", store.Len(), batch[1].Status, batch[2].Status)
	}

	// A candidate whose id was computed with another spec is refused.
	wrong := candidates([]float64{1, 1})
	wrong[0].ID, _ = population.ID(wrong[0].Genome, "other", "v")
	if err := c.Evaluate(context.Background(), wrong); err == nil || !strings.Contains(err.Error(), "EvalSpec and Version") {
		t.Errorf("mismatched id: %v", err)
	}
	if _, err := NewCache(inner, store, "", "v"); err == nil {
		t.Error("a cache without an evaluation spec was accepted")
	}
	if err := store.Store(&population.Candidate{ID: "x", Status: population.StatusPending}); err == nil {
		t.Error("storing a pending candidate was accepted")
	}
}

// The cache in front of the native evaluator answers exactly what the
// evaluator would.
func TestCacheOverNative(t *testing.T) {
	s := newSynthetic(t, 30)
	e := newNative(t, s, linearMerge(t, s.pool(t), true), accuracyObjectives("alpha", "beta"), 2, 0)
	c, err := NewIdentifiedCache(e, NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	first := candidates([]float64{0.2, 0.8}, []float64{0.6, 0.4})
	if err := c.Evaluate(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	second := candidates([]float64{0.6, 0.4}, []float64{0.2, 0.8})
	if err := c.Evaluate(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats(); got.Hits != 2 || got.Misses != 2 {
		t.Errorf("stats %+v, want 2 hits and 2 misses", got)
	}
	if !reflect.DeepEqual(first[0].Scores, second[1].Scores) || !reflect.DeepEqual(first[1].Correct, second[0].Correct) {
		t.Error("cache hits differ from the evaluations they replay")
	}
}

// replayMethod asks fixed batches in turn; it records what it was told.
type replayMethod struct {
	batches [][][]float64
	next    int
	told    [][]*population.Candidate
}

func (m *replayMethod) Init(search.Problem) error { return nil }

func (m *replayMethod) Ask() ([]*population.Candidate, error) {
	if m.next == len(m.batches) {
		return nil, nil
	}
	m.next++
	return candidates(m.batches[m.next-1]...), nil
}

func (m *replayMethod) Tell(batch []*population.Candidate) error {
	m.told = append(m.told, batch)
	return nil
}

// In a search run the cache's ids are the run's ids: repeated genomes across
// and within generations are evaluated once, and the run sees the same
// scores it would without the cache.
func TestCacheInSearchRun(t *testing.T) {
	s := newSynthetic(t, 30)
	native := newNative(t, s, linearMerge(t, s.pool(t), true), accuracyObjectives("alpha", "beta"), 2, 0)
	cache, err := NewIdentifiedCache(native, NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	batches := [][][]float64{
		{{0.2, 0.8}, {0.5, 0.5}, {0.2, 0.8}},
		{{0.5, 0.5}, {0.9, 0.1}},
		{{0.9, 0.1}, {0.2, 0.8}, {0, 0}},
	}
	problem := search.Problem{Space: native.Merger().mapping.Space(), Directions: []fitness.Direction{fitness.Maximize, fitness.Maximize}, Seed: 1}
	run := func(ev search.Evaluator) *replayMethod {
		m := &replayMethod{batches: batches}
		res, err := search.Run(context.Background(), m, ev, problem, search.Settings{EvalSpec: cache.EvalSpec(), Version: cache.Version()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != search.StatusMethodDone || res.Evaluations != 8 {
			t.Fatalf("run ended %s after %d evaluations (%v)", res.Status, res.Evaluations, res.Err)
		}
		return m
	}
	cached := run(cache)
	if got := cache.Stats(); got != (CacheStats{Hits: 3, Misses: 4, Duplicates: 1}) {
		t.Errorf("stats %+v, want 4 distinct genomes evaluated, 3 hits across generations, 1 duplicate within one", got)
	}
	plain := run(native)
	for g := range plain.told {
		for i := range plain.told[g] {
			a, b := cached.told[g][i], plain.told[g][i]
			if a.ID != b.ID || a.Status != b.Status || !reflect.DeepEqual(a.Scores, b.Scores) || !reflect.DeepEqual(a.Correct, b.Correct) {
				t.Errorf("generation %d candidate %d: cached %s %v, uncached %s %v", g, i, a.Status, a.Scores, b.Status, b.Scores)
			}
		}
	}
}
