package nsga2

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/random"
	"github.com/evomerge/evomerge/search/searchtest"
)

func TestSBXPairHand(t *testing.T) {
	// y1=0.4, y2=0.6, η=1, u=0.5: β=5 on both sides, α = 2 − 5⁻² = 1.96,
	// u ≤ 1/α so β_q = (0.98)^(1/2); children 0.5 ∓ 0.1·β_q.
	a, b := sbxPair(0.4, 0.6, 0.5, 1)
	bq := math.Sqrt(0.98)
	if math.Abs(a-(0.5-0.1*bq)) > 1e-15 || math.Abs(b-(0.5+0.1*bq)) > 1e-15 {
		t.Fatalf("sbxPair = %v, %v", a, b)
	}
	// u close to 1 spreads beyond the parents but stays in [0, 1].
	for _, c := range []struct{ y1, y2, u, eta float64 }{{0, 1, 0.999, 0}, {0.01, 0.02, 0.99999, 2}, {0.98, 0.99, 0.0001, 0.5}} {
		a, b := sbxPair(c.y1, c.y2, c.u, c.eta)
		if a < 0 || a > 1 || b < 0 || b > 1 || a > b {
			t.Errorf("sbxPair(%v) = %v, %v out of bounds", c, a, b)
		}
	}
	// A large η keeps children next to their parents.
	a, b = sbxPair(0.3, 0.7, 0.9, 500)
	if math.Abs(a-0.3) > 0.01 || math.Abs(b-0.7) > 0.01 {
		t.Errorf("η=500 children %v, %v far from parents", a, b)
	}
}

func TestPolyValueHand(t *testing.T) {
	cases := []struct{ y, u, eta, want float64 }{
		// u ≤ 0.5: val = 2u + (1−2u)(1−y)^(η+1) = 0.5 + 0.5·0.25, δ = val^(1/2) − 1.
		{0.5, 0.25, 1, 0.5 + math.Sqrt(0.625) - 1},
		// u > 0.5: val = 2(1−u) + 2(u−0.5)·y^(η+1) = 0.5 + 0.5·0.25, δ = 1 − val^(1/2).
		{0.5, 0.75, 1, 0.5 + 1 - math.Sqrt(0.625)},
		{0.2, 0.5, 20, 0.2}, // u = 0.5 leaves the value unchanged
	}
	for _, c := range cases {
		if got := polyValue(c.y, c.u, c.eta); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("polyValue(%v, %v, %v) = %v, want %v", c.y, c.u, c.eta, got, c.want)
		}
	}
	for _, y := range []float64{0, 1e-9, 0.5, 1} {
		for _, u := range []float64{0, 0.1, 0.49, 0.51, 0.99, 1} {
			if v := polyValue(y, u, 20); v < 0 || v > 1 || math.IsNaN(v) {
				t.Errorf("polyValue(%v, %v) = %v out of bounds", y, u, v)
			}
		}
	}
}

func TestSurvivalHand(t *testing.T) {
	mk := func(scores ...float64) *member {
		c := &population.Candidate{Status: population.StatusOK, Scores: scores}
		if scores == nil {
			c.Status = population.StatusFailed
		}
		return &member{cand: c, unit: []float64{0}}
	}
	dirs := []fitness.Direction{fitness.Minimize, fitness.Minimize}
	// Front 0: A B C D; crowding of B = 0.5+0.5 = 1, of C = 0.9+0.9 = 1.8.
	// Front 1: E. F failed.
	A, B, C, D, E, F := mk(0, 1), mk(0.1, 0.9), mk(0.5, 0.5), mk(1, 0), mk(1, 1), mk()
	cases := []struct {
		n    int
		want []*member
	}{
		{3, []*member{A, C, D}},
		{4, []*member{A, B, C, D}},
		{5, []*member{A, B, C, D, E}},
		{6, []*member{A, B, C, D, E, F}},
	}
	for _, c := range cases {
		m := &Method{prob: search.Problem{Directions: dirs}}
		m.pool = []*member{F, E, D, C, B, A}
		m.survive(c.n)
		got := slices.Clone(m.pop)
		slices.SortFunc(got, func(a, b *member) int { return slices.Index(c.want, a) - slices.Index(c.want, b) })
		if !slices.Equal(got, c.want) {
			t.Errorf("n=%d: survivors %v", c.n, got)
		}
	}
	if B.rank != 0 || E.rank != 1 || F.rank != 2 || !math.IsInf(A.crowd, 1) || math.Abs(C.crowd-1.8) > 1e-12 || math.Abs(B.crowd-1) > 1e-12 {
		t.Errorf("ranks/crowding: B %d %v, C %v, E %d, F %d", B.rank, B.crowd, C.crowd, E.rank, F.rank)
	}
}

