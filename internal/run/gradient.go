package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/evaluate/gradient"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/fw"
)

// derivedSpec is the search space of a method that derives its own over a
// pool (AdaMerging, FW-Merging): task arithmetic (λ = 1) with one weight
// per pool model at the granularity of the learned coefficients, named as
// gradient.Layout names them, within [d.Lower, d.Upper].
func derivedSpec(exp *configs.Experiment, pool *evaluate.Pool, d search.DerivedSpace) searchspace.Spec {
	lower, upper := d.Lower, d.Upper
	spec := searchspace.Spec{
		Operator: adamerging.Operator, Models: pool.ModelNames(),
		Fixed: operators.Settings{Default: operators.Values{Global: map[string]operators.Value{"lambda": operators.F(1)}}},
	}
	t := searchspace.Target{Param: "weight", PerModel: true, Lower: &lower, Upper: &upper}
	switch d.Granularity {
	case gradient.LayoutGroup:
		t.Groups = mergeableGroups(pool, exp.Merge.TaskTensors)
	case gradient.LayoutTensor:
		// Every mergeable tensor is its own group.
		names := mergeableTensors(pool, exp.Merge.TaskTensors)
		spec.Fixed.Grouping = make(map[string][]string, len(names))
		for _, n := range names {
			spec.Fixed.Grouping[n] = []string{n}
		}
		t.Groups = names
	}
	spec.Targets = []searchspace.Target{t}
	return spec
}

func taskTensors(patterns []string) operators.TaskTensors {
	if len(patterns) > 0 {
		return operators.TaskTensors{Patterns: patterns}
	}
	return operators.DefaultTaskTensors()
}

// mergeableTensors lists the pool's merged (not per-task) tensors in
// canonical order.
func mergeableTensors(pool *evaluate.Pool, patterns []string) []string {
	tasks := taskTensors(patterns)
	var names []string
	for _, t := range pool.Source().Tensors() {
		if !tasks.Match(t.Name) {
			names = append(names, t.Name)
		}
	}
	return names
}

// workingModel builds a network of the pool's architecture holding the
// pool's base for every merged tensor and every expert's per-task tensors
// (heads).
func workingModel(pool *evaluate.Pool, patterns []string) (model.Network, error) {
	src := pool.Source()
	tasks := taskTensors(patterns)
	var ts []checkpoint.Tensor
	for _, meta := range src.Tensors() {
		in := operators.TensorInputs{}
		if err := src.Load(meta.Name, &in); err != nil {
			return nil, err
		}
		var v []float32
		if tasks.Match(meta.Name) {
			// As operators copy per-task tensors: from the first expert
			// that has it, else from the base.
			for _, m := range in.Models {
				if m != nil {
					v = m
					break
				}
			}
			if v == nil {
				v = in.Base
			}
		} else {
			v = in.Base
		}
		if v == nil {
			return nil, fmt.Errorf("tensor %q has no value in the pool (a merged tensor needs the base, a per-task one an expert)", meta.Name)
		}
		ts = append(ts, checkpoint.Tensor{Name: meta.Name, Shape: slices.Clone(meta.Shape), Data: slices.Clone(v)})
	}
	arch, err := pool.Architecture()
	if err != nil {
		return nil, err
	}
	return arch.FromTensors(ts)
}

