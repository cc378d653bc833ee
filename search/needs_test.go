package search_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/searchtest"
)

// needy wraps random search with stated needs, a saved state it records
// being restored from, and an optional blocking ask.
type needy struct {
	search.Method
	needs    []search.Need
	restored []byte
	block    bool // AskContext waits for its context to end
}

func (n *needy) Needs() []search.Need { return n.needs }

func (n *needy) Restore(state []byte) error {
	if string(state) == "bad" {
		return errors.New("unreadable state")
	}
	n.restored = slices.Clone(state)
	return nil
}

func (n *needy) AskContext(ctx context.Context) ([]*population.Candidate, error) {
	if n.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return n.Method.Ask()
}

type lossGrad struct{}

func (lossGrad) LossGrad(context.Context, []float64, []float64) (float64, error) { return 0, nil }

func TestRunChecksNeedsAndRestoresState(t *testing.T) {
	p := searchtest.Sphere(2)
	ev := &searchtest.Evaluator{Problem: p}
	tests := []struct {
		name       string
		needs      []search.Need
		gradients  search.GradientEvaluator
		state      []byte
		status     search.Status
		errHas     string
		restoredTo string
	}{
		{"scores only", nil, nil, nil, search.StatusEvaluationLimit, "", ""},
		{"gradients missing", []search.Need{search.NeedLossGradients}, nil, nil, search.StatusFailure, "needs loss gradients", ""},
		{"gradients given", []search.Need{search.NeedLossGradients}, lossGrad{}, nil, search.StatusEvaluationLimit, "", ""},
		{"alignment missing", []search.Need{search.NeedAlignment}, nil, nil, search.StatusFailure, "needs alignment", ""},
		{"recipes missing", []search.Need{search.NeedRecipes}, nil, nil, search.StatusFailure, "needs recipe genomes", ""},
		{"state restored", nil, nil, []byte("step 3"), search.StatusEvaluationLimit, "", "step 3"},
		{"state unreadable", nil, nil, []byte("bad"), search.StatusFailure, "restoring the method's saved state", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &needy{Method: newRandom(t, 4), needs: tt.needs}
			prob := problemOf(p, 1)
			prob.Gradients = tt.gradients
			res, err := search.Run(context.Background(), m, ev, prob, search.Settings{MaxEvaluations: 8, MethodState: tt.state})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || (tt.errHas != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tt.errHas))) {
				t.Fatalf("status %s, error %v; want %s with %q", res.Status, res.Err, tt.status, tt.errHas)
			}
			if string(m.restored) != tt.restoredTo {
				t.Errorf("restored from %q, want %q", m.restored, tt.restoredTo)
			}
		})
	}
	// A saved state for a method that cannot restore one is refused.
	res, err := search.Run(context.Background(), newRandom(t, 4), ev, problemOf(p, 1), search.Settings{MaxEvaluations: 8, MethodState: []byte("x")})
	if err != nil || res.Status != search.StatusFailure || !strings.Contains(res.Err.Error(), "cannot restore") {
		t.Errorf("state for a stateless method: %v, %v", res.Status, res.Err)
	}
}

func TestRunCutsLongAsksAtTheTimeLimitAndOnCancel(t *testing.T) {
	p := searchtest.Sphere(2)
	ev := &searchtest.Evaluator{Problem: p}
	m := &needy{Method: newRandom(t, 4), block: true}
	start := time.Now()
	res, err := search.Run(context.Background(), m, ev, problemOf(p, 1), search.Settings{Runtime: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != search.StatusRuntimeLimit || res.Err != nil || time.Since(start) > 5*time.Second {
		t.Errorf("a blocking ask under a 50ms limit: status %s, error %v after %v", res.Status, res.Err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err = search.Run(ctx, &needy{Method: newRandom(t, 4), block: true}, ev, problemOf(p, 1), search.Settings{MaxEvaluations: 8})
	if err != nil || res.Status != search.StatusCancelled || !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Errorf("a blocking ask cancelled: status %s, error %v", res.Status, res.Err)
	}
}
