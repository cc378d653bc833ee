package run

import (
	"context"
	"fmt"

	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/reports"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/m2n2"
	"github.com/evomerge/evomerge/search/mapmerge"
)

// trajectoryView turns AdaMerging's steps into the report's trajectory,
// the coefficients reordered from the layout's order into the run's
// dimension order (space) by name.
func trajectoryView(r *adamerging.Result, space *population.Space) []reports.TrajectoryStep {
	perm := make([]int, len(r.Names)) // layout index -> dimension index
	for i, n := range r.Names {
		j, ok := space.Index(n)
		if !ok {
			return nil
		}
		perm[i] = j
	}
	out := make([]reports.TrajectoryStep, len(r.Trajectory))
	for k, s := range r.Trajectory {
		c := make([]float64, space.Len())
		for i, v := range s.Coefficients {
			c[perm[i]] = v
		}
		out[k] = reports.TrajectoryStep{Step: s.Iteration + 1, Loss: s.Loss, Coefficients: c}
	}
	return out
}

// fwView turns FW-Merging's iterations into the report's selection view.
func fwView(rec *rundir.FWRecord, scale float64) []reports.FWIteration {
	out := make([]reports.FWIteration, len(rec.Iterations))
	for i, it := range rec.Iterations {
		step := it.Gamma
		if len(it.Selected) == 0 {
			step *= scale
		}
		out[i] = reports.FWIteration{Iteration: it.T, Selected: it.SelectedNames(rec.Pool), StepSize: step, Loss: it.Loss}
	}
	return out
}

// surrogateView copies MAP's surrogate comparisons.
func surrogateView(o *mapmerge.Outcome) []reports.SurrogatePoint {
	if o == nil {
		return nil
	}
	var out []reports.SurrogatePoint
	for _, c := range o.Comparisons() {
		out = append(out, reports.SurrogatePoint{ID: c.ID, Objective: c.Objective, Predicted: c.Predicted, Measured: c.Measured, HeldOut: !c.Design})
	}
	return out
}

// archiveRecorder snapshots the M2N2 archive every `every` evaluations
// (and at the end): member ids and the fitness examples each solves.
type archiveRecorder struct {
	method *m2n2.Method
	every  int
	last   int
	snaps  []reports.ArchiveSnapshot
}

func (a *archiveRecorder) Init(search.RunInfo) error { return nil }

func (a *archiveRecorder) Record(e search.Event) error {
	if e.Kind != search.EventBatch || e.Stats.Evaluations-a.last < a.every && a.last > 0 {
		return nil
	}
	return a.snapshot(e.Stats.Evaluations)
}

func (a *archiveRecorder) snapshot(evals int) error {
	if len(a.snaps) > 0 && a.snaps[len(a.snaps)-1].Evaluations == evals {
		return nil
	}
	members, err := a.method.Archive()
	if err != nil {
		return err
	}
	snap := reports.ArchiveSnapshot{Evaluations: evals}
	for _, m := range members {
		solved := population.NewBitset(len(m.Scores))
		for j, s := range m.Scores {
			if s > 0 {
				solved.Set(j, true)
			}
		}
		snap.Members = append(snap.Members, reports.ArchiveMember{ID: m.Candidate.ID, Solved: solved})
	}
	a.snaps = append(a.snaps, snap)
	a.last = evals
	return nil
}

// writeViews writes views.json when the method has algorithm views.
func (c *components) writeViews(dir string, res *search.Result) error {
	if err := c.writeAdaMerging(dir); err != nil {
		return err
	}
	if err := c.writeFW(dir); err != nil {
		return err
	}
	if c.mapMethod != nil {
		c.views.Surrogate = surrogateView(c.mapMethod.Outcome())
	}
	if c.archive != nil {
		if err := c.archive.snapshot(res.Evaluations); err != nil {
			return err
		}
		c.views.Archive = c.archive.snaps
	}
	if c.views.Empty() {
		return nil
	}
	return rundir.WriteViews(dir, c.views)
}

// averageValidation scores plain weight averaging of the experts on the
// fitness split, where the run's space can express it, as the validation
// reference point of the front.
func (c *components) averageValidation(ctx context.Context, f *rundir.Front) error {
	if c.native == nil || c.op == nil || len(c.tasks) == 0 {
		return nil
	}
	x, err := searchspace.AveragePoint(c.space, c.op, c.exp.Merge.Params, c.pool.NumModels())
	if err != nil {
		return nil // not expressible in this space: no validation reference
	}
	r, err := c.native.Score(ctx, population.Genome{Values: x}, c.tasks[0].FitnessSplit)
	if err != nil {
		return fmt.Errorf("scoring plain weight averaging on the fitness split: %w", err)
	}
	f.AverageFitnessScores = r.Scores
	s := &rundir.SplitScores{Split: string(c.tasks[0].FitnessSplit)}
	for _, tr := range r.Tasks {
		s.Accuracy = append(s.Accuracy, tr.Accuracy)
	}
	s.Normalized, s.MeanNormalized = normalize(s.Accuracy, f.ExpertValidation)
	f.AverageFitness = s
	return nil
}
