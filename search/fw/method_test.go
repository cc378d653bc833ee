package fw

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Genome is a genome of the one-dimension space below: the final θ's
// first coordinate, enough to tell merges apart.
func (p *plane) Genome(context.Context, *Result) ([]float64, error) {
	return []float64{p.theta[0][0]}, nil
}

func planeProblem(t *testing.T, p *plane, saved *[]byte) search.Problem {
	t.Helper()
	space, err := population.NewSpace([]population.Dim{{Name: "x", Kind: population.KindFloat, Lower: -10, Upper: 10}})
	if err != nil {
		t.Fatal(err)
	}
	return search.Problem{Space: space, Directions: []fitness.Direction{fitness.Maximize}, Alignment: p,
		Checkpoint: func(b []byte) error { *saved = append((*saved)[:0], b...); return nil }}
}

// TestMethodRestoredReplaysItsIterations runs FW as a method, restores a
// fresh method (over a fresh evaluator) from the state saved after two of
// four iterations, and checks it replays those moves without aligning
// again and ends with the same merge and record.
func TestMethodRestoredReplaysItsIterations(t *testing.T) {
	opt := Options{Iterations: 4, StepSize: 1}
	whole := newPlane()
	var saved []byte
	m, err := NewMethod(MethodConfig{Options: opt})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(planeProblem(t, whole, &saved)); err != nil {
		t.Fatal(err)
	}
	want, err := m.Ask()
	if err != nil {
		t.Fatal(err)
	}

	// The state after two iterations.
	cut := newPlane()
	var two []byte
	half, _ := NewMethod(MethodConfig{Options: Options{Iterations: 2, StepSize: 1}})
	if err := half.Init(planeProblem(t, cut, &two)); err != nil {
		t.Fatal(err)
	}
	if _, err := half.Ask(); err != nil {
		t.Fatal(err)
	}

	fresh := newPlane()
	again, _ := NewMethod(MethodConfig{Options: opt})
	if err := again.Init(planeProblem(t, fresh, &saved)); err != nil {
		t.Fatal(err)
	}
	if err := again.Restore(two); err != nil {
		t.Fatal(err)
	}
	if fresh.steps != 2 {
		t.Fatalf("restoring replayed %d steps, want 2", fresh.steps)
	}
	got, err := again.Ask()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[0].Genome, want[0].Genome) || !reflect.DeepEqual(again.Result(), m.Result()) || !again.Done() {
		t.Errorf("restored method asked %v with record %+v; uninterrupted: %v, %+v", got[0].Genome, again.Result(), want[0].Genome, m.Result())
	}
	if more, _ := again.Ask(); len(more) != 0 {
		t.Errorf("a second ask gave %d candidates, want none", len(more))
	}
	for _, bad := range []string{`{`, `{"v":2,"result":{}}`, `{"v":1,"result":{"iterations":[{"t":0},{"t":0}],"chosen":[0,0,0]}}`, `{"v":1,"result":{"iterations":[],"chosen":[0]}}`} {
		m, _ := NewMethod(MethodConfig{Options: opt})
		var s []byte
		if err := m.Init(planeProblem(t, newPlane(), &s)); err != nil {
			t.Fatal(err)
		}
		if err := m.Restore([]byte(bad)); err == nil || !strings.Contains(err.Error(), "fw:") {
			t.Errorf("restoring %s: %v, want a refusal", bad, err)
		}
	}
	blind, _ := NewMethod(MethodConfig{Options: opt})
	p := planeProblem(t, newPlane(), &saved)
	p.Alignment = struct{ search.AlignmentEvaluator }{newPlane()}
	if err := blind.Init(p); err == nil || !strings.Contains(err.Error(), "fw.Genomer") {
		t.Errorf("an alignment evaluator without Genome: %v, want a refusal", err)
	}
}

// TestFactoryReportsIterations builds the method through the registry
// entry and checks it runs the configured iterations, reports each through
// env.Progress and asks the evaluator's genome.
func TestFactoryReportsIterations(t *testing.T) {
	s := new(Settings)
	s.Iterations = 3
	s.Defaults(search.Budget{})
	var reports []string
	m, err := Algorithm.New(s, search.Env{Progress: func(msg string, attrs ...any) {
		if len(attrs) != 6 || attrs[0] != "t" {
			t.Errorf("log attributes %v", attrs)
		}
		reports = append(reports, msg)
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := newPlane()
	var saved []byte
	if err := m.Init(planeProblem(t, p, &saved)); err != nil {
		t.Fatal(err)
	}
	got, err := m.Ask()
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 3 || !strings.HasPrefix(reports[2], "fw: iteration 3/3 loss ") {
		t.Errorf("reports %q", reports)
	}
	if len(got) != 1 || got[0].Genome.Values[0] != p.theta[0][0] {
		t.Errorf("asked %+v, want the evaluator's genome %v", got, p.theta[0][0])
	}
}
