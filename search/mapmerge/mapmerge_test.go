package mapmerge

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/nsga2"
)

func TestFeatures(t *testing.T) {
	got := FeaturesTo(nil, []float64{2, 3, 5})
	want := []float64{4, 9, 25, 6, 10, 15, 2, 3, 5, 1}
	if !slices.Equal(got, want) {
		t.Errorf("features %v, want %v", got, want)
	}
	for n, want := range map[int]int{1: 3, 2: 6, 4: 15, 8: 45} {
		if NumTerms(n) != want {
			t.Errorf("NumTerms(%d) = %d, want %d", n, NumTerms(n), want)
		}
	}
}

func quadPoints(n, count int, seed uint64) [][]float64 {
	return LatinHypercube(count, n, rng.New(seed, "test"))
}

func TestFitRecoversExactQuadratic(t *testing.T) {
	// q(c) = 0.5c0² − 1.5c1² + 0.8c0c1 + 0.3c0 − 0.2c1 + 0.1
	coef := []float64{0.5, -1.5, 0.8, 0.3, -0.2, 0.1}
	q := func(c []float64) float64 {
		return (&Surrogate{Activation: Identity, Coef: coef}).Predict(c)
	}
	xs := quadPoints(2, 12, 1)
	for _, act := range []Activation{Identity, Sigmoid, Softplus} {
		ys := make([]float64, len(xs))
		for i, c := range xs {
			ys[i], _ = act.apply(q(c))
		}
		s, err := Fit(xs, ys, act)
		if err != nil {
			t.Fatalf("%s: %v", act, err)
		}
		for k := range coef {
			if math.Abs(s.Coef[k]-coef[k]) > 1e-5 {
				t.Errorf("%s: coefficient %d = %v, want %v", act, k, s.Coef[k], coef[k])
			}
		}
		if qual := s.Evaluate(xs, ys); qual.R2 < 1-1e-9 || qual.RMSE > 1e-7 {
			t.Errorf("%s: in-sample %+v", act, qual)
		}
		cv, err := CrossValidate(xs, ys, act)
		if err != nil || cv.R2 < 1-1e-6 {
			t.Errorf("%s: leave-one-out %+v %v", act, cv, err)
		}
		if s.Dim() != 2 {
			t.Errorf("dim %d", s.Dim())
		}
	}
}

func TestFitRefusals(t *testing.T) {
	// Binary corner points: c² = c, the design is rank-deficient.
	var xs [][]float64
	var ys []float64
	for _, a := range []float64{0, 1} {
		for _, b := range []float64{0, 1} {
			for _, c := range []float64{0, 1} {
				xs = append(xs, []float64{a, b, c})
				ys = append(ys, 0.5+0.1*a-0.1*b)
			}
		}
	}
	xs = append(xs, xs...)
	ys = append(ys, ys...)
	if _, err := Fit(xs, ys, Identity); err == nil || !strings.Contains(err.Error(), "space-filling") {
		t.Errorf("binary design: %v", err)
	}
	if _, err := Fit(quadPoints(2, 5, 1), make([]float64, 5), Identity); err == nil || !strings.Contains(err.Error(), "at least 6") {
		t.Errorf("too few points: %v", err)
	}
	if _, err := Fit(quadPoints(1, 5, 1), []float64{0.1, 0.2, 1.5, 0.3, 0.2}, Sigmoid); err == nil || !strings.Contains(err.Error(), "outside [0, 1]") {
		t.Errorf("accuracy above 1: %v", err)
	}
	if _, err := Fit(quadPoints(1, 5, 1), []float64{0.1, 0.2, -1.5, 0.3, 0.2}, Softplus); err == nil {
		t.Error("negative loss under softplus accepted")
	}
	if _, err := Fit(quadPoints(1, 5, 1), make([]float64, 5), "tanh"); err == nil {
		t.Error("unknown activation accepted")
	}
}

