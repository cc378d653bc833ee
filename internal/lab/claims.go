package lab

import (
	"context"
	"fmt"
	"io"
)

// Claim is one reproducible paper claim: an experiment run over several
// seeds whose markdown table goes to the options' Output and, with
// ResultsFile, into that file.
type Claim struct {
	Name    string
	Summary string
	run     func(ctx context.Context, o ClaimOptions) error
	check   func(o ClaimOptions) error
}

// Claims lists the claims in the order `evomerge claims` shows them.
func Claims() []Claim {
	return []Claim{
		{"m2n2-scratch", "M2N2 from scratch on 8x8 MNIST vs the GA ablation and CMA-ES", runClaimM2N2Scratch, checkM2N2MAP},
		{"m2n2-specialists", "M2N2 from the digits 0-4 / 5-9 specialists vs a brute-force SLERP sweep", runClaimM2N2Specialists, checkM2N2Specialists},
		{"map", "MAP's surrogate fronts on 2 and 3 mnist-tasks tasks vs brute force, random search and NSGA-II", runClaimMAP, checkMAP},
		{"adamerging", "AdaMerging's table on mnist-tasks (averaging, task arithmetic, TIES, AdaMerging(++), Fisher, RegMean, evolution)", runClaimAdaMerging, checkAdaMerging},
		{"fw-scaling", "FW-Merging with 0, 4, 8, 16 irrelevant models added to the pool", runClaimFWScaling, checkFWScaling},
	}
}

// ClaimOptions configure [RunClaim]. Every claim reads the common fields;
// the others belong to the claims their comments name and are ignored by
// the rest.
type ClaimOptions struct {
	// Output receives the table (adamerging and fw-scaling print only a
	// line saying where it went when ResultsFile is set); Log receives
	// progress. Nil discards.
	Output, Log io.Writer
	// ResultsFile, when set, is the markdown file whose section of the claim
	// receives the table: between M2N2MAPBegin and M2N2MAPEnd for
	// m2n2-scratch, m2n2-specialists and map, between AdaFWBegin and
	// AdaFWEnd for adamerging and fw-scaling.
	ResultsFile string
	// Command is the command line recorded with the table.
	Command string
	// CacheDir and MNISTDir locate the benchmark cache and MNIST
	// (internal/benchmarks' defaults when empty).
	CacheDir, MNISTDir string
	// Smoke uses the benchmark's tiny smoke recipe (a pipeline check; the
	// figures are not meaningful).
	Smoke bool
	// Seeds is the number of independent runs per method (at least 1).
	Seeds int

	// Evaluations per run, equal for every method (at least 10; map uses
	// its own budget); FitnessExamples, the first examples of the fitness
	// split scored (at least 1); TestExamples, the test examples scored at
	// the end (0: the whole test split). m2n2-scratch, m2n2-specialists and
	// map.
	Evaluations, FitnessExamples, TestExamples int
	// Sweep is the number of evenly spaced SLERP ratios of the brute-force
	// baseline (at least 2). m2n2-specialists.
	Sweep int
	// Grid2 and Grid3 are the brute-force grid points per axis for 2 and 3
	// tasks (at least 3 each). map.
	Grid2, Grid3 int

	// Steps are the AdaMerging Adam steps (at least 1). adamerging and
	// fw-scaling.
	Steps int
	// EvoEvaluations are the CMA-ES evaluations per seed (at least 1).
	// adamerging.
	EvoEvaluations int
	// Added are the numbers of irrelevant models added to the pool (at
	// least one, none negative); Proxy the labelled validation examples per
	// task in FW's proxy set; Iterations the FW iterations; Eta the FW step
	// size η (all positive). fw-scaling.
	Added      []int
	Proxy      int
	Iterations int
	Eta        float64
}

// RunClaim runs the claim called name (one of [Claims]).
func RunClaim(ctx context.Context, name string, o ClaimOptions) error {
	var names []string
	for _, c := range Claims() {
		if c.Name == name {
			if err := c.check(o); err != nil {
				return fmt.Errorf("lab: claim %s: %w", name, err)
			}
			o.Output, o.Log = orDiscard(o.Output), orDiscard(o.Log)
			return c.run(ctx, o)
		}
		names = append(names, c.Name)
	}
	return fmt.Errorf("lab: unknown claim %q: choose one of %q", name, names)
}
