package ga

import (
	"context"
	"math"
	"math/rand"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/MaxHalford/eaopt"

	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/random"
	"github.com/evomerge/evomerge/search/searchtest"
)

func runGA(t *testing.T, m search.Method, p searchtest.Problem, seed uint64, evals, workers int, failRate float64) *search.Result {
	t.Helper()
	ev := &searchtest.Evaluator{Problem: p, Workers: workers, JitterSeed: seed + 7, FailRate: failRate, FailSeed: 3}
	res, err := search.Run(context.Background(), m, ev, search.Problem{Space: p.Space, Directions: p.Directions, Seed: seed}, search.Settings{MaxEvaluations: evals})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != search.StatusEvaluationLimit {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	return res
}

func best(res *search.Result) float64 {
	b := math.Inf(1)
	for _, c := range res.Candidates {
		if c.OK() {
			b = min(b, c.Scores[0])
		}
	}
	return b
}

func newGA(t *testing.T, o Options) *Method {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGAOptimises(t *testing.T) {
	cases := []struct {
		p      searchtest.Problem
		evals  int
		maxVal float64
	}{
		// Thresholds: measured ≈2e-6 on sphere and ≈0.01 on Rastrigin
		// (random search on the same budget: ≈0.7 and ≈20); a GA whose
		// selection or fitness bookkeeping is broken stays near random.
		{searchtest.Sphere(5), 4000, 1e-3},
		{searchtest.Rastrigin(5), 6000, 1},
	}
	for _, c := range cases {
		t.Run(c.p.Name, func(t *testing.T) {
			res := runGA(t, newGA(t, Options{}), c.p, 1, c.evals, 1, 0)
			rm, _ := random.New(random.Options{BatchSize: 40})
			rres := runGA(t, rm, c.p, 1, c.evals, 1, 0)
			t.Logf("%s: GA best %.3g, random best %.3g", c.p.Name, best(res), best(rres))
			if best(res) > c.maxVal {
				t.Errorf("GA best %.3g above %.3g", best(res), c.maxVal)
			}
			if best(res)*5 > best(rres) {
				t.Errorf("GA %.3g does not beat random %.3g by 5x", best(res), best(rres))
			}
		})
	}
}

// TestNoStaleFitness is the eaopt pitfall of style-anchors §3: after every
// generation, each individual's cached fitness must equal the cost of its
// current genome.
func TestNoStaleFitness(t *testing.T) {
	p := searchtest.Sphere(6)
	m := newGA(t, Options{PopulationSize: 20, MutationRate: 0.5})
	checked, stale, gens := 0, 0, 0
	m.afterGeneration = func(ga *eaopt.GA) {
		gens++
		for _, in := range ga.Populations[0].Individuals {
			g := in.Genome.(*genome)
			want := p.Score(p.Space.Decode(g.unit))[0]
			checked++
			if !in.Evaluated || in.Fitness != want || !g.known || g.cost != want {
				stale++
			}
		}
	}
	runGA(t, m, p, 4, 1000, 1, 0)
	if gens < 20 || checked != gens*20 {
		t.Fatalf("checked %d individuals over %d generations", checked, gens)
	}
	if stale != 0 {
		t.Fatalf("%d of %d individuals carried a stale fitness", stale, checked)
	}
}

func TestCrossoverWritesOnlyReceiver(t *testing.T) {
	cfg := Options{BlendAlpha: 0.5}.withDefaults()
	a := &genome{unit: []float64{0.2, 0.9, 0.5}, cost: 1, known: true, cfg: &cfg}
	b := &genome{unit: []float64{0.4, 0.1, 0.5}, cost: 2, known: true, cfg: &cfg}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100; i++ {
		c := a.Clone().(*genome)
		c.Crossover(b, r)
		if !slices.Equal(b.unit, []float64{0.4, 0.1, 0.5}) || !b.known || b.cost != 2 {
			t.Fatal("crossover changed the mate")
		}
		if c.known {
			t.Fatal("child keeps its parent's cost")
		}
		// BLX-0.5 interval: [lo − 0.5 span, hi + 0.5 span] clamped.
		if c.unit[0] < 0.1 || c.unit[0] > 0.5 || c.unit[1] < 0 || c.unit[1] > 1 || c.unit[2] != 0.5 {
			t.Fatalf("child %v outside the BLX interval", c.unit)
		}
	}
	if _, err := (&genome{}).Evaluate(); err == nil {
		t.Fatal("an untold genome evaluated without error")
	}
	m := a.Clone().(*genome)
	m.Mutate(r)
	if m.known || slices.Equal(m.unit, a.unit) {
		t.Fatal("mutation changed nothing or kept the cost")
	}
}

func ids(res *search.Result) []string {
	out := make([]string, len(res.Candidates))
	for i, c := range res.Candidates {
		out[i] = c.ID
	}
	return out
}

func TestDeterminismAndClose(t *testing.T) {
	p := searchtest.ZDT1(6) // two objectives, scalarised
	opts := Options{PopulationSize: 16, Scalarization: search.Scalarization{Method: search.Chebyshev, Ideal: []float64{0, 0}, Weights: []float64{1, 2}}}
	before := runtime.NumGoroutine()
	base := runGA(t, newGA(t, opts), p, 9, 300, 1, 0.1)
	again := runGA(t, newGA(t, opts), p, 9, 300, 1, 0.1)
	conc := runGA(t, newGA(t, opts), p, 9, 300, 4, 0.1)
	other := runGA(t, newGA(t, opts), p, 10, 300, 1, 0.1)
	if !slices.Equal(ids(base), ids(again)) || !slices.Equal(ids(base), ids(conc)) {
		t.Fatal("same seed gave different runs")
	}
	if slices.Equal(ids(base), ids(other)) {
		t.Fatal("different seeds gave the same run")
	}
	if base.Failed == 0 {
		t.Fatal("no failures injected")
	}
	// Every engine goroutine has been stopped by Close.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left running (%d before)", n, before)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{PopulationSize: 3}, {Tournament: 40}, {CrossoverRate: 2}, {MutationRate: math.NaN()},
		{CrossoverRate: -1, MutationRate: -1}, {MutationSigma: -1}, {Elite: 40}, {GeneMutationProb: 1.5},
		{PopulationSize: 4, Initial: make([][]float64, 5)},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	m := newGA(t, Options{Scalarization: search.Scalarization{Method: search.Chebyshev}})
	p := searchtest.ZDT1(3)
	if err := m.Init(search.Problem{Space: p.Space, Directions: p.Directions}); err == nil {
		t.Error("chebyshev without ideal accepted")
	}
}
