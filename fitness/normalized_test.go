package fitness

import (
	"math"
	"strings"
	"testing"
)

func TestNormalizedAccuracy(t *testing.T) {
	// Two tasks: the merge keeps 90% of expert 1 and 50% of expert 2.
	merged := []float64{0.81, 0.45}
	expert := []float64{0.9, 0.9}
	got, err := NormalizedAccuracyTo(nil, merged, expert)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got[0]-0.9) > 1e-12 || math.Abs(got[1]-0.5) > 1e-12 {
		t.Errorf("normalized = %v, want [0.9 0.5]", got)
	}
	avg, err := AverageNormalizedAccuracy(merged, expert)
	if err != nil || math.Abs(avg-0.7) > 1e-12 {
		t.Errorf("average = %v, %v; want 0.7", avg, err)
	}
	// Percentages give the same result; a merge can beat its expert.
	if avg, _ := AverageNormalizedAccuracy([]float64{81, 99}, []float64{90, 90}); math.Abs(avg-1) > 1e-12 {
		t.Errorf("average of percentages = %v, want 1", avg)
	}
	// dst may alias merged.
	in := []float64{0.5, 0.25}
	if out, _ := NormalizedAccuracyTo(in, in, []float64{1, 0.5}); &out[0] != &in[0] || out[1] != 0.5 {
		t.Errorf("aliased result %v", out)
	}
	if _, err := AverageNormalizedAccuracy(nil, nil); err == nil {
		t.Error("average over no tasks accepted")
	}
}

func TestNormalizedAccuracyErrors(t *testing.T) {
	tests := []struct {
		name           string
		merged, expert []float64
		want           string
	}{
		{"lengths", []float64{0.5}, []float64{0.9, 0.9}, "1 merged accuracies but 2"},
		{"zero expert", []float64{0.5, 0.5}, []float64{0.9, 0}, "task 1 is 0"},
		{"NaN expert", []float64{0.5}, []float64{math.NaN()}, "task 0 is NaN"},
		{"negative merged", []float64{-0.1}, []float64{0.9}, "merged accuracy of task 0"},
		{"NaN merged", []float64{math.NaN()}, []float64{0.9}, "merged accuracy of task 0"},
	}
	for _, tc := range tests {
		_, err1 := NormalizedAccuracyTo(nil, tc.merged, tc.expert)
		_, err2 := AverageNormalizedAccuracy(tc.merged, tc.expert)
		for _, err := range []error{err1, err2} {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			}
		}
	}
}
