package search_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/random"
	"github.com/evomerge/evomerge/search/searchtest"
)

func problemOf(p searchtest.Problem, seed uint64) search.Problem {
	return search.Problem{Space: p.Space, Directions: p.Directions, Seed: seed}
}

func newRandom(t *testing.T, batch int) *random.Method {
	t.Helper()
	m, err := random.New(random.Options{BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeClock advances by step at every call.
type fakeClock struct {
	now  time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time { c.now = c.now.Add(c.step); return c.now }

func TestRunLimits(t *testing.T) {
	zdt := searchtest.ZDT1(5)
	cases := []struct {
		name        string
		settings    search.Settings
		status      search.Status
		evaluations int
		generations int
	}{
		{"evaluations-truncate", search.Settings{MaxEvaluations: 40}, search.StatusEvaluationLimit, 40, 2},
		{"evaluations-exact", search.Settings{MaxEvaluations: 48}, search.StatusEvaluationLimit, 48, 3},
		{"generations", search.Settings{MaxGenerations: 3}, search.StatusGenerationLimit, 48, 3},
		{"both-generations-first", search.Settings{MaxGenerations: 2, MaxEvaluations: 100}, search.StatusGenerationLimit, 32, 2},
		// The clock advances 1s per reading: start, then one reading per
		// limit check and per recorded batch (2 per round), so 5s allow
		// 2 rounds before the check at t=5s stops the run.
		{"runtime", search.Settings{Runtime: 5 * time.Second, Clock: (&fakeClock{step: time.Second}).Now}, search.StatusRuntimeLimit, 32, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := &searchtest.Evaluator{Problem: zdt}
			res, err := search.Run(context.Background(), newRandom(t, 16), ev, problemOf(zdt, 1), c.settings)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.status || res.Evaluations != c.evaluations || res.Generations != c.generations {
				t.Fatalf("status %s, %d evaluations, %d generations; want %s, %d, %d (err %v)",
					res.Status, res.Evaluations, res.Generations, c.status, c.evaluations, c.generations, res.Err)
			}
			if ev.Calls() != c.evaluations || len(res.Candidates) != c.evaluations {
				t.Fatalf("evaluator called %d times, %d candidates, want %d", ev.Calls(), len(res.Candidates), c.evaluations)
			}
			for i, cand := range res.Candidates {
				if want := i / 16; cand.Lineage.Generation != want {
					t.Fatalf("candidate %d has generation %d, want %d", i, cand.Lineage.Generation, want)
				}
				id, _ := population.ID(cand.Genome, "", "")
				if cand.ID != id {
					t.Fatalf("candidate %d id %s, want %s", i, cand.ID, id)
				}
			}
		})
	}
}

func TestRunFailuresAndFront(t *testing.T) {
	zdt := searchtest.ZDT1(4)
	ev := &searchtest.Evaluator{Problem: zdt, FailRate: 0.3, FailSeed: 7}
	res, err := search.Run(context.Background(), newRandom(t, 20), ev, problemOf(zdt, 3), search.Settings{MaxEvaluations: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != search.StatusEvaluationLimit || res.Evaluations != 200 {
		t.Fatalf("status %s after %d evaluations: failures must not stop a run", res.Status, res.Evaluations)
	}
	failed := 0
	for _, c := range res.Candidates {
		if c.Status == population.StatusFailed {
			failed++
			if c.Error != searchtest.ErrInjected.Error() || c.Scores != nil {
				t.Fatalf("failed candidate %+v", c)
			}
		}
	}
	// 30% of 200 with binomial sd ≈ 6.5: a broken injector gives 0 or 200.
	if failed != res.Failed || failed < 35 || failed > 85 {
		t.Fatalf("%d failed candidates, result says %d", failed, res.Failed)
	}
	inFront := map[int]bool{}
	for _, k := range res.Front {
		inFront[k] = true
		if !res.Candidates[k].OK() {
			t.Fatalf("failed candidate %d in the front", k)
		}
	}
	if len(res.Front) == 0 {
		t.Fatal("empty front")
	}
	// Brute force: front members are dominated by nobody; every other
	// successful candidate is dominated by somebody.
	for i, a := range res.Candidates {
		if !a.OK() {
			continue
		}
		dominated := false
		for _, b := range res.Candidates {
			if b.OK() && fitness.Dominates(b.Scores, a.Scores, zdt.Directions) {
				dominated = true
				break
			}
		}
		if dominated == inFront[i] {
			t.Fatalf("candidate %d: dominated=%v but inFront=%v", i, dominated, inFront[i])
		}
	}
}

// cancelAfter cancels the run's context when it records the given batch.
type cancelAfter struct {
	batches int
	cancel  context.CancelFunc
	events  []search.EventKind
	inited  bool
}

func (c *cancelAfter) Init(search.RunInfo) error { c.inited = true; return nil }
func (c *cancelAfter) Record(ev search.Event) error {
	c.events = append(c.events, ev.Kind)
	if ev.Kind == search.EventBatch && ev.Generation+1 == c.batches {
		c.cancel()
	}
	return nil
}

func TestRunCancel(t *testing.T) {
	zdt := searchtest.ZDT1(4)
	for _, workers := range []int{1, 4} {
		ctx, cancel := context.WithCancel(context.Background())
		rec := &cancelAfter{batches: 3, cancel: cancel}
		ev := &searchtest.Evaluator{Problem: zdt, Workers: workers}
		res, err := search.Run(ctx, newRandom(t, 8), ev, problemOf(zdt, 1), search.Settings{Recorders: []search.Recorder{rec}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != search.StatusCancelled || !errors.Is(res.Err, context.Canceled) {
			t.Fatalf("status %s err %v", res.Status, res.Err)
		}
		if res.Evaluations != 24 || res.Generations != 3 {
			t.Fatalf("%d evaluations, %d generations, want 24, 3", res.Evaluations, res.Generations)
		}
		if !rec.inited || len(rec.events) != 4 || rec.events[3] != search.EventFinal {
			t.Fatalf("recorder saw %v", rec.events)
		}
	}
	// Cancelled in the middle of a batch: evaluated candidates are kept,
	// pending ones dropped.
	ctx, cancel := context.WithCancel(context.Background())
	ev := &midCancel{inner: &searchtest.Evaluator{Problem: zdt}, after: 5, cancel: cancel}
	res, _ := search.Run(ctx, newRandom(t, 8), ev, problemOf(zdt, 1), search.Settings{})
	if res.Status != search.StatusCancelled || res.Evaluations != 5 || len(res.Candidates) != 5 {
		t.Fatalf("mid-batch cancel: status %s, %d evaluations", res.Status, res.Evaluations)
	}
}

type midCancel struct {
	inner  *searchtest.Evaluator
	after  int
	cancel context.CancelFunc
}

func (m *midCancel) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	if err := m.inner.Evaluate(ctx, batch[:m.after]); err != nil {
		return err
	}
	m.cancel()
	return m.inner.Evaluate(ctx, batch[m.after:])
}

// badScores returns the wrong number of scores for some candidates and NaN
// for others.
type badScores struct{ n int }

func (b *badScores) Evaluate(_ context.Context, batch []*population.Candidate) error {
	for _, c := range batch {
		b.n++
		c.Status = population.StatusOK
		switch b.n % 3 {
		case 0:
			c.Scores = []float64{1}
		case 1:
			c.Scores = []float64{1, math.NaN()}
		default:
			c.Scores = []float64{1, 2}
		}
	}
	return nil
}

func TestRunChecksScores(t *testing.T) {
	zdt := searchtest.ZDT1(3)
	res, err := search.Run(context.Background(), newRandom(t, 6), &badScores{}, problemOf(zdt, 1), search.Settings{MaxEvaluations: 6})
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{"NaN for objective 1", "", "returned 1 scores"}
	for i, c := range res.Candidates {
		w := wants[i%3]
		if w == "" {
			if !c.OK() {
				t.Errorf("candidate %d failed: %s", i, c.Error)
			}
			continue
		}
		if c.OK() || !strings.Contains(c.Error, w) {
			t.Errorf("candidate %d: status %s error %q, want failure mentioning %q", i, c.Status, c.Error, w)
		}
	}
	if res.Failed != 4 {
		t.Errorf("Failed = %d, want 4", res.Failed)
	}
}

type failingMethod struct {
	search.Method
	askErr, tellErr error
}

func (f *failingMethod) Ask() ([]*population.Candidate, error) {
	if f.askErr != nil {
		return nil, f.askErr
	}
	return f.Method.Ask()
}
func (f *failingMethod) Tell(b []*population.Candidate) error {
	if f.tellErr != nil {
		return f.tellErr
	}
	return f.Method.Tell(b)
}

type emptyMethod struct{}

func (emptyMethod) Init(search.Problem) error             { return nil }
func (emptyMethod) Ask() ([]*population.Candidate, error) { return nil, nil }
func (emptyMethod) Tell([]*population.Candidate) error    { return nil }

type outsideMethod struct{ emptyMethod }

func (outsideMethod) Ask() ([]*population.Candidate, error) {
	return []*population.Candidate{search.NewCandidate([]float64{0.5, 7, 0}, "x")}, nil
}

func TestRunErrors(t *testing.T) {
	zdt := searchtest.ZDT1(3)
	ev := &searchtest.Evaluator{Problem: zdt}
	boom := errors.New("boom")
	cases := []struct {
		name   string
		m      search.Method
		s      search.Settings
		status search.Status
		want   string
	}{
		{"ask", &failingMethod{Method: newRandom(t, 4), askErr: boom}, search.Settings{}, search.StatusFailure, "ask: boom"},
		{"tell", &failingMethod{Method: newRandom(t, 4), tellErr: boom}, search.Settings{}, search.StatusFailure, "tell: boom"},
		{"recorder", newRandom(t, 4), search.Settings{Recorders: []search.Recorder{search.RecorderFunc(func(search.Event) error { return boom })}}, search.StatusFailure, "recorder 0"},
		{"done", emptyMethod{}, search.Settings{}, search.StatusMethodDone, ""},
		{"outside", outsideMethod{}, search.Settings{}, search.StatusFailure, `"x1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := search.Run(context.Background(), c.m, ev, problemOf(zdt, 1), c.s)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.status {
				t.Fatalf("status %s, want %s (err %v)", res.Status, c.status, res.Err)
			}
			if c.want != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), c.want)) {
				t.Fatalf("err %v, want mention of %q", res.Err, c.want)
			}
		})
	}
	if _, err := search.Run(context.Background(), newRandom(t, 4), ev, problemOf(zdt, 1), search.Settings{MaxEvaluations: -1}); err == nil {
		t.Error("negative budget accepted")
	}
	if _, err := search.Run(context.Background(), newRandom(t, 4), ev, search.Problem{Space: zdt.Space}, search.Settings{}); err == nil {
		t.Error("problem without objectives accepted")
	}
}

func TestScalarization(t *testing.T) {
	dirs := []fitness.Direction{fitness.Maximize, fitness.Minimize}
	ok := &population.Candidate{Status: population.StatusOK, Scores: []float64{0.8, 2}}
	failed := &population.Candidate{Status: population.StatusFailed}
	cases := []struct {
		name string
		s    search.Scalarization
		want float64
	}{
		{"default", search.Scalarization{}, -0.8 + 2},
		{"weighted", search.Scalarization{Weights: []float64{2, 0.5}}, -1.6 + 1},
		// max(1·(−0.8 − (−1)), 1·(2 − 0)) + 0.1·(0.2 + 2)
		{"chebyshev", search.Scalarization{Method: search.Chebyshev, Ideal: []float64{1, 0}, Rho: 0.1}, 2 + 0.22},
	}
	for _, c := range cases {
		if err := c.s.Validate(2); err != nil {
			t.Fatal(err)
		}
		if got := c.s.Cost(ok, dirs); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: cost %v, want %v", c.name, got, c.want)
		}
		if got := c.s.Cost(failed, dirs); !math.IsInf(got, 1) {
			t.Errorf("%s: failed cost %v", c.name, got)
		}
	}
	for _, bad := range []search.Scalarization{{Method: "max"}, {Method: search.Chebyshev}, {Weights: []float64{1}}, {Rho: -1}} {
		if bad.Validate(2) == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// lazyEvaluator leaves the last candidate pending or returns an error.
type lazyEvaluator struct {
	inner *searchtest.Evaluator
	err   error
}

func (l *lazyEvaluator) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	if err := l.inner.Evaluate(ctx, batch[:len(batch)-1]); err != nil {
		return err
	}
	return l.err
}

func TestRunBrokenEvaluator(t *testing.T) {
	zdt := searchtest.ZDT1(3)
	for _, c := range []struct {
		err  error
		want string
	}{{nil, "1 of 4 candidates were left pending"}, {errors.New("worker pool died"), "worker pool died"}} {
		ev := &lazyEvaluator{inner: &searchtest.Evaluator{Problem: zdt}, err: c.err}
		res, err := search.Run(context.Background(), newRandom(t, 4), ev, problemOf(zdt, 1), search.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != search.StatusFailure || !strings.Contains(res.Err.Error(), c.want) || res.Evaluations != 3 {
			t.Fatalf("status %s, err %v, %d evaluations", res.Status, res.Err, res.Evaluations)
		}
	}
}

func TestFrontKeepsOneCandidatePerID(t *testing.T) {
	cand := func(id string, scores ...float64) *population.Candidate {
		return &population.Candidate{ID: id, Status: population.StatusOK, Scores: scores}
	}
	dirs := []fitness.Direction{fitness.Maximize, fitness.Maximize}
	tests := []struct {
		name  string
		cands []*population.Candidate
		want  []int
	}{
		{"repeat of a front member", []*population.Candidate{cand("a", 1, 0), cand("b", 0, 1), cand("a", 1, 0)}, []int{0, 1}},
		{"distinct ids with equal scores stay", []*population.Candidate{cand("a", 1, 1), cand("c", 1, 1)}, []int{0, 1}},
		{"repeat of a dominated candidate", []*population.Candidate{cand("d", 0, 0), cand("a", 1, 1), cand("d", 0, 0)}, []int{1}},
		{"failed candidates never count", []*population.Candidate{{ID: "f", Status: population.StatusFailed}, cand("a", 0, 0)}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := search.Front(tc.cands, dirs)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Front = %v, want %v", got, tc.want)
			}
		})
	}
}
