package lab

// The m2n2-scratch and m2n2-specialists claims.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/evaluate/lineage"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search/m2n2"
)

// runClaimM2N2Scratch: M2N2 from scratch beats the GA ablation and is at
// least comparable to separable CMA-ES at the same number of evaluations.
func runClaimM2N2Scratch(ctx context.Context, o ClaimOptions) error {
	stderr := o.Log
	start := time.Now()
	b, err := prepare(ctx, benchmarks.M2N2ScratchName, o.CacheDir, o.MNISTDir, o.Smoke, stderr)
	if err != nil {
		return err
	}
	fit, test, err := mmM2n2Data(b, o)
	if err != nil {
		return err
	}
	every := max(o.Evaluations/10, 1)
	names := []string{"M2N2", "GA (α = 0, no attraction)", "sep-CMA-ES"}
	final := map[string][]float64{}
	curves := map[string][][]mmCurvePoint{}
	coverage := map[string][]float64{}
	for s := 1; s <= o.Seeds; s++ {
		seed := uint64(s)
		var seeds []model.Network
		for i := range 2 {
			m, err := mmGaussianModel(b.Config(), seed, "claims/m2n2-scratch", "init", fmt.Sprint(i))
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
			acc, curve, m, err := mmM2n2Run(ctx, cfg, seeds, fit, test, o.Evaluations, every, seed)
			if err != nil {
				return fmt.Errorf("%s, seed %d: %w", name, s, err)
			}
			final[name] = append(final[name], acc)
			curves[name] = append(curves[name], curve)
			coverage[name] = append(coverage[name], m.Coverage())
			fmt.Fprintf(stderr, "m2n2-scratch: seed %d %s: test accuracy %.4f, coverage %.3f (%s)\n", s, name, acc, m.Coverage(), time.Since(start).Round(time.Second))
		}
		acc, curve, err := mmCmaesRun(ctx, seeds[0], fit, test, o.Evaluations, every, seed)
		if err != nil {
			return fmt.Errorf("sep-CMA-ES, seed %d: %w", s, err)
		}
		final[names[2]] = append(final[names[2]], acc)
		curves[names[2]] = append(curves[names[2]], curve)
		fmt.Fprintf(stderr, "m2n2-scratch: seed %d sep-CMA-ES: test accuracy %.4f (%s)\n", s, acc, time.Since(start).Round(time.Second))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "### M2N2 from scratch (MNIST pooled to 8x8, 64-256-10 MLP, %d parameters)\n\n", benchmarks.M2N2Parameters)
	fmt.Fprintf(&sb, "Command: `%s` (%s on this machine).\n\n", o.Command, time.Since(start).Round(time.Second))
	fmt.Fprintf(&sb, "Budget: %d evaluations per run (the reference used 50,000), %d seeds, fitness on the first %d training images "+
		"(the reference: 1,437 digits), test accuracy of the archive's best member (highest mean fitness score) on %d test images. "+
		"M2N2: P = 20, α = 1, attraction, split point, N(0, 0.01²) mutation, two N(0, 0.01²) seeds. "+
		"GA: the same loop with α = 0 and no attraction. sep-CMA-ES: λ = 20, σ0 = 0.01 on the raw weights from the first seed, fitness = accuracy.\n\n",
		o.Evaluations, o.Seeds, fit.Fitness().Len(), test.Len())
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
	return mmFinishClaim(o, "m2n2-scratch", sb.String())
}

// runClaimM2N2Specialists: M2N2 from the digits 0-4 and 5-9 specialists
// beats the best of a brute-force sweep of SLERP mixing ratios, and the
// no-split-point ablation plateaus near that level.
func runClaimM2N2Specialists(ctx context.Context, o ClaimOptions) error {
	stderr, sweep := o.Log, o.Sweep
	start := time.Now()
	b, err := prepare(ctx, benchmarks.M2N2SpecialistsName, o.CacheDir, o.MNISTDir, o.Smoke, stderr)
	if err != nil {
		return err
	}
	fit, test, err := mmM2n2Data(b, o)
	if err != nil {
		return err
	}
	var seeds []model.Network
	var seedAcc []float64
	for _, mem := range b.Pool() {
		m, err := b.LoadMember(mem.Name)
		if err != nil {
			return err
		}
		acc, err := mmTestAccuracy(m, test, benchmarks.M2N2Head)
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
	every := max(o.Evaluations/10, 1)
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
		for s := 1; s <= o.Seeds; s++ {
			cfg := m2n2.DefaultConfig(1)
			v.edit(&cfg)
			acc, curve, _, err := mmM2n2Run(ctx, cfg, seeds, fit, test, o.Evaluations, every, uint64(s))
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
	fmt.Fprintf(&sb, "Command: `%s` (%s on this machine).\n\n", o.Command, time.Since(start).Round(time.Second))
	fmt.Fprintf(&sb, "Budget: %d evaluations per run (the reference plot: 10,000), %d seeds, fitness on the first %d validation images, "+
		"test accuracy on %d test images; no mutation. Specialists alone: %.3f (0-4) and %.3f (5-9). "+
		"Brute force: whole-model SLERP at %d evenly spaced ratios, the best on fitness (w = %.4f).\n\n",
		o.Evaluations, o.Seeds, fit.Fitness().Len(), test.Len(), seedAcc[0], seedAcc[1], sweep, bruteW)
	sb.WriteString("| method | test accuracy |\n|---|---:|\n")
	fmt.Fprintf(&sb, "| brute-force SLERP sweep (%d evaluations) | %.3f |\n", sweep, bruteAcc)
	for _, n := range names {
		fmt.Fprintf(&sb, "| %s | %s |\n", n, mmMeanSD(final[n], "%.3f"))
	}
	sb.WriteString("\nLearning curves (test accuracy of the best model against evaluations):\n\n")
	sb.WriteString(mmCurveTable(names, curves))
	return mmFinishClaim(o, "m2n2-specialists", sb.String())
}

// mmSlerpSweep evaluates whole-model SLERP of the two seeds at n evenly spaced
// ratios in [0, 1] through the lineage evaluator and returns the test
// accuracy of the best on fitness and its ratio.
func mmSlerpSweep(ctx context.Context, seeds []model.Network, fit tasks.Task, test *data.Dataset, n int) (float64, float64, error) {
	ev, err := lineage.New(lineage.Config{Seeds: seeds, Tasks: []tasks.Task{fit}})
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
	acc, err := mmTestAccuracy(m, test, benchmarks.M2N2Head)
	return acc, bestW, err
}
