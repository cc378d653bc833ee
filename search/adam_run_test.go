package search

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// bowl is a quadratic loss Σ (x_i − c_i)² whose answers depend on how many
// calls came before (a drifting target), as random batches would.
type bowl struct{ calls int }

func (b *bowl) LossGrad(_ context.Context, x, g []float64) (float64, error) {
	b.calls++
	var loss float64
	for i, v := range x {
		c := 0.2 + 0.01*float64(b.calls%7) + 0.1*float64(i)
		loss += (v - c) * (v - c)
		g[i] = 2 * (v - c)
	}
	return loss, nil
}

func (b *bowl) ResumeAt(calls int) error { b.calls = calls; return nil }

// TestAdamRunRestoredEndsLikeAnUninterruptedOne stops an optimisation
// after some steps, restores its snapshot into a fresh run and checks the
// result is bit for bit the uninterrupted one's.
func TestAdamRunRestoredEndsLikeAnUninterruptedOne(t *testing.T) {
	opt := AdamOptions{Steps: 20, LR: 0.05, Names: []string{"a", "b", "c"}}
	whole, err := OptimizeAdam(context.Background(), &bowl{}, 3, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 1, 7, 20} {
		first, err := NewAdamRun(3, opt)
		if err != nil {
			t.Fatal(err)
		}
		ev := &bowl{}
		for range cut {
			if err := first.Step(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
		snap := first.Snapshot()
		again, _ := NewAdamRun(3, opt)
		if err := again.Restore(snap); err != nil {
			t.Fatal(err)
		}
		resumed := &bowl{}
		if err := resumed.ResumeAt(again.Steps()); err != nil {
			t.Fatal(err)
		}
		for !again.Done() {
			if err := again.Step(context.Background(), resumed); err != nil {
				t.Fatal(err)
			}
		}
		if got := again.Result(); !reflect.DeepEqual(got, whole) {
			t.Errorf("cut after %d steps: resumed result\n%+v\nwant\n%+v", cut, got, whole)
		}
	}
	run, _ := NewAdamRun(3, opt)
	for _, bad := range []AdamSnapshot{
		{Step: 2, Raw: []float64{1, 2}, M: []float64{0, 0}, V: []float64{0, 0}, Trajectory: make([]AdamStep, 2)},
		{Step: 21, Raw: make([]float64, 3), M: make([]float64, 3), V: make([]float64, 3), Trajectory: make([]AdamStep, 21)},
		{Step: 2, Raw: make([]float64, 3), M: make([]float64, 3), V: make([]float64, 3), Trajectory: make([]AdamStep, 1)},
	} {
		if err := run.Restore(bad); err == nil || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("restoring %+v: %v, want a refusal", bad, err)
		}
	}
}
