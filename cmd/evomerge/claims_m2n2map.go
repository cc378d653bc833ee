package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/evaluate/lineage"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/nn"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/cmaes"
	"github.com/evomerge/evomerge/search/m2n2"
	"github.com/evomerge/evomerge/search/mapmerge"
	"github.com/evomerge/evomerge/search/nsga2"
	"github.com/evomerge/evomerge/search/random"
)

// The paper-claim commands of M2N2 and MAP. Each runs its experiment over
// several seeds at equal evaluation budgets, prints a markdown section and,
// with --out, writes it into the M2N2/MAP part of a results file.

const (
	mmResultsStart = "<!-- m2n2-map:start -->"
	mmResultsEnd   = "<!-- m2n2-map:end -->"
)

// mmClaimOptions are the flags shared by the claim commands.
type mmClaimOptions struct {
	evals, seeds        int
	fitExamples, testEx int
	out                 string
	smoke               bool
	cacheDir, mnistDir  string
}

func (o *mmClaimOptions) register(fs *flag.FlagSet, evals, seeds, fit int) {
	fs.IntVar(&o.evals, "evals", evals, "evaluations per run (equal for every method)")
	fs.IntVar(&o.seeds, "seeds", seeds, "independent runs per method")
	fs.IntVar(&o.fitExamples, "fitness-examples", fit, "fitness examples (the first N of the fitness split)")
	fs.IntVar(&o.testEx, "test-examples", 0, "test examples scored at the end (0: the whole test split)")
	fs.StringVar(&o.out, "out", "", "results file to update (markdown, between "+mmResultsStart+" and "+mmResultsEnd+")")
	fs.BoolVar(&o.smoke, "smoke", false, "tiny benchmark recipe and budget, for tests (numbers are not meaningful)")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "benchmark cache root (default $EVOMERGE_CACHE/bench)")
	fs.StringVar(&o.mnistDir, "mnist-dir", "", "directory of the MNIST idx files (default: the GoMNIST module)")
}

func (o *mmClaimOptions) check() error {
	if o.evals < 10 || o.seeds < 1 || o.fitExamples < 1 || o.testEx < 0 {
		return fmt.Errorf("claims: --evals %d (at least 10), --seeds %d (at least 1), --fitness-examples %d (at least 1) and --test-examples %d (>= 0)", o.evals, o.seeds, o.fitExamples, o.testEx)
	}
	return nil
}

func mmParseClaimFlags(name string, args []string, stderr io.Writer, o *mmClaimOptions, evals, seeds, fit int, extra func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet("claims "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs, evals, seeds, fit)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("claims %s: unexpected arguments %q", name, fs.Args())
	}
	return o.check()
}

func (o *mmClaimOptions) prepare(ctx context.Context, name string, log io.Writer) (*data.Benchmark, error) {
	opt := data.Options{CacheDir: o.cacheDir, MNISTDir: o.mnistDir, Log: log}
	if o.smoke {
		r, err := data.SmokeRecipe(name)
		if err != nil {
			return nil, err
		}
		opt.Recipe = &r
	}
	return data.Prepare(ctx, name, opt)
}

