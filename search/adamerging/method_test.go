package adamerging

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

func twoDimProblem(t *testing.T, q search.GradientEvaluator, saved *[][]byte) search.Problem {
	t.Helper()
	var dims []population.Dim
	for _, n := range []string{"w[a]", "w[b]"} {
		dims = append(dims, population.Dim{Name: n, Kind: population.KindFloat, Lower: 0, Upper: 1})
	}
	space, err := population.NewSpace(dims)
	if err != nil {
		t.Fatal(err)
	}
	return search.Problem{Space: space, Directions: []fitness.Direction{fitness.Maximize}, Gradients: q,
		Checkpoint: func(b []byte) error { *saved = append(*saved, append([]byte(nil), b...)); return nil }}
}

// TestMethodSavesRestoresAndContinues runs the method's steps with
// checkpoints, restores a fresh method from a mid-way checkpoint and from
// a finished result, and checks both ask exactly the uninterrupted
// coefficients; a cancelled ask saves its progress.
func TestMethodSavesRestoresAndContinues(t *testing.T) {
	cfg := MethodConfig{Adam: Options{Steps: 10, LR: 0.05, Names: []string{"w[a]", "w[b]"}}, CheckpointEvery: 3}
	var saved [][]byte
	m, err := NewMethod(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Needs(), []search.Need{search.NeedLossGradients}) {
		t.Errorf("needs %v", m.Needs())
	}
	if err := m.Init(twoDimProblem(t, &quadratic{target: []float64{0.7, 0.2}}, &saved)); err != nil {
		t.Fatal(err)
	}
	want, err := m.Ask()
	if err != nil || len(want) != 1 {
		t.Fatalf("ask: %v, %v", want, err)
	}
	// Checkpoints after steps 3, 6, 9 and 10.
	if len(saved) != 4 {
		t.Fatalf("%d checkpoints, want 4", len(saved))
	}
	if more, _ := m.Ask(); len(more) != 0 {
		t.Errorf("asked %d more after the result", len(more))
	}

	var again [][]byte
	r, _ := NewMethod(cfg)
	if err := r.Init(twoDimProblem(t, &quadratic{target: []float64{0.7, 0.2}}, &again)); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(saved[1]); err != nil { // after step 6
		t.Fatal(err)
	}
	got, err := r.Ask()
	if err != nil || !reflect.DeepEqual(got[0].Genome, want[0].Genome) || !reflect.DeepEqual(r.Result(), m.Result()) {
		t.Errorf("restored at step 6: asked %v (%v), want %v", got, err, want[0].Genome)
	}

	finished, err := ResultState(m.Result())
	if err != nil {
		t.Fatal(err)
	}
	q := &quadratic{target: []float64{0.7, 0.2}}
	f, _ := NewMethod(cfg)
	if err := f.Init(twoDimProblem(t, q, &again)); err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(finished); err != nil {
		t.Fatal(err)
	}
	got, err = f.Ask()
	if err != nil || q.calls != 0 || !reflect.DeepEqual(got[0].Genome, want[0].Genome) {
		t.Errorf("restored from the result: %d gradient calls, asked %v (%v)", q.calls, got, err)
	}

	for _, bad := range []string{`{`, `{"v":2}`, `{"v":1,"adam":{"step":3,"raw":[1],"m":[0],"v":[0],"trajectory":[]}}`} {
		b, _ := NewMethod(cfg)
		if err := b.Init(twoDimProblem(t, &quadratic{target: []float64{0, 0}}, &again)); err != nil {
			t.Fatal(err)
		}
		if err := b.Restore([]byte(bad)); err == nil {
			t.Errorf("restoring %s was accepted", bad)
		}
	}

	// A cancelled ask keeps the steps taken so far.
	ctx, cancel := context.WithCancel(context.Background())
	var cut [][]byte
	c, _ := NewMethod(cfg)
	if err := c.Init(twoDimProblem(t, &cancelling{cancel: cancel, after: 4}, &cut)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AskContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ask: %v", err)
	}
	if len(cut) == 0 || !strings.Contains(string(cut[len(cut)-1]), `"step":3`) {
		t.Fatalf("the state saved when the ask was cancelled at step 4: %d saves, last %.60s", len(cut), cut[len(cut)-1:])
	}
	unnamed, err := NewMethod(MethodConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unnamed.Init(twoDimProblem(t, &quadratic{target: []float64{0.7, 0.2}}, &cut)); err == nil || !strings.Contains(err.Error(), "CoefficientNamer") {
		t.Errorf("a method without coefficient names over an unnamed evaluator: %v, want a refusal", err)
	}
}

// namedQuadratic names its coefficients in the reverse order of the space.
type namedQuadratic struct{ quadratic }

func (namedQuadratic) CoefficientNames() []string { return []string{"w[b]", "w[a]"} }

// TestFactoryTakesNamesFromTheEvaluator builds the method through the
// registry entry over an evaluator that names its coefficients: the
// learned coefficients land on the dimensions they name, progress is
// reported, and a seed_search is built through env.Continue from them.
func TestFactoryTakesNamesFromTheEvaluator(t *testing.T) {
	s := defaulted(func(s *Settings) { s.Steps = 200; s.LearningRate = 0.01; s.SeedSearch = SeedSearchNSGA2 })
	var reports []string
	var continuedFrom []float64
	env := search.Env{
		Progress: func(msg string, attrs ...any) { reports = append(reports, msg) },
		Continue: func(name string, x []float64) (search.Method, error) {
			if name != "nsga2" {
				t.Errorf("continued with %q", name)
			}
			continuedFrom = x
			return nil, errors.New("stop here")
		},
	}
	m, err := Algorithm.New(s, env)
	if err != nil {
		t.Fatal(err)
	}
	var saved [][]byte
	// The evaluator's first coefficient is w[b]: its optimum 0.7 must land there.
	if err := m.Init(twoDimProblem(t, &namedQuadratic{quadratic{target: []float64{0.7, 0.2}}}, &saved)); err != nil {
		t.Fatal(err)
	}
	got, err := m.Ask()
	if err != nil {
		t.Fatal(err)
	}
	x := got[0].Genome.Values
	if math.Abs(x[0]-0.2) > 0.02 || math.Abs(x[1]-0.7) > 0.02 {
		t.Errorf("learned (w[a], w[b]) = %v, want about (0.2, 0.7)", x)
	}
	if len(reports) != 10 || !strings.HasPrefix(reports[9], "adamerging: step 200/200 entropy ") {
		t.Errorf("progress reports %q", reports)
	}
	if err := m.Tell(got); err == nil || err.Error() != "stop here" || !reflect.DeepEqual(continuedFrom, x) {
		t.Errorf("tell: %v; continued from %v, want %v", err, continuedFrom, x)
	}
	if _, err := Algorithm.New(s, search.Env{}); err == nil || !strings.Contains(err.Error(), "seed_search") {
		t.Errorf("a seed_search without env.Continue: %v, want a refusal naming seed_search", err)
	}
}

// cancelling answers a zero gradient and cancels its context at call after.
type cancelling struct {
	cancel context.CancelFunc
	after  int
	calls  int
}

func (c *cancelling) LossGrad(ctx context.Context, _, grad []float64) (float64, error) {
	c.calls++
	if c.calls >= c.after {
		c.cancel()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	clear(grad)
	return 1, nil
}
