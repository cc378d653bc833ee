package fitness

import (
	"fmt"
	"math"
)

// NormalizedAccuracyTo writes merged[i]/expert[i] into dst and returns dst:
// the accuracy of a merged model on task i relative to the fine-tuned expert
// for that task, as reported in the model-merging literature (1 means the
// merge matches the expert; it can exceed 1). dst is allocated when nil and may
// alias merged. Accuracies may be fractions or percentages, as long as both
// slices use the same scale. It returns an error naming the task index when
// the lengths differ, an expert accuracy is not a positive finite number, or
// a merged accuracy is negative or not finite.
func NormalizedAccuracyTo(dst, merged, expert []float64) ([]float64, error) {
	if len(merged) != len(expert) {
		return nil, fmt.Errorf("fitness: %d merged accuracies but %d expert accuracies: give one of each per task", len(merged), len(expert))
	}
	for i := range merged {
		if e := expert[i]; math.IsNaN(e) || math.IsInf(e, 0) || e <= 0 {
			return nil, fmt.Errorf("fitness: expert accuracy of task %d is %v: it must be positive (is the expert checkpoint scored on the right task?)", i, e)
		}
		if a := merged[i]; math.IsNaN(a) || math.IsInf(a, 0) || a < 0 {
			return nil, fmt.Errorf("fitness: merged accuracy of task %d is %v: it must be a non-negative number", i, a)
		}
	}
	if dst == nil {
		dst = make([]float64, len(merged))
	}
	if len(dst) != len(merged) {
		panic("fitness: length mismatch")
	}
	for i := range merged {
		dst[i] = merged[i] / expert[i]
	}
	return dst, nil
}

// AverageNormalizedAccuracy returns the mean over tasks of
// merged[i]/expert[i] (see NormalizedAccuracyTo). It does not allocate.
func AverageNormalizedAccuracy(merged, expert []float64) (float64, error) {
	if len(merged) == 0 {
		return 0, fmt.Errorf("fitness: no tasks to average normalized accuracy over")
	}
	if len(merged) != len(expert) {
		return 0, fmt.Errorf("fitness: %d merged accuracies but %d expert accuracies: give one of each per task", len(merged), len(expert))
	}
	sum := 0.0
	for i := range merged {
		e, a := expert[i], merged[i]
		if math.IsNaN(e) || math.IsInf(e, 0) || e <= 0 {
			return 0, fmt.Errorf("fitness: expert accuracy of task %d is %v: it must be positive (is the expert checkpoint scored on the right task?)", i, e)
		}
		if math.IsNaN(a) || math.IsInf(a, 0) || a < 0 {
			return 0, fmt.Errorf("fitness: merged accuracy of task %d is %v: it must be a non-negative number", i, a)
		}
		sum += a / e
	}
	return sum / float64(len(merged)), nil
}