// prepareGradient builds the evaluators that the run's method needs
// besides scores (loss gradients, alignment), from the method's settings;
// the method's optimisation runs inside the search loop.
func (c *components) prepareGradient(ctx context.Context, dir string, out io.Writer, log *slog.Logger) error {
	settings, err := registry.Settings(c.exp)
	if err != nil {
		return err
	}
	for _, need := range settings.Traits().Needs {
		switch need {
		case search.NeedLossGradients:
			a, ok := settings.(*adamerging.Settings)
			if !ok {
				return fmt.Errorf("search.%s needs %s, which this build computes only from AdaMerging's settings", c.exp.Search.Algorithm, need)
			}
			err = c.adaMerging(a, dir, out, log)
		case search.NeedAlignment:
			s, ok := settings.(*fw.Settings)
			if !ok {
				return fmt.Errorf("search.%s needs %s, which this build computes only from FW-Merging's settings", c.exp.Search.Algorithm, need)
			}
			err = c.frankWolfe(ctx, s, dir, out, log)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// namedGradients is AdaMerging's gradient evaluator with the names of its
// coefficients (search.CoefficientNamer).
type namedGradients struct {
	*gradient.AdaMerging
	names []string
}

func (g namedGradients) CoefficientNames() []string { return g.names }

// fwAlignment is FW-Merging's alignment evaluator with the mapping of its
// merge onto the run's space (fw.Genomer).
type fwAlignment struct {
	*gradient.FrankWolfe
	genome func(ctx context.Context, res *fw.Result) ([]float64, error)
}

func (a fwAlignment) Genome(ctx context.Context, res *fw.Result) ([]float64, error) {
	return a.genome(ctx, res)
}

// adaMerging builds AdaMerging as the run's method: the gradient evaluator
// on the unlabelled inputs it adapts on, and the method, which takes its
// Adam steps inside the search loop (saving its state in state.json, so an
// interrupted run continues from its last saved step). A run directory of
// an older version holds adamerging.json instead: the method then starts
// from the coefficients it learned.
func (c *components) adaMerging(a *adamerging.Settings, dir string, out io.Writer, log *slog.Logger) error {
	tv, err := gradient.NewTaskVectors(c.pool.Source(), taskTensors(c.exp.Merge.TaskTensors))
	if err != nil {
		return err
	}
	tv.Models = c.pool.ModelNames()
	if a.PlusPlus {
		if tv, err = tv.TIES(a.TIESKeep, a.TIESTrim); err != nil {
			return configs.Problems{c.exp.Problem("search.adamerging.ties_keep", err.Error())}
		}
		tv.Models = c.pool.ModelNames()
	}
	lay, err := gradient.NewLayout(a.Granularity, tv, checkpoint.LayerGroup)
	if err != nil {
		return configs.Problems{c.exp.Problem("search.adamerging.granularity", err.Error())}
	}
	work, err := workingModel(c.pool, c.exp.Merge.TaskTensors)
	if err != nil {
		return err
	}
	split := data.Split(a.Inputs)
	// The benchmark's inputs of the split (labels are never read).
	inputs, err := c.bench.WithSplit(c.tasks, split, 0)
	if err != nil {
		return err
	}
	ev, err := gradient.NewAdaMerging(work, tv, lay, inputs, gradient.AdaMergingOptions{
		Batch: a.BatchSize, Batches: a.Batches, Seed: rng.Derive(c.exp.Experiment.Seed, "run", "adamerging"), Split: split,
	})
	if err != nil {
		return err
	}
	m, ok := c.method.(*adamerging.Method)
	if !ok {
		return fmt.Errorf("search.%s: the method is a %T, not AdaMerging's", c.exp.Search.Algorithm, c.method)
	}
	c.adaMethod, c.gradients = m, namedGradients{AdaMerging: ev, names: lay.Names(tv)}
	c.adaInputs = string(split)
	if split == data.Test {
		c.note = adamerging.Note
		fmt.Fprintf(out, "note: %s\n", c.note)
		log.Warn("test-time adaptation", "note", c.note)
	}
	path := filepath.Join(dir, rundir.AdaMergingFile)
	if rec, err := rundir.ReadAdaMerging(path); err == nil {
		// Learned by an earlier session of an older version.
		if c.methodState, err = adamerging.ResultState(&rec.Result); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(out, "adamerging: using the coefficients learned in an earlier session (%s)\n", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fmt.Fprintf(out, "adamerging: %d coefficients (%s), %d Adam steps on unlabelled %s inputs\n", lay.Len(), a.Granularity, a.Steps, split)
	return nil
}

// writeAdaMerging writes adamerging.json once the optimisation has
// finished, and the trajectory view.
func (c *components) writeAdaMerging(dir string) error {
	if c.adaMethod == nil || !c.adaMethod.Done() {
		return nil
	}
	res := c.adaMethod.Result()
	if c.note == "" {
		res.Note = ""
	}
	c.views.Trajectory = trajectoryView(res, c.space)
	rec := &rundir.AdaMergingRecord{V: 1, Inputs: c.adaInputs, Note: c.note, Result: *res}
	return rundir.WriteAdaMerging(dir, rec)
}

// frankWolfe builds FW-Merging as the run's method: the alignment
// evaluator over the pool (streamed from disk; only θ0 stays resident) and
// the method, whose iterations run inside the search loop (saved in
// state.json after each, so an interrupted run continues). A run directory
// of an older version holds fw.json instead: the method then replays the
// iterations it records.
func (c *components) frankWolfe(ctx context.Context, s *fw.Settings, dir string, out io.Writer, log *slog.Logger) error {
	pool := c.poolFiles
	if len(pool) != c.pool.NumModels() {
		return fmt.Errorf("fw: %d checkpoint files for a pool of %d models", len(pool), c.pool.NumModels())
	}
	tv, err := gradient.NewTaskVectors(c.pool.Source(), taskTensors(c.exp.Merge.TaskTensors))
	if err != nil {
		return err
	}
	tv.Tau = nil // FW streams the pool from disk; only θ0 stays resident
	work, err := workingModel(c.pool, c.exp.Merge.TaskTensors)
	if err != nil {
		return err
	}
	loss := model.CrossEntropy
	if s.Loss == "entropy" {
		loss = model.Entropy
	}
	// The proxy: the benchmark's fitness split, at most ProxyExamples per
	// task (labels read only by the cross-entropy loss).
	fitSplit := c.tasks[0].FitnessSplit
	proxy, err := c.bench.WithSplit(c.tasks, fitSplit, s.ProxyExamples)
	if err != nil {
		return err
	}
	opt := gradient.FWOptions{Loss: loss, Rule: gradient.RuleTaskArithmetic, TIESKeep: s.TIESKeep, Align: s.Alignment, Split: fitSplit}
	if s.Variant == fw.VariantSoft {
		split := data.Split(s.AdaInputs)
		if opt.Unlabelled, err = c.bench.WithSplit(c.tasks, split, 0); err != nil {
			return err
		}
		opt.Ada = gradient.AdaMergingOptions{Seed: rng.Derive(c.exp.Experiment.Seed, "run", "fw", "adamerging"), Split: split}
		if split == data.Test {
			c.note = "FW-Soft's inner AdaMerging is test-time adaptation: it reads the unlabelled inputs of every task's test split (labels are never read)"
			fmt.Fprintf(out, "note: %s\n", c.note)
			log.Warn("test-time adaptation", "note", c.note)
		}
	}
	ev, err := gradient.NewFrankWolfe(work, tv, nil, pool, proxy, opt)
	if err != nil {
		return err
	}
	n, L := len(pool), ev.NumTensors()
	if s.Init == fw.InitTaskArithmetic {
		if err := ev.InitTaskArithmetic(ctx, s.InitLambda); err != nil {
			return err
		}
	}
	models := c.pool.ModelNames()
	genome := func(ctx context.Context, res *fw.Result) ([]float64, error) {
		// The merge as per-tensor task-arithmetic weights of the pool,
		// model-major as the derived space, checked against the merged
		// model itself.
		w := make([]float64, n*L)
		if s.Init == fw.InitTaskArithmetic {
			for i := range w {
				w[i] = s.InitLambda
			}
		}
		for _, it := range res.Iterations {
			if err := trackFW(w, n, L, it, s.Scale); err != nil {
				return nil, err
			}
		}
		dev, err := genomeDeviation(ctx, tv.Base, ev.Theta(), ev.Names(), pool, w)
		if err != nil {
			return nil, err
		}
		if dev > maxGenomeDeviation {
			return nil, fmt.Errorf("fw: the tracked coefficients rebuild the merged model only to a relative deviation of %.3g (above %g): this is a bug, please report it", dev, maxGenomeDeviation)
		}
		log.Info("fw genome", "deviation", dev)
		x := c.space.Defaults()
		for k := range n {
			for l, t := range ev.Names() {
				name := searchspace.DimName("weight", t, models[k])
				i, ok := c.space.Index(name)
				if !ok {
					return nil, fmt.Errorf("fw: the run's space has no dimension %s", name)
				}
				v := w[k*L+l]
				if d := c.space.Dim(i); v < d.Lower || v > d.Upper || math.IsNaN(v) {
					return nil, fmt.Errorf("fw: the merge's coefficient %s = %g lies outside [%g, %g]", name, v, d.Lower, d.Upper)
				}
				x[i] = v
			}
		}
		c.fwRecord = &rundir.FWRecord{V: 1, Pool: models, Note: c.note, Coefficients: x, Deviation: dev, Result: *res}
		return x, nil
	}
	c.alignment, c.fwScale = fwAlignment{FrankWolfe: ev, genome: genome}, s.Scale
	path := filepath.Join(dir, rundir.FWFile)
	if rec, err := rundir.ReadFW(path); err == nil {
		// Merged by an earlier session of an older version.
		if c.methodState, err = fw.ResultState(&rec.Result); err != nil {
			return err
		}
		fmt.Fprintf(out, "fw: using the merge found in an earlier session (%s)\n", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fmt.Fprintf(out, "fw: %s variant, %d iterations over a pool of %d checkpoints streamed from disk\n", s.Variant, s.Iterations, n)
	return nil
}

// writeFW writes fw.json once the merge has been asked, and the FW view.
func (c *components) writeFW(dir string) error {
	if c.fwRecord == nil {
		return nil
	}
	c.views.FrankWolfe = fwView(c.fwRecord, c.fwScale)
	return rundir.WriteFW(dir, c.fwRecord)
}

// trackFW follows the merged model as task-arithmetic coefficients of the
// pool under the task-arithmetic rule: per tensor ℓ the model is
// θ0 + Σ_k w[k][ℓ] (θk − θ0), and a step θ ← θ + s(v − θ) toward vertex v
// (a pool member, or the base θ0 whose coefficients are 0) maps to
// w ← (1 − s) w + s e_v. A soft iteration θ ← θ + Σ_j c_j (θ_sel(j) − θ)
// maps to w ← (1 − Σ_j c_j) w + Σ_j c_j e_sel(j).
func trackFW(w []float64, n, L int, it fw.Iteration, scale float64) error {
	if len(it.Selected) > 0 {
		if len(it.Coefficients) != len(it.Selected)*L {
			return fmt.Errorf("fw iteration %d: %d coefficients for %d selected members and %d tensors", it.T, len(it.Coefficients), len(it.Selected), L)
		}
		for l := range L {
			sum := 0.0
			for j := range it.Selected {
				sum += it.Coefficients[j*L+l]
			}
			for k := range n {
				w[k*L+l] *= 1 - sum
			}
			for j, k := range it.Selected {
				w[k*L+l] += it.Coefficients[j*L+l]
			}
		}
		return nil
	}
	if len(it.Vertex) != L {
		return fmt.Errorf("fw iteration %d: %d vertices for %d tensors", it.T, len(it.Vertex), L)
	}
	s := scale * it.Gamma
	for l, v := range it.Vertex {
		if v == search.VertexStay {
			continue
		}
		for k := range n {
			w[k*L+l] *= 1 - s
		}
		if v >= 0 && v < n {
			w[v*L+l] += s
		}
	}
	return nil
}

// adaMergingStart reads the learned coefficients of an AdaMerging run (its
// directory or its adamerging.json) as a start point of this run's space.
func (c *components) adaMergingStart(key, path string) ([]float64, error) {
	file := path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		file = filepath.Join(path, rundir.AdaMergingFile)
	}
	rec, err := rundir.ReadAdaMerging(file)
	if err != nil {
		return nil, configs.Problems{c.exp.Problem(key, fmt.Sprintf("%v: name an AdaMerging run directory (it holds %s once the run has learned its coefficients)", err, rundir.AdaMergingFile))}
	}
	x, err := rec.Seed(c.space)
	if err != nil {
		return nil, configs.Problems{c.exp.Problem(key, fmt.Sprintf("%v: the AdaMerging run's coefficients are named like %q; search weight per_model (and per_group for a group-wise AdaMerging run) so the names match", err, rec.Names[0]))}
	}
	return x, nil
}

// maxGenomeDeviation bounds the relative float32 rounding between FW's
// merged model and its rebuild from the tracked coefficients.
const maxGenomeDeviation = 1e-4

// genomeDeviation rebuilds θ = θ0 + Σ_k w[k][ℓ] (θk − θ0) from the pool
// (streamed, one member and tensor at a time) and returns the largest
// |θ − theta| / max(1, |theta|) over every weight.
func genomeDeviation(ctx context.Context, base, theta [][]float32, names, pool []string, w []float64) (float64, error) {
	L := len(names)
	rebuilt := make([][]float64, L)
	for l := range rebuilt {
		rebuilt[l] = make([]float64, len(base[l]))
		for i, v := range base[l] {
			rebuilt[l][i] = float64(v)
		}
	}
	var buf []float32
	for k, path := range pool {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		r, err := checkpoint.Open(path)
		if err != nil {
			return 0, fmt.Errorf("pool member %s: %w", path, err)
		}
		for l, name := range names {
			c := w[k*L+l]
			if c == 0 {
				continue
			}
			buf = slices.Grow(buf[:0], len(base[l]))[:len(base[l])]
			if err := r.ReadInto(name, buf); err != nil {
				r.Close()
				return 0, fmt.Errorf("pool member %s: %w", path, err)
			}
			for i, v := range buf {
				rebuilt[l][i] += c * (float64(v) - float64(base[l][i]))
			}
		}
		r.Close()
	}
	dev := 0.0
	for l := range rebuilt {
		for i, v := range rebuilt[l] {
			t := float64(theta[l][i])
			dev = max(dev, math.Abs(v-t)/max(1, math.Abs(t)))
		}
	}
	return dev, nil
}