func run(t *testing.T, m search.Method, p searchtest.Problem, seed uint64, evals, workers int, failRate float64) *search.Result {
	t.Helper()
	ev := &searchtest.Evaluator{Problem: p, Workers: workers, JitterSeed: seed + 99, FailRate: failRate, FailSeed: 5}
	res, err := search.Run(context.Background(), m, ev, search.Problem{Space: p.Space, Directions: p.Directions, Seed: seed}, search.Settings{MaxEvaluations: evals})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != search.StatusEvaluationLimit {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	return res
}

func newNSGA(t *testing.T, o Options) *Method {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestZDTFronts(t *testing.T) {
	if testing.Short() {
		t.Skip("10k evaluations per problem")
	}
	// Thresholds: with 10,000 evaluations NSGA-II reaches IGD ≈ 0.005-0.01
	// on ZDT1-3; random search on the same budget stays above 0.3 (its
	// points have g ≫ 1). A broken selection, crossover or survival step
	// does not get below the threshold.
	cases := []struct {
		p       searchtest.Problem
		maxIGD  float64
		seed    uint64
		randMin float64
	}{
		{searchtest.ZDT1(30), 0.05, 1, 0.3},
		{searchtest.ZDT2(10), 0.05, 2, 0.3},
		{searchtest.ZDT3(10), 0.05, 3, 0.3},
	}
	for _, c := range cases {
		t.Run(c.p.Name, func(t *testing.T) {
			res := run(t, newNSGA(t, Options{}), c.p, c.seed, 10000, 1, 0)
			igd, err := searchtest.IGD(c.p, res.FrontCandidates(), 500)
			if err != nil {
				t.Fatal(err)
			}
			rm, _ := random.New(random.Options{BatchSize: 100})
			rres := run(t, rm, c.p, c.seed, 10000, 1, 0)
			rigd, _ := searchtest.IGD(c.p, rres.FrontCandidates(), 500)
			t.Logf("%s: NSGA-II IGD %.4f (front %d), random IGD %.4f", c.p.Name, igd, len(res.Front), rigd)
			if igd > c.maxIGD {
				t.Errorf("IGD %.4f above %.2f", igd, c.maxIGD)
			}
			if rigd < c.randMin || rigd < 10*igd {
				t.Errorf("NSGA-II IGD %.4f does not beat random %.4f by 10x", igd, rigd)
			}
		})
	}
}

func ids(res *search.Result) []string {
	out := make([]string, len(res.Candidates))
	for i, c := range res.Candidates {
		out[i] = c.ID
	}
	return out
}

func TestDeterminism(t *testing.T) {
	p := searchtest.ZDT1(8)
	base := run(t, newNSGA(t, Options{PopulationSize: 20}), p, 11, 400, 1, 0.1)
	again := run(t, newNSGA(t, Options{PopulationSize: 20}), p, 11, 400, 1, 0.1)
	conc := run(t, newNSGA(t, Options{PopulationSize: 20}), p, 11, 400, 4, 0.1)
	other := run(t, newNSGA(t, Options{PopulationSize: 20}), p, 12, 400, 1, 0.1)
	if !slices.Equal(ids(base), ids(again)) {
		t.Fatal("same seed gave different runs")
	}
	if !slices.Equal(ids(base), ids(conc)) {
		t.Fatal("4 concurrent workers changed the run")
	}
	if slices.Equal(ids(base), ids(other)) {
		t.Fatal("another seed gave the same run")
	}
	if base.Failed == 0 {
		t.Fatal("no failures were injected")
	}
	if !slices.Equal(base.Front, conc.Front) {
		t.Fatal("fronts differ")
	}
	// Offspring carry their parents' ids.
	c := base.Candidates[len(base.Candidates)-1]
	if c.Lineage.Operator != Operator || len(c.Lineage.Parents) != 2 || c.Lineage.Generation != 19 {
		t.Fatalf("lineage %+v", c.Lineage)
	}
}

func TestAllFailuresAndInitial(t *testing.T) {
	p := searchtest.ZDT1(4)
	init := [][]float64{{0, 0, 0, 0}, {1, 0, 0, 0}}
	m := newNSGA(t, Options{PopulationSize: 8, Initial: init})
	res := run(t, m, p, 1, 40, 1, 1)
	if res.Failed != 40 || len(res.Front) != 0 {
		t.Fatalf("%d failed, front %v", res.Failed, res.Front)
	}
	if !slices.Equal(res.Candidates[0].Genome.Values, init[0]) || !slices.Equal(res.Candidates[1].Genome.Values, init[1]) {
		t.Fatal("initial points not used first")
	}
	// The initial points are both Pareto-optimal on ZDT1 and survive.
	res = run(t, newNSGA(t, Options{PopulationSize: 8, Initial: init}), p, 1, 80, 1, 0)
	front := res.FrontCandidates()
	for _, x := range init {
		if !slices.ContainsFunc(front, func(c *population.Candidate) bool { return slices.Equal(c.Genome.Values, x) }) {
			t.Fatalf("Pareto-optimal initial point %v is not in the front", x)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{PopulationSize: 2}, {CrossoverProb: 1.5}, {MutationProb: 2}, {CrossoverEta: -1}, {MutationEta: math.NaN()}, {PopulationSize: 4, Initial: make([][]float64, 5)}} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	m := newNSGA(t, Options{Initial: [][]float64{{2, 0}}})
	p := searchtest.ZDT1(2)
	if err := m.Init(search.Problem{Space: p.Space, Directions: p.Directions}); err == nil {
		t.Error("initial point outside the space accepted")
	}
}

func BenchmarkGeneration(b *testing.B) {
	for _, n := range []int{100, 500, 1000} {
		b.Run("pop="+itoa(n), func(b *testing.B) {
			p := searchtest.ZDT1(30)
			m, _ := New(Options{PopulationSize: n})
			if err := m.Init(search.Problem{Space: p.Space, Directions: p.Directions, Seed: 1}); err != nil {
				b.Fatal(err)
			}
			step := func() {
				batch, _ := m.Ask()
				for _, c := range batch {
					c.Scores = p.Score(c.Genome.Values)
					c.Status = population.StatusOK
					c.ID = itoa(len(c.Scores))
				}
				if err := m.Tell(batch); err != nil {
					b.Fatal(err)
				}
			}
			step()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
		})
	}
}

func itoa(n int) string {
	return string(rune('0'+n/1000%10)) + string(rune('0'+n/100%10)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

func TestMixedSpace(t *testing.T) {
	// Int and choice dimensions: offspring decode to valid levels and the
	// search still finds the integer optimum (k = 3, mode = 1) of a
	// two-objective problem whose second objective is k-independent.
	space, err := population.NewSpace([]population.Dim{
		{Name: "w", Kind: population.KindFloat, Lower: 0, Upper: 1, Default: 0.5},
		{Name: "k", Kind: population.KindInt, Lower: 0, Upper: 7, Default: 0},
		{Name: "mode", Kind: population.KindChoice, Choices: []string{"a", "b", "c"}, Default: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := searchtest.Problem{Name: "mixed", Space: space, Directions: []fitness.Direction{fitness.Minimize, fitness.Minimize},
		Eval: func(dst, x []float64) {
			pen := math.Abs(x[1]-3) + math.Abs(x[2]-1)
			dst[0] = x[0] + pen
			dst[1] = 1 - x[0] + pen
		}}
	res := run(t, newNSGA(t, Options{PopulationSize: 16}), p, 1, 800, 1, 0)
	for _, c := range res.FrontCandidates() {
		if c.Genome.Values[1] != 3 || c.Genome.Values[2] != 1 {
			t.Fatalf("front member %v misses the integer optimum", c.Genome.Values)
		}
	}
	if len(res.Front) < 10 {
		t.Fatalf("front of %d", len(res.Front))
	}
}

func TestNoCrossoverNoMutationCopiesParents(t *testing.T) {
	// Negative probabilities turn the operators off (what an explicit
	// crossover_prob = 0 / mutation_prob = 0 in a config becomes): every
	// child is a copy of one of its parents.
	p := searchtest.ZDT1(6)
	for _, tt := range []struct {
		name       string
		opts       Options
		wantCopies bool
	}{
		{"both off", Options{PopulationSize: 8, CrossoverProb: -1, MutationProb: -1}, true},
		{"defaults", Options{PopulationSize: 8}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, newNSGA(t, tt.opts), p, 5, 40, 1, 0)
			byID := map[string][]float64{}
			for _, c := range res.Candidates {
				byID[c.ID] = c.Genome.Values
			}
			children, copies := 0, 0
			for _, c := range res.Candidates {
				if len(c.Lineage.Parents) == 0 {
					continue
				}
				children++
				for _, pid := range c.Lineage.Parents {
					if pv, ok := byID[pid]; ok && slices.Equal(pv, c.Genome.Values) {
						copies++
						break
					}
				}
			}
			if children == 0 {
				t.Fatal("no children were made")
			}
			if tt.wantCopies && copies != children {
				t.Errorf("%d of %d children are copies of a parent; want all", copies, children)
			}
			if !tt.wantCopies && copies == children {
				t.Errorf("every child copies a parent with crossover and mutation on")
			}
		})
	}
}
