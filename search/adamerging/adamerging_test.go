package adamerging

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/population"
)

// quadratic is L(c) = Σ (c_i − target_i)²; it records every value it sees.
type quadratic struct {
	target []float64
	seen   [][]float64
	calls  int
}

func (q *quadratic) LossGrad(_ context.Context, values, grad []float64) (float64, error) {
	q.calls++
	q.seen = append(q.seen, append([]float64(nil), values...))
	var loss float64
	for i, v := range values {
		d := v - q.target[i]
		loss += d * d
		grad[i] = 2 * d
	}
	return loss, nil
}

func TestOptimizeClampsAndConverges(t *testing.T) {
	q := &quadratic{target: []float64{0.7, 1.5, -0.4}}
	res, err := Optimize(context.Background(), q, 3, Options{Steps: 2000, LR: 0.01, Names: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if q.calls != 2000 || len(res.Trajectory) != 2000 {
		t.Fatalf("%d calls, %d trajectory steps, want 2000", q.calls, len(res.Trajectory))
	}
	for _, v := range q.seen {
		for _, x := range v {
			if x < 0 || x > 1 {
				t.Fatalf("evaluator saw %v outside [0, 1]", x)
			}
		}
	}
	want := []float64{0.7, 1, 0}
	for i, w := range want {
		if math.Abs(res.Coefficients[i]-w) > 1e-3 {
			t.Errorf("coefficient %d = %v, want %v", i, res.Coefficients[i], w)
		}
	}
	// A raw value pushed past a bound stays there (zero gradient outside).
	if res.Raw[1] <= 1 || res.Raw[2] >= 0 {
		t.Errorf("raw = %v: values past the bounds should stay past them", res.Raw)
	}
	if q.seen[0][0] != DefaultInit {
		t.Errorf("first value %v, want the default init %v", q.seen[0][0], DefaultInit)
	}
	if res.Trajectory[0].Loss <= res.Trajectory[1999].Loss {
		t.Errorf("loss did not decrease: %v → %v", res.Trajectory[0].Loss, res.Trajectory[1999].Loss)
	}
	if !strings.Contains(res.Note, "test-time adaptation") {
		t.Errorf("note %q does not say test-time adaptation", res.Note)
	}
}

func TestOptimizeDeterministic(t *testing.T) {
	run := func() []float64 {
		res, err := Optimize(context.Background(), &quadratic{target: []float64{0.2, 0.9}}, 2, Options{Steps: 50})
		if err != nil {
			t.Fatal(err)
		}
		return res.Coefficients
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("runs differ: %v vs %v", a, b)
		}
	}
}

func TestOptimizeErrors(t *testing.T) {
	init := math.NaN()
	cases := []struct {
		name string
		n    int
		opt  Options
		want string
	}{
		{"no coefficients", 0, Options{}, "coefficients"},
		{"negative steps", 2, Options{Steps: -1}, "steps"},
		{"bad lr", 2, Options{LR: -1}, "learning rate"},
		{"bounds", 2, Options{Lower: 1, Upper: 0}, "bounds"},
		{"init", 2, Options{Init: &init}, "initial"},
		{"init values", 2, Options{InitValues: []float64{1}}, "initial values"},
		{"names", 2, Options{Names: []string{"a"}}, "names"},
	}
	for _, c := range cases {
		_, err := Optimize(context.Background(), &quadratic{target: []float64{0, 0}}, c.n, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	_, err := Optimize(context.Background(), nanEvaluator{}, 1, Options{Steps: 3})
	if err == nil || !strings.Contains(err.Error(), "loss") {
		t.Errorf("NaN loss: error %v", err)
	}
	_, err = Optimize(context.Background(), failing{}, 1, Options{Steps: 3})
	if !errors.Is(err, errBroken) {
		t.Errorf("evaluator error not wrapped: %v", err)
	}
}

type nanEvaluator struct{}

func (nanEvaluator) LossGrad(context.Context, []float64, []float64) (float64, error) {
	return math.NaN(), nil
}

var errBroken = errors.New("broken")

type failing struct{}

func (failing) LossGrad(context.Context, []float64, []float64) (float64, error) { return 0, errBroken }

func TestSeedMapsByName(t *testing.T) {
	res := &Result{Coefficients: []float64{0.9, 0.1}, Names: []string{"w[a]", "w[b]"}}
	space, err := population.NewSpace([]population.Dim{
		{Name: "w[b]", Kind: population.KindFloat, Lower: 0.2, Upper: 1, Default: 0.5},
		{Name: "other", Kind: population.KindFloat, Lower: 0, Upper: 1, Default: 0.4},
		{Name: "w[a]", Kind: population.KindFloat, Lower: 0, Upper: 1, Default: 0.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	x, err := res.Seed(space)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.2, 0.4, 0.9} // w[b] clamped into [0.2, 1]
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("seed = %v, want %v", x, want)
		}
	}
	unrelated, _ := population.NewSpace([]population.Dim{{Name: "z", Kind: population.KindFloat, Lower: 0, Upper: 1}})
	if _, err := res.Seed(unrelated); err == nil {
		t.Error("seeding a space with no matching dimension should fail")
	}
	sp, err := res.Space(0, 1)
	if err != nil || sp.Len() != 2 || sp.Defaults()[0] != 0.9 {
		t.Fatalf("Space: %v, %v", sp, err)
	}
}
