package lab

// The runs the M2N2 claims compare: M2N2 and its ablations through the
// lineage evaluator, and separable CMA-ES on the raw weights.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/evomerge/evomerge/evaluate/lineage"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/cmaes"
	"github.com/evomerge/evomerge/search/m2n2"
)

// mmGaussianModel is the reference code's from-scratch initialisation: every
// parameter N(0, 0.01²).
func mmGaussianModel(cfg model.Config, seed uint64, path ...string) (model.Network, error) {
	m, err := cfg.New(0)
	if err != nil {
		return nil, err
	}
	r := rng.New(seed, path...)
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] = float32(0.01 * r.NormFloat64())
		}
	}
	return m, nil
}

// mmCurvePoint is the test accuracy of the best model after evals evaluations.
type mmCurvePoint struct {
	evals int
	acc   float64
}

// mmM2n2Run runs M2N2 (or an ablation) and returns the final test accuracy of
// the archive's best member and the learning curve.
func mmM2n2Run(ctx context.Context, cfg m2n2.Config, seeds []model.Network, fit tasks.Task, test *data.Dataset, evals, every int, seed uint64) (float64, []mmCurvePoint, *m2n2.Method, error) {
	ev, err := lineage.New(lineage.Config{Seeds: seeds, Tasks: []tasks.Task{fit}})
	if err != nil {
		return 0, nil, nil, err
	}
	defer ev.Close()
	cfg.Parameters = ev.Parameters()
	cfg.Observer = ev
	m, err := m2n2.New(cfg)
	if err != nil {
		return 0, nil, nil, err
	}
	space, err := m2n2.SeedSpace(len(seeds))
	if err != nil {
		return 0, nil, nil, err
	}
	var curve []mmCurvePoint
	var recErr error
	best := func() (float64, error) {
		b := m.Best()
		if b == nil {
			return 0, errors.New("empty archive")
		}
		top, err := ev.Model(ctx, b.ID)
		if err != nil {
			return 0, err
		}
		return mmTestAccuracy(top, test, benchmarks.M2N2Head)
	}
	rec := search.RecorderFunc(func(e search.Event) error {
		if e.Kind != search.EventBatch || e.Stats.Evaluations%every != 0 || e.Stats.Evaluations == 0 || len(m.IDs()) == 0 {
			return nil
		}
		// The batch is told after recording: score the archive as it stands.
		acc, err := best()
		if err != nil {
			recErr = err
			return err
		}
		curve = append(curve, mmCurvePoint{e.Stats.Evaluations, acc})
		return nil
	})
	res, err := search.Run(ctx, m, ev, search.Problem{Space: space, Directions: ev.Objectives(), Seed: seed},
		search.Settings{MaxEvaluations: evals, Recorders: []search.Recorder{rec}, EvalSpec: ev.EvalSpec(), Version: ev.Version()})
	if err != nil {
		return 0, nil, nil, err
	}
	if res.Status == search.StatusFailure || res.Status == search.StatusCancelled {
		if recErr != nil {
			return 0, nil, nil, recErr
		}
		return 0, nil, nil, res.Err
	}
	acc, err := best()
	if err != nil {
		return 0, nil, nil, err
	}
	if n := len(curve); n > 0 && curve[n-1].evals == res.Evaluations {
		curve[n-1].acc = acc
	} else {
		curve = append(curve, mmCurvePoint{res.Evaluations, acc})
	}
	return acc, curve, m, nil
}

// mmWeightsEvaluator scores coefficient-vector genomes that are the flattened
// weights themselves (CMA-ES on the raw parameters).
type mmWeightsEvaluator struct {
	model model.Network
	fit   *data.Dataset
}

func (e *mmWeightsEvaluator) setWeights(x []float64) {
	k := 0
	for _, p := range e.model.Params() {
		for i := range p.Data {
			p.Data[i] = float32(x[k])
			k++
		}
	}
}

func (e *mmWeightsEvaluator) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	for _, c := range batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		e.setWeights(c.Genome.Values)
		acc, err := mmTestAccuracy(e.model, e.fit, benchmarks.M2N2Head)
		if err != nil {
			c.Fail(err)
			continue
		}
		c.Scores, c.Status = []float64{acc}, population.StatusOK
	}
	return nil
}

