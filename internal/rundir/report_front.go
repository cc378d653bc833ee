package rundir

// The final front and the reference models of front.json placed on the
// run's objectives for the report.

import (
	"math"
	"slices"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/reports"
)

// addFront adds the final front and the reference models of front.json.
// front.json holds per-task accuracies (and normalized accuracies) on the
// fitness and test splits; objectiveScores maps them onto the run's
// objectives. The plain average's fitness-split objective scores are used
// as recorded when front.json has them (they include the loss).
func addFront(r *reports.Run, f Front) {
	if f.FitnessSplit != "" {
		r.FitnessSplit = f.FitnessSplit
	}
	if f.Note != "" {
		r.Note = f.Note
	}
	m := len(r.Objectives)
	for _, mem := range f.Members {
		if len(mem.Validation) != m {
			continue // a front of another objective set; Validate would refuse it
		}
		fm := reports.FrontMember{ID: mem.ID, Validation: mem.Validation, NormalizedAccuracy: math.NaN()}
		if mem.Test != nil {
			fm.Test = objectiveScores(r.Objectives, f.Tasks, mem.Test)
			if mem.Test.MeanNormalized != nil {
				fm.NormalizedAccuracy = *mem.Test.MeanNormalized
			}
			if mem.Test.Split != "" {
				r.TestSplit = mem.Test.Split
			}
		}
		r.Front = append(r.Front, fm)
	}
	for i, task := range f.Tasks {
		val := expertObjectiveScores(r.Objectives, task, at(f.ExpertValidation, i))
		test := expertObjectiveScores(r.Objectives, task, at(f.ExpertTest, i))
		if allNaN(val) && allNaN(test) {
			continue // no expert for this task, or none of its scores is an objective
		}
		r.References = append(r.References, reports.Reference{Name: "expert of " + task, Kind: reports.ReferenceExpert, Validation: val, Test: test})
	}
	if f.AverageTest != nil || f.AverageFitness != nil || len(f.AverageFitnessScores) == m && m > 0 {
		val := objectiveScores(r.Objectives, f.Tasks, f.AverageFitness)
		if len(f.AverageFitnessScores) == m {
			val = slices.Clone(f.AverageFitnessScores)
		}
		r.References = append(r.References, reports.Reference{Name: "plain average of the experts", Kind: reports.ReferenceAverage,
			Validation: val, Test: objectiveScores(r.Objectives, f.Tasks, f.AverageTest)})
	}
}

// objectiveScores maps per-task scores on one split onto the objectives,
// computing each objective's metric (tasks.Metrics) from what front.json
// records: each task's accuracy and normalized accuracy. A metric that
// needs more (the loss), a task without a score, or s == nil gives NaN; a
// task "mean" objective averages the per-task values (normalized accuracy
// takes the recorded mean).
func objectiveScores(objs []fitness.Objective, taskNames []string, s *SplitScores) []float64 {
	out := make([]float64, len(objs))
	for j, o := range objs {
		out[j] = math.NaN()
		m, ok := lookupMetric(o.Metric)
		if s == nil || !ok || len(s.Accuracy) != len(taskNames) {
			continue
		}
		var perTask []float64
		switch {
		case m.Name == tasks.MetricNormalized:
			// Recorded as computed, so the figures are the run's own.
			if o.Task == configs.TaskMean && s.MeanNormalized != nil {
				out[j] = *s.MeanNormalized
				continue
			}
			perTask = s.Normalized
		case m.NeedsReference:
			continue // front.json does not record other references' inputs
		default:
			perTask = make([]float64, len(s.Accuracy))
			for i, a := range s.Accuracy {
				perTask[i] = m.Value(tasks.Result{Accuracy: a, Loss: math.NaN()}, 0)
			}
		}
		if len(perTask) != len(taskNames) {
			continue
		}
		if o.Task == configs.TaskMean {
			if len(perTask) > 0 {
				sum := 0.0
				for _, v := range perTask {
					sum += v
				}
				out[j] = sum / float64(len(perTask))
			}
			continue
		}
		if i := slices.Index(taskNames, o.Task); i >= 0 {
			out[j] = perTask[i]
		}
	}
	return out
}

// expertObjectiveScores places the accuracy of task's expert on one split
// (NaN: unknown) on the objectives: each metric of its own task computed
// from that accuracy, the expert being its own reference (normalized
// accuracy 1 by definition). Its scores on the other tasks (and so every
// mean) are not recorded and are NaN.
func expertObjectiveScores(objs []fitness.Objective, task string, acc float64) []float64 {
	out := make([]float64, len(objs))
	for j, o := range objs {
		out[j] = math.NaN()
		m, ok := lookupMetric(o.Metric)
		if o.Task != task || math.IsNaN(acc) || !ok {
			continue
		}
		if m.NeedsReference && !(acc > 0) {
			continue
		}
		out[j] = m.Value(tasks.Result{Accuracy: acc, Loss: math.NaN()}, acc)
	}
	return out
}

// lookupMetric finds an objective's metric; "" is the default metric.
func lookupMetric(name string) (tasks.Metric, bool) {
	if name == "" {
		return tasks.Metrics()[0], true
	}
	return tasks.LookupMetric(name)
}

// at returns xs[i], or NaN when xs has no element i.
func at(xs []float64, i int) float64 {
	if i < len(xs) {
		return xs[i]
	}
	return math.NaN()
}

func allNaN(xs []float64) bool {
	for _, x := range xs {
		if !math.IsNaN(x) {
			return false
		}
	}
	return true
}
