package fw

import (
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// planeGenome is a genome of the one-dimension space below: the final θ's
// first coordinate, enough to tell merges apart.
func planeGenome(p *plane) func(*Result) ([]float64, error) {
	return func(*Result) ([]float64, error) { return []float64{p.theta[0][0]}, nil }
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
	m, err := NewMethod(MethodConfig{Options: opt, Genome: planeGenome(whole)})
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
	half, _ := NewMethod(MethodConfig{Options: Options{Iterations: 2, StepSize: 1}, Genome: planeGenome(cut)})
	if err := half.Init(planeProblem(t, cut, &two)); err != nil {
		t.Fatal(err)
	}
	if _, err := half.Ask(); err != nil {
		t.Fatal(err)
	}

	fresh := newPlane()
	again, _ := NewMethod(MethodConfig{Options: opt, Genome: planeGenome(fresh)})
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
		m, _ := NewMethod(MethodConfig{Options: opt, Genome: planeGenome(newPlane())})
		var s []byte
		if err := m.Init(planeProblem(t, newPlane(), &s)); err != nil {
			t.Fatal(err)
		}
		if err := m.Restore([]byte(bad)); err == nil || !strings.Contains(err.Error(), "fw:") {
			t.Errorf("restoring %s: %v, want a refusal", bad, err)
		}
	}
	if _, err := NewMethod(MethodConfig{Options: opt}); err == nil {
		t.Error("a method without Genome was accepted")
	}
}