// mmCmaesRun runs separable CMA-ES on the raw weights from a Gaussian
// initialisation with σ0 = 0.01 and λ = 20 (the reference's pycma setting).
func mmCmaesRun(ctx context.Context, init model.Network, fit tasks.Task, test *data.Dataset, evals, every int, seed uint64) (float64, []mmCurvePoint, error) {
	var x0 []float64
	for _, p := range init.Params() {
		for _, v := range p.Data {
			x0 = append(x0, float64(v))
		}
	}
	const bound = 4.0
	dims := make([]population.Dim, len(x0))
	for i := range dims {
		dims[i] = population.Dim{Name: fmt.Sprintf("w%d", i), Kind: population.KindFloat, Lower: -bound, Upper: bound}
	}
	space, err := population.NewSpace(dims)
	if err != nil {
		return 0, nil, err
	}
	m, err := cmaes.New(cmaes.Options{Variant: cmaes.Separable, Population: 20, StepSize: 0.01 / (2 * bound), Initial: x0})
	if err != nil {
		return 0, nil, err
	}
	ev := &mmWeightsEvaluator{model: init.Clone(), fit: fit.Fitness()}
	scorer := &mmWeightsEvaluator{model: init.Clone()}
	var bestX []float64
	bestFit := math.Inf(-1)
	var curve []mmCurvePoint
	score := func() (float64, error) {
		scorer.setWeights(bestX)
		return mmTestAccuracy(scorer.model, test, benchmarks.M2N2Head)
	}
	rec := search.RecorderFunc(func(e search.Event) error {
		if e.Kind != search.EventBatch {
			return nil
		}
		before := e.Stats.Evaluations - len(e.Batch)
		for _, c := range e.Batch {
			if c.OK() && c.Scores[0] > bestFit {
				bestFit, bestX = c.Scores[0], c.Genome.Values
			}
		}
		if bestX != nil && e.Stats.Evaluations/every > before/every {
			acc, err := score()
			if err != nil {
				return err
			}
			curve = append(curve, mmCurvePoint{e.Stats.Evaluations / every * every, acc})
		}
		return nil
	})
	res, err := search.Run(ctx, m, ev, search.Problem{Space: space, Directions: []fitness.Direction{fitness.Maximize}, Seed: seed},
		search.Settings{MaxEvaluations: evals, Recorders: []search.Recorder{rec}})
	if err != nil {
		return 0, nil, err
	}
	if res.Status == search.StatusFailure || res.Status == search.StatusCancelled {
		return 0, nil, res.Err
	}
	acc, err := score()
	if err != nil {
		return 0, nil, err
	}
	if n := len(curve); n == 0 || curve[n-1].evals != res.Evaluations {
		curve = append(curve, mmCurvePoint{res.Evaluations, acc})
	}
	return acc, curve, nil
}

// mmM2n2Data returns the task of an M2N2 benchmark with its fitness
// examples, and its test data.
func mmM2n2Data(b *benchmarks.Benchmark, o ClaimOptions) (fit tasks.Task, test *data.Dataset, err error) {
	d, err := b.DataRange(benchmarks.M2N2Head, b.FitnessSplit, 0, o.FitnessExamples)
	if err != nil {
		return tasks.Task{}, nil, err
	}
	if test, err = b.Data(benchmarks.M2N2Head, data.Test); err != nil {
		return tasks.Task{}, nil, err
	}
	if o.TestExamples > 0 && o.TestExamples < test.Len() {
		test = test.Head(o.TestExamples)
	}
	return tasks.New(benchmarks.M2N2Head, benchmarks.M2N2Head, b.FitnessSplit, d), test, nil
}

// mmCurveTable formats mean learning curves by method.
func mmCurveTable(names []string, curves map[string][][]mmCurvePoint) string {
	var sb strings.Builder
	points := curves[names[0]][0]
	sb.WriteString("| evaluations |")
	for _, n := range names {
		sb.WriteString(" " + n + " |")
	}
	sb.WriteString("\n|---:|")
	for range names {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	for i, p := range points {
		fmt.Fprintf(&sb, "| %d |", p.evals)
		for _, n := range names {
			var xs []float64
			for _, c := range curves[n] {
				if i < len(c) {
					xs = append(xs, c[i].acc)
				}
			}
			sb.WriteString(" " + mmMeanSD(xs, "%.3f") + " |")
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