func TestMeasureHandComputed(t *testing.T) {
	// truth mean 2, SS_tot = 2; residuals 0, 1, −1: SS_res = 2 → R² = 0,
	// RMSE = √(2/3).
	q := Measure([]float64{1, 1, 4}, []float64{1, 2, 3})
	if q.R2 != 0 || math.Abs(q.RMSE-math.Sqrt(2.0/3)) > 1e-15 || q.Points != 3 {
		t.Errorf("%+v", q)
	}
	if q := Measure([]float64{1, 2}, []float64{1, 1}); !math.IsNaN(q.R2) {
		t.Errorf("constant truth: R² %v, want NaN", q.R2)
	}
}

func TestDesignHelpers(t *testing.T) {
	r := rng.New(3, "lhs")
	pts := LatinHypercube(10, 3, r)
	for j := range 3 {
		seen := make([]bool, 10)
		for _, p := range pts {
			s := int(p[j] * 10)
			if seen[s] {
				t.Fatalf("axis %d: stratum %d holds two points", j, s)
			}
			seen[s] = true
		}
	}
	for _, c := range [][]float64{{0.3, 0.4}, {1, 0, 0}, {0.2, 0.5, 0.7, 0.1}, {0, 0, 1}} {
		phi := Angles(nil, c)
		for _, a := range phi {
			if a < 0 || a > math.Pi/2+1e-15 {
				t.Errorf("angle %v outside [0, π/2]", a)
			}
		}
		u := Direction(nil, phi)
		norm := math.Sqrt(dot(c, c))
		for i := range c {
			if math.Abs(u[i]*norm-c[i]) > 1e-12 {
				t.Errorf("%v: direction %v", c, u)
			}
		}
	}
	if got := spreadIndexes(10, 4); !slices.Equal(got, []int{0, 3, 6, 9}) {
		t.Errorf("spread %v", got)
	}
	if got := spreadIndexes(3, 8); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("spread %v", got)
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestAdaptiveSampler(t *testing.T) {
	s := DefaultAdaptiveSampler(2)
	if s.Bins != 4 || DefaultAdaptiveSampler(5).Bins != 2 {
		t.Fatal("default bins")
	}
	r := rng.New(1, "adaptive")
	// Points only in the first angular bin (near the c0 axis) and the last
	// (near c1); the first has large errors.
	pts := [][]float64{{1, 0.05}, {0.8, 0.1}, {0.9, 0.02}, {0.05, 1}, {0.1, 0.9}}
	errs := []float64{1, 0.8, 1.2, 0.01, 0.02}
	p := s.Probabilities(pts, errs, r)
	if len(p) != 4 {
		t.Fatalf("%d bins", len(p))
	}
	if !(p[0] > p[1] && p[1] > p[3]) {
		t.Errorf("probabilities %v: want the high-error bin first, empty bins (floor) above the low-error bin", p)
	}
	if p[1] <= 0 || p[2] <= 0 {
		t.Errorf("empty bins starve: %v", p)
	}
	// Samples fall inside the unit box and in the drawn bin.
	counts := make([]int, 4)
	for range 2000 {
		c := s.Sample(p, 2, r)
		for _, v := range c {
			if v < 0 || v > 1 {
				t.Fatalf("sample %v outside the box", c)
			}
		}
		counts[s.BinOf(c)]++
	}
	for b := range p {
		if got := float64(counts[b]) / 2000; math.Abs(got-p[b]) > 0.04 {
			t.Errorf("bin %d sampled %.3f, probability %.3f", b, got, p[b])
		}
	}
}

func TestChoose(t *testing.T) {
	front := []FrontPoint{{Predicted: []float64{0.9, 0.1}}, {Predicted: []float64{0.6, 0.6}}, {Predicted: []float64{0.1, 0.95}}}
	dirs := []fitness.Direction{fitness.Maximize, fitness.Maximize}
	for _, tc := range []struct {
		pref []float64
		want int
	}{{[]float64{1, 0}, 0}, {[]float64{0, 1}, 2}, {[]float64{1, 1}, 1}, {[]float64{3, 1}, 0}} {
		if got, err := Choose(front, tc.pref, dirs); err != nil || got != tc.want {
			t.Errorf("pref %v: %d %v, want %d", tc.pref, got, err, tc.want)
		}
	}
	// A minimised objective enters negated.
	if got, _ := Choose(front, []float64{0, 1}, []fitness.Direction{fitness.Maximize, fitness.Minimize}); got != 0 {
		t.Errorf("minimise second: %d, want 0", got)
	}
	if _, err := Choose(front, []float64{1}, dirs); err == nil {
		t.Error("short preference accepted")
	}
}

// quadProblem has two objectives that are exactly sigmoids of quadratics in
// c ∈ [0,1]²: MAP's surrogates can represent them.
type quadProblem struct {
	coefs [][]float64
	calls int
}

func (p *quadProblem) score(c []float64) []float64 {
	out := make([]float64, len(p.coefs))
	for k, co := range p.coefs {
		out[k] = (&Surrogate{Activation: Sigmoid, Coef: co}).Predict(c)
	}
	return out
}

func (p *quadProblem) Evaluate(_ context.Context, batch []*population.Candidate) error {
	for _, c := range batch {
		p.calls++
		c.Scores, c.Status = p.score(c.Genome.Values), population.StatusOK
	}
	return nil
}

func unitSpace(t *testing.T, n int) *population.Space {
	dims := make([]population.Dim, n)
	for i := range dims {
		dims[i] = population.Dim{Name: string(rune('a' + i)), Kind: population.KindFloat, Lower: 0, Upper: 1}
	}
	s, err := population.NewSpace(dims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Task-arithmetic-like trade-off: each task peaks near its own one-hot.
var twoTasks = [][]float64{
	{-2, -0.5, -1, 3, 0.5, -0.5},
	{-0.5, -2, -1, 0.5, 3, -0.5},
}

func runMAP(t *testing.T, cfg Config, coefs [][]float64, seed uint64) (*Method, *search.Result, *quadProblem) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for NumTerms(n) < len(coefs[0]) {
		n++
	}
	dirs := make([]fitness.Direction, len(coefs))
	for i := range dirs {
		dirs[i] = fitness.Maximize
	}
	ev := &quadProblem{coefs: coefs}
	res, err := search.Run(context.Background(), m, ev, search.Problem{Space: unitSpace(t, n), Directions: dirs, Seed: seed}, search.Settings{})
	if err != nil || res.Status != search.StatusMethodDone {
		t.Fatalf("run: %v %v %v", err, res.Status, res.Err)
	}
	return m, res, ev
}

// The true front of a problem by brute force on a dense grid.
func trueFront(p *quadProblem, n, g int) [][]float64 {
	var pts [][]float64
	idx := make([]int, n)
	for {
		c := make([]float64, n)
		for i := range c {
			c[i] = float64(idx[i]) / float64(g-1)
		}
		pts = append(pts, p.score(c))
		i := 0
		for ; i < n; i++ {
			idx[i]++
			if idx[i] < g {
				break
			}
			idx[i] = 0
		}
		if i == n {
			break
		}
	}
	dirs := make([]fitness.Direction, len(pts[0]))
	for i := range dirs {
		dirs[i] = fitness.Maximize
	}
	var front [][]float64
	for _, k := range fitness.ParetoFront(pts, dirs) {
		front = append(front, pts[k])
	}
	return front
}

func TestMAPOnKnownFront(t *testing.T) {
	m, res, ev := runMAP(t, Config{}, twoTasks, 1)
	out := m.Outcome()
	// Budget: (N+1)(N+2) = 12 design points, then the chosen points.
	if len(out.Design) != 12 || ev.calls != 12+len(out.Chosen) || res.Evaluations != ev.calls {
		t.Fatalf("design %d, calls %d, chosen %d", len(out.Design), ev.calls, len(out.Chosen))
	}
	if !slices.Equal(out.Design[0].Values, []float64{1, 0}) || !slices.Equal(out.Design[1].Values, []float64{0, 1}) {
		t.Errorf("design starts %v %v, want the one-hots", out.Design[0].Values, out.Design[1].Values)
	}
	for k, q := range out.CrossValidated {
		if q.R2 < 0.999999 {
			t.Errorf("objective %d: leave-one-out R² %v on an exactly quadratic problem", k, q.R2)
		}
	}
	dirs := []fitness.Direction{fitness.Maximize, fitness.Maximize}
	ref := trueFront(ev, 2, 201)
	var pred, real [][]float64
	for _, f := range out.Front {
		pred = append(pred, f.Predicted)
	}
	for _, f := range out.Chosen {
		if f.Real == nil {
			t.Fatal("a chosen point was not re-evaluated")
		}
		for k := range f.Real {
			if math.Abs(f.Real[k]-f.Predicted[k]) > 1e-6 {
				t.Errorf("chosen %v: real %v, predicted %v", f.Values, f.Real, f.Predicted)
			}
		}
		real = append(real, f.Real)
	}
	igd, err := fitness.IGD(pred, ref, dirs)
	if err != nil || igd > 0.01 {
		t.Errorf("IGD of the predicted front %v (%v), want ≈ 0", igd, err)
	}
	refPoint := []float64{0, 0}
	hvTrue, _ := fitness.Hypervolume(ref, refPoint, dirs)
	hvPred, _ := fitness.Hypervolume(pred, refPoint, dirs)
	if math.Abs(hvPred-hvTrue)/hvTrue > 0.01 {
		t.Errorf("hypervolume predicted %v, true %v", hvPred, hvTrue)
	}
	if len(real) < 8 {
		t.Errorf("%d re-evaluated points, want 1 preference + 8 spread", len(real))
	}
	// Same seed, same outcome.
	m2, _, _ := runMAP(t, Config{}, twoTasks, 1)
	if !slices.EqualFunc(out.Chosen, m2.Outcome().Chosen, func(a, b FrontPoint) bool { return slices.Equal(a.Values, b.Values) }) {
		t.Error("runs with the same seed chose different points")
	}
}

func TestBayesianMAPAndNSGAFront(t *testing.T) {
	// Bayesian schedule: 6 + 3 + 3 points.
	m, _, ev := runMAP(t, Config{Schedule: []int{8, 3, 3}, Reevaluate: -1}, twoTasks, 2)
	out := m.Outcome()
	rounds := map[int]int{}
	for _, s := range out.Design {
		rounds[s.Round]++
	}
	if rounds[0] != 8 || rounds[1] != 3 || rounds[2] != 3 || ev.calls != 14+len(out.Chosen) || len(out.Chosen) != 1 {
		t.Errorf("rounds %v, calls %d, chosen %d", rounds, ev.calls, len(out.Chosen))
	}
	// NSGA-II on the surrogates of a 4-coefficient problem.
	coefs := make([][]float64, 2)
	for k := range coefs {
		// Separable: −(c−target)² per coordinate.
		coefs[k] = make([]float64, NumTerms(4))
		for i := range 4 {
			target := 0.2
			if (i < 2) == (k == 0) {
				target = 0.8
			}
			coefs[k][i] = -2            // square
			coefs[k][10+i] = 4 * target // linear (after 4 squares and 6 cross terms)
			coefs[k][14] -= 2 * target * target
		}
	}
	inner := func(pop int) (search.Method, error) { return nsga2.New(nsga2.Options{PopulationSize: pop}) }
	m, _, ev = runMAP(t, Config{Front: FrontOptions{Population: 40, Generations: 30, Inner: inner}}, coefs, 3)
	out = m.Outcome()
	if len(out.Design) != 30 {
		t.Errorf("design of %d points, want (N+1)(N+2) = 30", len(out.Design))
	}
	ref := trueFront(ev, 4, 11)
	var pred [][]float64
	for _, f := range out.Front {
		pred = append(pred, f.Predicted)
	}
	dirs := []fitness.Direction{fitness.Maximize, fitness.Maximize}
	if igd, err := fitness.IGD(pred, ref, dirs); err != nil || igd > 0.02 {
		t.Errorf("NSGA-II surrogate front IGD %v (%v)", igd, err)
	}
}

func TestMAPValidation(t *testing.T) {
	for _, cfg := range []Config{{Budget: -1}, {Schedule: []int{6, 0}}, {Activations: []Activation{"relu"}}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	m, _ := New(Config{Budget: 4})
	err := m.Init(search.Problem{Space: unitSpace(t, 2), Directions: []fitness.Direction{fitness.Maximize}})
	if err == nil || !strings.Contains(err.Error(), "at least 6") {
		t.Errorf("budget below the quadratic's terms: %v", err)
	}
	m, _ = New(Config{Preferences: [][]float64{{1}}})
	if err := m.Init(search.Problem{Space: unitSpace(t, 2), Directions: []fitness.Direction{fitness.Maximize, fitness.Maximize}}); err == nil {
		t.Error("preference of the wrong length accepted")
	}
}

// separable4 scores four tasks: task k is best near c_k = 1 and hurt by the
// other coefficients (interference).
type separable4 struct{ calls int }

func (p *separable4) Evaluate(_ context.Context, batch []*population.Candidate) error {
	for _, c := range batch {
		p.calls++
		v := c.Genome.Values
		c.Scores = make([]float64, 4)
		for k := range 4 {
			q := 3*v[k] - 1.5*v[k]*v[k] - 1
			for j := range 4 {
				if j != k {
					q -= 0.4 * v[j] * v[j]
				}
			}
			c.Scores[k] = 1 / (1 + math.Exp(-q))
		}
		c.Status = population.StatusOK
	}
	return nil
}

func TestNestedMAP(t *testing.T) {
	m, err := NewNested(NestedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &separable4{}
	dirs := []fitness.Direction{fitness.Maximize, fitness.Maximize, fitness.Maximize, fitness.Maximize}
	res, err := search.Run(context.Background(), m, ev, search.Problem{Space: unitSpace(t, 4), Directions: dirs, Seed: 1}, search.Settings{})
	if err != nil || res.Status != search.StatusMethodDone {
		t.Fatalf("%v %v %v", err, res.Status, res.Err)
	}
	merges := m.Merges()
	if len(merges) != 3 || ev.calls != 4+3*21 {
		t.Fatalf("%d merges, %d evaluations; want 3 and 4 + 3·21", len(merges), ev.calls)
	}
	final := merges[2]
	if len(final.A)+len(final.B) != 4 {
		t.Errorf("final merge covers %v and %v", final.A, final.B)
	}
	// Symmetric tasks: the final vector gives every task a similar, clearly
	// positive coefficient.
	for k, v := range final.Values {
		if v < 0.3 || v > 1 {
			t.Errorf("final coefficient %d = %v", k, v)
		}
	}
	for _, mg := range merges {
		for _, q := range mg.CrossValidated {
			if q.R2 < 0.9 {
				t.Errorf("merge %v+%v: surrogate R² %v", mg.A, mg.B, q.R2)
			}
		}
		if mg.Real == nil {
			t.Error("a merge was not re-evaluated")
		}
	}
	if _, err := NewNested(NestedConfig{PointsPerMerge: 5}); err == nil {
		t.Error("5 points per merge accepted")
	}
	bad, _ := NewNested(NestedConfig{})
	if err := bad.Init(search.Problem{Space: unitSpace(t, 3), Directions: dirs}); err == nil {
		t.Error("4 objectives for 3 coefficients accepted")
	}
}

func TestComparisons(t *testing.T) {
	m, _, _ := runMAP(t, Config{Reevaluate: 2}, twoTasks, 4)
	out := m.Outcome()
	cmp := out.Comparisons()
	if want := 2 * (len(out.Design) + len(out.Chosen)); len(cmp) != want {
		t.Fatalf("%d comparisons, want %d", len(cmp), want)
	}
	for _, c := range cmp {
		if math.Abs(c.Predicted-c.Measured) > 1e-6 || c.ID == "" {
			t.Errorf("%+v: an exact surrogate predicts the measured score", c)
		}
	}
	if !cmp[0].Design || cmp[len(cmp)-1].Design {
		t.Error("design points first, then held-out front points")
	}
}
