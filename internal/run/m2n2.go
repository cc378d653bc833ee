package run

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/evaluate/lineage"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/m2n2"
)

// composeRecipes builds what a method that needs recipe genomes (M2N2)
// is scored with: the benchmark's specialists (or random models from
// scratch) as seeds, the lineage evaluator on the fitness split, and the
// seed space. Every objective must be one task's accuracy: per-example
// correctness is the resource M2N2's competition shares. The method itself
// is built through the registry and takes the model's parameter count from
// the lineage evaluator (search.Problem.Recipes).
func composeRecipes(ctx context.Context, exp *configs.Experiment, settings search.MethodSettings, c *components, opt composeOptions) error {
	// The seeds and the lineage evaluator's storage are M2N2's settings.
	s, ok := settings.(*m2n2.Settings)
	if !ok {
		return fmt.Errorf("%s: search.algorithm %q needs recipe genomes, which only M2N2's settings configure", exp.File(), exp.Search.Algorithm)
	}
	if c.bench == nil {
		return configs.Problems{exp.Problem("models.benchmark", "M2N2 runs on a built-in benchmark: set benchmark = \"m2n2-specialists\" or \"m2n2-scratch\"")}
	}
	if len(exp.Models.Experts) > 0 {
		return configs.Problems{exp.Problem("models.experts", "M2N2 takes its seeds from the benchmark: remove [[models.experts]]")}
	}
	if err := c.expandObjectives(c.bench.TaskNames()); err != nil {
		return err
	}
	var ps configs.Problems
	var names []string
	for i, o := range c.objectives {
		if o.Metric != tasks.MetricAccuracy || o.Task == evaluate.MeanTask {
			ps = append(ps, exp.Problem(fmt.Sprintf("objectives[%d]", min(i, len(exp.Objectives)-1)),
				fmt.Sprintf("%s: M2N2's objectives are per-task accuracies (per-example correctness is what niches compete for); use metric = \"accuracy\" with a task name or \"all\"", o.Name)))
		}
		names = append(names, o.Task)
	}
	if len(ps) > 0 {
		return ps
	}
	var err error
	if c.tasks, err = c.bench.LoadTasks(ctx, benchmarks.TaskOptions{Names: names}); err != nil {
		return err
	}
	tasks.LimitFitness(c.tasks, fitnessExamples(exp))
	// Seeds: the benchmark's trained models, or random ones from scratch.
	var seeds []model.Network
	for _, m := range c.bench.Pool() {
		seed, err := c.bench.LoadMember(m.Name)
		if err != nil {
			return err
		}
		seeds = append(seeds, seed)
	}
	if len(seeds) == 0 {
		for i := range s.Seeds {
			m, err := c.bench.Config().New(0)
			if err != nil {
				return err
			}
			r := rng.New(exp.Experiment.Seed, "run", "m2n2", "seed", fmt.Sprint(i))
			for _, p := range m.Params() {
				for j := range p.Data {
					p.Data[j] = float32(s.SeedSigma * r.NormFloat64())
				}
			}
			seeds = append(seeds, m)
		}
	}
	if len(seeds) < 2 {
		return configs.Problems{exp.Problem("models.benchmark", fmt.Sprintf("benchmark %s has %d trained model; M2N2 needs at least 2 seeds", c.bench.Name, len(seeds)))}
	}
	workers := exp.Search.Concurrency
	if opt.Workers > 0 {
		workers = opt.Workers
	}
	var params uint64
	for _, p := range seeds[0].Params() {
		params += uint64(len(p.Data))
	}
	if err := checkMemoryLimits(exp, 4*params, 1, workers); err != nil {
		return err
	}
	storage := lineage.Storage(s.Storage)
	cfg := lineage.Config{Seeds: seeds, Tasks: c.tasks, Storage: storage, CacheSize: s.CacheSize, Workers: workers}
	if storage == lineage.StorageDisk {
		cfg.Dir = filepath.Join(opt.Dir, rundir.M2N2Dir)
	}
	if storage == lineage.StorageRAM && opt.Resuming {
		// Journaled candidates are answered without being evaluated here,
		// so their weights are not in RAM: a resumed session rebuilds
		// parents from their recipes instead (same weights, bit for bit).
		cfg.Storage, cfg.CacheSize = lineage.StorageRebuild, s.ArchiveSize+s.BatchSize+1
	}
	ev, err := lineage.New(cfg)
	if err != nil {
		return err
	}
	c.lineage, c.recipes = ev, ev
	c.eval = lineageEvaluator{ev}
	c.space, err = m2n2.SeedSpace(len(seeds))
	return err
}

// lineageEvaluator adapts the lineage evaluator to the run: it has no
// merger (M2N2 candidates are recipes over flattened weights, not operator
// settings).
type lineageEvaluator struct{ *lineage.Evaluator }

func (lineageEvaluator) Merger() *evaluate.Merger { return nil }

// lineageTest scores an M2N2 candidate on the test split.
func (c *components) lineageTest(ctx context.Context, cand *population.Candidate) ([]float64, error) {
	m, err := c.lineage.Model(ctx, cand.ID)
	if err != nil {
		return nil, err
	}
	sc, err := c.bench.Evaluate(ctx, m, data.Test)
	if err != nil {
		return nil, err
	}
	acc := make([]float64, len(c.tasks))
	for i, t := range c.tasks {
		found := false
		for _, ts := range sc.Tasks {
			if ts.Task == t.Name {
				acc[i], found = ts.Accuracy, true
			}
		}
		if !found {
			return nil, fmt.Errorf("benchmark %s scored no task %s on test", c.bench.Name, t.Name)
		}
	}
	return acc, nil
}

// archiveFront is the non-dominated part of M2N2's archive, in slot order.
func (c *components) archiveFront() ([]*population.Candidate, error) {
	members, err := c.archive.method.Archive()
	if err != nil {
		return nil, err
	}
	var cands []*population.Candidate
	var points [][]float64
	for _, m := range members {
		if m.Candidate != nil && m.Candidate.OK() {
			cands = append(cands, m.Candidate)
			points = append(points, m.Candidate.Scores)
		}
	}
	var out []*population.Candidate
	for _, i := range fitness.ParetoFront(points, c.directions) {
		out = append(out, cands[i])
	}
	return out, nil
}