// mmMeanSD formats the mean ± sample standard deviation of xs.
func mmMeanSD(xs []float64, format string) string {
	if len(xs) == 0 {
		return "n/a"
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) == 1 {
		return fmt.Sprintf(format, m)
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return fmt.Sprintf(format+" ± "+format, m, math.Sqrt(v/float64(len(xs)-1)))
}

// mmWriteResults replaces (or appends) the block named key inside the M2N2/MAP
// section of path, appending the section when it is missing, and writes the
// file atomically.
func mmWriteResults(path, key, body string) error {
	return editResults(path, func(text string) (string, error) {
		section, _, err := markedContent(text, mmResultsStart, mmResultsEnd)
		if err != nil {
			return "", err
		}
		section, err = setMarked(section, "<!-- "+key+":start -->", "<!-- "+key+":end -->", "", strings.TrimSpace(body))
		if err != nil {
			return "", err
		}
		return setMarked(text, mmResultsStart, mmResultsEnd, "## M2N2 and MAP: paper claims", section)
	})
}

func mmFinishClaim(o *mmClaimOptions, key, body string, stdout io.Writer) error {
	fmt.Fprintln(stdout, body)
	if o.out == "" {
		return nil
	}
	return mmWriteResults(o.out, key, body)
}

func mmCommandLine(name string, args []string) string {
	return strings.TrimSpace("evomerge claims " + name + " " + strings.Join(args, " "))
}

// mmTestAccuracy scores m on d (digits head).
func mmTestAccuracy(m *nn.Model, d *data.Dataset, head string) (float64, error) {
	met, err := m.Evaluate(d.X, d.Y, d.Len(), head, 1000)
	if err != nil {
		return 0, err
	}
	return met.Accuracy, nil
}

// mmGaussianModel is the reference code's from-scratch initialisation: every
// parameter N(0, 0.01²).
func mmGaussianModel(spec nn.Spec, seed uint64, path ...string) (*nn.Model, error) {
	m, err := nn.New(spec, 0)
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

// ---- M2N2 from scratch ----

// mmCurvePoint is the test accuracy of the best model after evals evaluations.
type mmCurvePoint struct {
	evals int
	acc   float64
}

// mmM2n2Run runs M2N2 (or an ablation) and returns the final test accuracy of
// the archive's best member and the learning curve.
func mmM2n2Run(ctx context.Context, cfg m2n2.Config, seeds []*nn.Model, fit, test *data.Dataset, evals, every int, seed uint64) (float64, []mmCurvePoint, *m2n2.Method, error) {
	ev, err := lineage.New(lineage.Config{Seeds: seeds, Tasks: []lineage.Task{{Name: data.M2N2Head, Head: data.M2N2Head, Data: fit}}})
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
		model, err := ev.Model(ctx, b.ID)
		if err != nil {
			return 0, err
		}
		return mmTestAccuracy(model, test, data.M2N2Head)
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
	model *nn.Model
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
		acc, err := mmTestAccuracy(e.model, e.fit, data.M2N2Head)
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
func mmCmaesRun(ctx context.Context, init *nn.Model, fit, test *data.Dataset, evals, every int, seed uint64) (float64, []mmCurvePoint, error) {
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
	ev := &mmWeightsEvaluator{model: init.Clone(), fit: fit}
	scorer := &mmWeightsEvaluator{model: init.Clone()}
	var bestX []float64
	bestFit := math.Inf(-1)
	var curve []mmCurvePoint
	score := func() (float64, error) {
		scorer.setWeights(bestX)
		return mmTestAccuracy(scorer.model, test, data.M2N2Head)
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

// mmM2n2Data returns the fitness and test data of an M2N2 benchmark.
func mmM2n2Data(b *data.Benchmark, o *mmClaimOptions) (fit, test *data.Dataset, err error) {
	if fit, err = b.DataRange(data.M2N2Head, b.FitnessSplit, 0, o.fitExamples); err != nil {
		return nil, nil, err
	}
	if test, err = b.Data(data.M2N2Head, data.Test); err != nil {
		return nil, nil, err
	}
	if o.testEx > 0 && o.testEx < test.Len() {
		test = test.Head(o.testEx)
	}
	return fit, test, nil
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

// runClaimM2N2Scratch: M2N2 from scratch beats the GA ablation and is at
// least comparable to separable CMA-ES at the same number of evaluations.
func runClaimM2N2Scratch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o mmClaimOptions
	if err := mmParseClaimFlags("m2n2-scratch", args, stderr, &o, 20000, 5, 1000, nil); err != nil {
		return err
	}
	start := time.Now()
	b, err := o.prepare(ctx, data.M2N2ScratchName, stderr)
	if err != nil {
		return err
	}
	fit, test, err := mmM2n2Data(b, &o)
	if err != nil {
		return err
	}
	every := max(o.evals/10, 1)
	names := []string{"M2N2", "GA (α = 0, no attraction)", "sep-CMA-ES"}
	final := map[string][]float64{}
	curves := map[string][][]mmCurvePoint{}
	coverage := map[string][]float64{}
	for s := 1; s <= o.seeds; s++ {
		seed := uint64(s)
		var seeds []*nn.Model
		for i := range 2 {
			m, err := mmGaussianModel(b.Spec(), seed, "claims/m2n2-scratch", "init", fmt.Sprint(i))
			if err != nil {
				return err
			}
			seeds = append(seeds, m)
		}
		for _, name := range names[:2] {
			cfg := m2n2.DefaultConfig(1)
			cfg.MutationSigma = 0.01
			if name != "M2N2" {
				cfg.Alpha, cfg.NoAttraction = 0, true
			}
			acc, curve, m, err := mmM2n2Run(ctx, cfg, seeds, fit, test, o.evals, every, seed)
			if err != nil {
				return fmt.Errorf("%s, seed %d: %w", name, s, err)
			}
			final[name] = append(final[name], acc)
			curves[name] = append(curves[name], curve)
			coverage[name] = append(coverage[name], m.Coverage())
			fmt.Fprintf(stderr, "m2n2-scratch: seed %d %s: test accuracy %.4f, coverage %.3f (%s)\n", s, name, acc, m.Coverage(), time.Since(start).Round(time.Second))
		}
		acc, curve, err := mmCmaesRun(ctx, seeds[0], fit, test, o.evals, every, seed)
		if err != nil {
			return fmt.Errorf("sep-CMA-ES, seed %d: %w", s, err)
		}
		final[names[2]] = append(final[names[2]], acc)
		curves[names[2]] = append(curves[names[2]], curve)
		fmt.Fprintf(stderr, "m2n2-scratch: seed %d sep-CMA-ES: test accuracy %.4f (%s)\n", s, acc, time.Since(start).Round(time.Second))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "### M2N2 from scratch (MNIST pooled to 8x8, 64-256-10 MLP, %d parameters)\n\n", data.M2N2Parameters)
	fmt.Fprintf(&sb, "Command: `%s` (%s on this machine).\n\n", mmCommandLine("m2n2-scratch", args), time.Since(start).Round(time.Second))
	fmt.Fprintf(&sb, "Budget: %d evaluations per run (the reference used 50,000), %d seeds, fitness on the first %d training images "+
		"(the reference: 1,437 digits), test accuracy of the archive's best member (highest mean fitness score) on %d test images. "+
		"M2N2: P = 20, α = 1, attraction, split point, N(0, 0.01²) mutation, two N(0, 0.01²) seeds. "+
		"GA: the same loop with α = 0 and no attraction. sep-CMA-ES: λ = 20, σ0 = 0.01 on the raw weights from the first seed, fitness = accuracy.\n\n",
		o.evals, o.seeds, fit.Len(), test.Len())
	sb.WriteString("| method | test accuracy | training coverage of the archive |\n|---|---:|---:|\n")
	for _, n := range names {
		cov := "n/a (one model)"
		if coverage[n] != nil {
			cov = mmMeanSD(coverage[n], "%.3f")
		}
		fmt.Fprintf(&sb, "| %s | %s | %s |\n", n, mmMeanSD(final[n], "%.3f"), cov)
	}
	sb.WriteString("\nLearning curves (test accuracy of the best model against evaluations, mean ± sd over seeds):\n\n")
	sb.WriteString(mmCurveTable(names, curves))
	return mmFinishClaim(&o, "m2n2-scratch", sb.String(), stdout)
}

// ---- M2N2 from the specialists ----

// runClaimM2N2Specialists: M2N2 from the digits 0-4 and 5-9 specialists
// beats the best of a brute-force sweep of SLERP mixing ratios, and the
// no-split-point ablation plateaus near that level.
func runClaimM2N2Specialists(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o mmClaimOptions
	var sweep int
	extra := func(fs *flag.FlagSet) {
		fs.IntVar(&sweep, "sweep", 1000, "evenly spaced SLERP mixing ratios of the brute-force baseline")
	}
	if err := mmParseClaimFlags("m2n2-specialists", args, stderr, &o, 5000, 5, 1000, extra); err != nil {
		return err
	}
	if sweep < 2 {
		return fmt.Errorf("claims m2n2-specialists: --sweep %d: give at least 2 ratios", sweep)
	}
	start := time.Now()
	b, err := o.prepare(ctx, data.M2N2SpecialistsName, stderr)
	if err != nil {
		return err
	}
	fit, test, err := mmM2n2Data(b, &o)
	if err != nil {
		return err
	}
	var seeds []*nn.Model
	var seedAcc []float64
	for _, mem := range b.Pool() {
		m, err := b.LoadMember(mem.Name)
		if err != nil {
			return err
		}
		acc, err := mmTestAccuracy(m, test, data.M2N2Head)
		if err != nil {
			return err
		}
		seeds = append(seeds, m)
		seedAcc = append(seedAcc, acc)
	}
	if len(seeds) != 2 {
		return fmt.Errorf("claims m2n2-specialists: the benchmark has %d specialists, want 2", len(seeds))
	}
	// Brute force: whole-model SLERP at evenly spaced ratios, best fitness.
	bruteAcc, bruteW, err := mmSlerpSweep(ctx, seeds, fit, test, sweep)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "m2n2-specialists: brute-force SLERP best w = %.4f, test accuracy %.4f (%s)\n", bruteW, bruteAcc, time.Since(start).Round(time.Second))
	every := max(o.evals/10, 1)
	type variant struct {
		name string
		edit func(*m2n2.Config)
	}
	variants := []variant{
		{"M2N2", func(*m2n2.Config) {}},
		{"M2N2 w/o attraction", func(c *m2n2.Config) { c.NoAttraction = true }},
		{"M2N2 w/o split point", func(c *m2n2.Config) { c.NoSplit = true }},
		{"GA (α = 0, no attraction)", func(c *m2n2.Config) { c.Alpha, c.NoAttraction = 0, true }},
	}
	final := map[string][]float64{}
	curves := map[string][][]mmCurvePoint{}
	var names []string
	for _, v := range variants {
		names = append(names, v.name)
		for s := 1; s <= o.seeds; s++ {
			cfg := m2n2.DefaultConfig(1)
			v.edit(&cfg)
			acc, curve, _, err := mmM2n2Run(ctx, cfg, seeds, fit, test, o.evals, every, uint64(s))
			if err != nil {
				return fmt.Errorf("%s, seed %d: %w", v.name, s, err)
			}
			final[v.name] = append(final[v.name], acc)
			curves[v.name] = append(curves[v.name], curve)
			fmt.Fprintf(stderr, "m2n2-specialists: seed %d %s: test accuracy %.4f (%s)\n", s, v.name, acc, time.Since(start).Round(time.Second))
		}
	}
	var sb strings.Builder
	sb.WriteString("### M2N2 from the digits 0-4 and 5-9 specialists\n\n")
	fmt.Fprintf(&sb, "Command: `%s` (%s on this machine).\n\n", mmCommandLine("m2n2-specialists", args), time.Since(start).Round(time.Second))
	fmt.Fprintf(&sb, "Budget: %d evaluations per run (the reference plot: 10,000), %d seeds, fitness on the first %d validation images, "+
		"test accuracy on %d test images; no mutation. Specialists alone: %.3f (0-4) and %.3f (5-9). "+
		"Brute force: whole-model SLERP at %d evenly spaced ratios, the best on fitness (w = %.4f).\n\n",
		o.evals, o.seeds, fit.Len(), test.Len(), seedAcc[0], seedAcc[1], sweep, bruteW)
	sb.WriteString("| method | test accuracy |\n|---|---:|\n")
	fmt.Fprintf(&sb, "| brute-force SLERP sweep (%d evaluations) | %.3f |\n", sweep, bruteAcc)
	for _, n := range names {
		fmt.Fprintf(&sb, "| %s | %s |\n", n, mmMeanSD(final[n], "%.3f"))
	}
	sb.WriteString("\nLearning curves (test accuracy of the best model against evaluations):\n\n")
	sb.WriteString(mmCurveTable(names, curves))
	return mmFinishClaim(&o, "m2n2-specialists", sb.String(), stdout)
}

// mmSlerpSweep evaluates whole-model SLERP of the two seeds at n evenly spaced
// ratios in [0, 1] through the lineage evaluator and returns the test
// accuracy of the best on fitness and its ratio.
func mmSlerpSweep(ctx context.Context, seeds []*nn.Model, fit, test *data.Dataset, n int) (float64, float64, error) {
	ev, err := lineage.New(lineage.Config{Seeds: seeds, Tasks: []lineage.Task{{Name: data.M2N2Head, Head: data.M2N2Head, Data: fit}}})
	if err != nil {
		return 0, 0, err
	}
	defer ev.Close()
	var ids []string
	for i := range 2 {
		g := population.VectorGenome([]float64{float64(i)})
		id, err := population.ID(g, ev.EvalSpec(), ev.Version())
		if err != nil {
			return 0, 0, err
		}
		ids = append(ids, id)
		c := &population.Candidate{ID: id, Genome: g}
		if err := ev.Evaluate(ctx, []*population.Candidate{c}); err != nil || !c.OK() {
			return 0, 0, fmt.Errorf("seed %d: %v %s", i, err, c.Error)
		}
	}
	bestW, bestFit, bestID := 0.0, -1.0, ""
	for k := range n {
		w := float64(k) / float64(n-1)
		g := population.Genome{Recipe: &population.Recipe{Operator: m2n2.Operator, Parents: ids,
			Params: map[string]float64{m2n2.ParamSplit: float64(ev.Parameters()), m2n2.ParamRatio: w}}}
		id, err := population.ID(g, ev.EvalSpec(), ev.Version())
		if err != nil {
			return 0, 0, err
		}
		c := &population.Candidate{ID: id, Genome: g}
		if err := ev.Evaluate(ctx, []*population.Candidate{c}); err != nil {
			return 0, 0, err
		}
		if !c.OK() {
			return 0, 0, fmt.Errorf("SLERP w = %v: %s", w, c.Error)
		}
		if c.Scores[0] > bestFit {
			bestW, bestFit, bestID = w, c.Scores[0], id
		}
		ev.ArchiveChanged(append(slices.Clone(ids), bestID)) // keep the seeds and the best only
	}
	m, err := ev.Model(ctx, bestID)
	if err != nil {
		return 0, 0, err
	}
	acc, err := mmTestAccuracy(m, test, data.M2N2Head)
	return acc, bestW, err
}

// ---- MAP on mnist-tasks ----

// mmMapProblem is task arithmetic over a subset of mnist-tasks' experts with
// one weight per expert in [0, 1] (λ = 1), scored by accuracy per task.
type mmMapProblem struct {
	tasks []string
	ev    *evaluate.Native
	space *population.Space
	dirs  []fitness.Direction
}

func mmNewMAPProblem(b *data.Benchmark, tasks []string, fitExamples int) (*mmMapProblem, error) {
	base, ok := b.Base()
	if !ok {
		return nil, fmt.Errorf("benchmark %s has no base model", b.Name)
	}
	files := evaluate.PoolFiles{Base: base.Path, Benchmark: b.Name, BenchmarkVersion: b.Version}
	for _, t := range tasks {
		exp, ok := b.Expert(t)
		if !ok {
			return nil, fmt.Errorf("benchmark %s has no expert for task %q", b.Name, t)
		}
		files.Models = append(files.Models, exp.Path)
		files.Names = append(files.Names, t)
	}
	pool, err := evaluate.LoadPool(files)
	if err != nil {
		return nil, err
	}
	op := operators.TaskArithmetic()
	lo, hi := 0.0, 1.0
	space, mapping, err := population.DeriveSpace(op.Params(), population.SearchSpec{
		Operator: op.Name(), Models: tasks,
		Targets: []population.Target{{Param: "weight", PerModel: true, Lower: &lo, Upper: &hi}},
		Fixed:   operators.Settings{Default: operators.Values{Global: map[string]operators.Value{"lambda": operators.F(1)}}},
	})
	if err != nil {
		return nil, err
	}
	evTasks, err := evaluate.BenchmarkTasks(b, tasks, "")
	if err != nil {
		return nil, err
	}
	for i := range evTasks {
		if fitExamples < evTasks[i].Fitness.Len() {
			evTasks[i].Fitness = evTasks[i].Fitness.Head(fitExamples)
		}
	}
	var objs []fitness.Objective
	var dirs []fitness.Direction
	for _, t := range tasks {
		objs = append(objs, fitness.Objective{Name: t + "/accuracy", Task: t, Metric: evaluate.MetricAccuracy, Direction: fitness.Maximize})
		dirs = append(dirs, fitness.Maximize)
	}
	ev, err := evaluate.NewNative(evaluate.NativeConfig{Merge: evaluate.MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: 1},
		Tasks: evTasks, Objectives: objs, Workers: 1})
	if err != nil {
		return nil, err
	}
	return &mmMapProblem{tasks: tasks, ev: ev, space: space, dirs: dirs}, nil
}

// run drives a method and returns every successful candidate's scores.
func (p *mmMapProblem) run(ctx context.Context, m search.Method, evals int, seed uint64) (*search.Result, error) {
	res, err := search.Run(ctx, m, p.ev, search.Problem{Space: p.space, Directions: p.dirs, Seed: seed},
		search.Settings{MaxEvaluations: evals, EvalSpec: p.ev.EvalSpec(), Version: p.ev.Version()})
	if err != nil {
		return nil, err
	}
	if res.Status == search.StatusFailure || res.Status == search.StatusCancelled {
		return nil, res.Err
	}
	return res, nil
}

// grid evaluates the dense coefficient grid: the brute-force reference.
func (p *mmMapProblem) grid(ctx context.Context, g int) (xs, ys [][]float64, err error) {
	n := p.space.Len()
	idx := make([]int, n)
	var batch []*population.Candidate
	for {
		c := make([]float64, n)
		for i := range c {
			c[i] = float64(idx[i]) / float64(g-1)
		}
		gen := population.VectorGenome(c)
		id, err := population.ID(gen, p.ev.EvalSpec(), p.ev.Version())
		if err != nil {
			return nil, nil, err
		}
		batch = append(batch, &population.Candidate{ID: id, Genome: gen})
		i := 0
		for ; i < n; i++ {
			idx[i]++
			if idx[i] < g {
				break
			}
			idx[i] = 0
		}
		if i == n {
			break
		}
	}
	if err := p.ev.Evaluate(ctx, batch); err != nil {
		return nil, nil, err
	}
	for _, c := range batch {
		if !c.OK() {
			return nil, nil, fmt.Errorf("grid point %v: %s", c.Genome.Values, c.Error)
		}
		xs = append(xs, c.Genome.Values)
		ys = append(ys, c.Scores)
	}
	return xs, ys, nil
}

// mmFrontOf returns the non-dominated points of a set of score vectors.
func mmFrontOf(points [][]float64, dirs []fitness.Direction) [][]float64 {
	var out [][]float64
	for _, k := range fitness.ParetoFront(points, dirs) {
		out = append(out, points[k])
	}
	return out
}

// mmMapStats are one run's mmIndicators.
type mmMapStats struct {
	igd, hv float64
}

func mmIndicators(points, ref [][]float64, refPoint []float64, dirs []fitness.Direction) (mmMapStats, error) {
	if len(points) == 0 {
		return mmMapStats{igd: math.NaN(), hv: 0}, nil
	}
	front := mmFrontOf(points, dirs)
	igd, err := fitness.IGD(front, ref, dirs)
	if err != nil {
		return mmMapStats{}, err
	}
	hv, err := fitness.Hypervolume(front, refPoint, dirs)
	if err != nil {
		return mmMapStats{}, err
	}
	return mmMapStats{igd, hv}, nil
}

// runClaimMAP: MAP on 2 and 3 tasks of mnist-tasks with (N+1)(N+2) design
// evaluations: surrogate R², IGD and hypervolume of its predicted and
// re-evaluated fronts against the brute-force grid front, against random
// search and NSGA-II with the same number of true evaluations.
func runClaimMAP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o mmClaimOptions
	var grid2, grid3 int
	extra := func(fs *flag.FlagSet) {
		fs.IntVar(&grid2, "grid2", 51, "brute-force grid points per axis for 2 tasks")
		fs.IntVar(&grid3, "grid3", 21, "brute-force grid points per axis for 3 tasks")
	}
	// --evals is unused by MAP (its budget is (N+1)(N+2) plus re-evaluations);
	// it is accepted for a uniform command line.
	if err := mmParseClaimFlags("map", args, stderr, &o, 100, 3, 1000, extra); err != nil {
		return err
	}
	if grid2 < 3 || grid3 < 3 {
		return fmt.Errorf("claims map: --grid2 %d and --grid3 %d: give at least 3", grid2, grid3)
	}
	start := time.Now()
	b, err := o.prepare(ctx, data.MNISTTasksName, stderr)
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("### MAP on mnist-tasks (task arithmetic, one weight per expert in [0, 1], λ = 1)\n\n")
	fmt.Fprintf(&sb, "Command: `%s`.\n\n", mmCommandLine("map", args))
	fmt.Fprintf(&sb, "Fitness: validation accuracy per task on the first %d images of each task; %d seeds. "+
		"MAP: (N+1)(N+2) design points (N one-hots + Latin hypercube), sigmoid quadratic surrogates, dense-grid front "+
		"in the sampled box, 1 equal-preference point + 8 points spread along the front re-evaluated. "+
		"Random search (Latin hypercube) and NSGA-II get MAP's total number of true evaluations. "+
		"IGD (lower is better) and hypervolume (higher is better) against the front of the brute-force grid; "+
		"the hypervolume reference point is the grid's nadir moved out by 10%% of each range. "+
		"Grid R² is the surrogate against every grid point (held out: none of them was used to fit it).\n\n",
		o.fitExamples, o.seeds)
	for _, setting := range []struct {
		tasks []string
		g     int
	}{{[]string{"rotated", "permuted"}, grid2}, {[]string{"digits", "rotated", "permuted"}, grid3}} {
		p, err := mmNewMAPProblem(b, setting.tasks, o.fitExamples)
		if err != nil {
			return err
		}
		n := len(setting.tasks)
		gx, gy, err := p.grid(ctx, setting.g)
		if err != nil {
			return err
		}
		ref := mmFrontOf(gy, p.dirs)
		refPoint, err := fitness.ReferencePoint(gy, p.dirs, 0.1)
		if err != nil {
			return err
		}
		gridHV, err := fitness.Hypervolume(ref, refPoint, p.dirs)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "map: %d tasks: grid of %d points, %d on its front (%s)\n", n, len(gy), len(ref), time.Since(start).Round(time.Second))
		rows := map[string]map[string][]float64{}
		add := func(method, key string, v float64) {
			if rows[method] == nil {
				rows[method] = map[string][]float64{}
			}
			rows[method][key] = append(rows[method][key], v)
		}
		var r2cv, r2grid [][]float64 // per seed, per task
		total := 0
		for s := 1; s <= o.seeds; s++ {
			seed := uint64(s)
			mm, err := mapmerge.New(mapmerge.Config{})
			if err != nil {
				return err
			}
			res, err := p.run(ctx, mm, 0, seed)
			if err != nil {
				return fmt.Errorf("MAP, %d tasks, seed %d: %w", n, s, err)
			}
			out := mm.Outcome()
			total = res.Evaluations
			var pred, real [][]float64
			for _, f := range out.Front {
				pred = append(pred, f.Predicted)
			}
			for _, f := range out.Chosen {
				if f.Real != nil {
					real = append(real, f.Real)
				}
			}
			var design [][]float64
			for _, d := range out.Design {
				design = append(design, d.Scores)
			}
			st, err := mmIndicators(pred, ref, refPoint, p.dirs)
			if err != nil {
				return err
			}
			add("MAP predicted front", "igd", st.igd)
			add("MAP predicted front", "hv", st.hv)
			st, err = mmIndicators(append(real, design...), ref, refPoint, p.dirs)
			if err != nil {
				return err
			}
			add("MAP re-evaluated (design + chosen)", "igd", st.igd)
			add("MAP re-evaluated (design + chosen)", "hv", st.hv)
			var cv, gr []float64
			for k := range setting.tasks {
				cv = append(cv, out.CrossValidated[k].R2)
				ys := make([]float64, len(gy))
				for i := range gy {
					ys[i] = gy[i][k]
				}
				gr = append(gr, out.Surrogates[k].Evaluate(gx, ys).R2)
			}
			r2cv, r2grid = append(r2cv, cv), append(r2grid, gr)
			// Baselines with the same number of true evaluations.
			rm, err := random.New(random.Options{BatchSize: total, Sampling: random.LHS})
			if err != nil {
				return err
			}
			rres, err := p.run(ctx, rm, total, seed)
			if err != nil {
				return err
			}
			nm, err := nsga2.New(nsga2.Options{PopulationSize: max(4, total/4/2*2)})
			if err != nil {
				return err
			}
			nres, err := p.run(ctx, nm, total, seed)
			if err != nil {
				return err
			}
			for _, base := range []struct {
				name string
				res  *search.Result
			}{{"random search (LHS)", rres}, {"NSGA-II", nres}} {
				var pts [][]float64
				for _, c := range base.res.Candidates {
					if c.OK() {
						pts = append(pts, c.Scores)
					}
				}
				st, err := mmIndicators(pts, ref, refPoint, p.dirs)
				if err != nil {
					return err
				}
				add(base.name, "igd", st.igd)
				add(base.name, "hv", st.hv)
			}
			fmt.Fprintf(stderr, "map: %d tasks, seed %d done (%s)\n", n, s, time.Since(start).Round(time.Second))
		}
		fmt.Fprintf(&sb, "#### %d tasks: %s\n\n", n, strings.Join(setting.tasks, ", "))
		fmt.Fprintf(&sb, "True evaluations per run: %d ((N+1)(N+2) = %d design + re-evaluated front points); brute-force grid: %d^%d = %d evaluations, hypervolume %.4f.\n\n",
			total, (n+1)*(n+2), setting.g, n, len(gy), gridHV)
		sb.WriteString("| task | surrogate R² (leave-one-out) | surrogate R² on the grid |\n|---|---:|---:|\n")
		for k, t := range setting.tasks {
			var a, g []float64
			for s := range r2cv {
				a, g = append(a, r2cv[s][k]), append(g, r2grid[s][k])
			}
			fmt.Fprintf(&sb, "| %s | %s | %s |\n", t, mmMeanSD(a, "%.3f"), mmMeanSD(g, "%.3f"))
		}
		sb.WriteString("\n| method | IGD to the grid front | hypervolume |\n|---|---:|---:|\n")
		for _, name := range []string{"MAP predicted front", "MAP re-evaluated (design + chosen)", "random search (LHS)", "NSGA-II"} {
			fmt.Fprintf(&sb, "| %s | %s | %s |\n", name, mmMeanSD(rows[name]["igd"], "%.4f"), mmMeanSD(rows[name]["hv"], "%.4f"))
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "Wall time: %s on this machine.\n", time.Since(start).Round(time.Second))
	return mmFinishClaim(&o, "map", sb.String(), stdout)
}
