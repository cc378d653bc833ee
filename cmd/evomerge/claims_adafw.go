package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/evomerge/evomerge/internal/lab"
	"github.com/evomerge/evomerge/search/adamerging"
)

const claimAdaMergingSynopsis = `claims adamerging [--out FILE] [--seeds N] [--steps N] [--evo-evals N] [--smoke] [--cache-dir DIR] [--mnist-dir DIR]

Reproduces the AdaMerging paper's main table on mnist-tasks: weight
averaging, task arithmetic and TIES (λ chosen on validation), Fisher,
RegMean, task-wise and layer-wise AdaMerging and AdaMerging++ (Adam on the
prediction entropy of the unlabelled TEST inputs of every task: test-time
adaptation), and CMA-ES over per-tensor task-arithmetic coefficients on
labelled validation data. Cells are test-split normalized accuracy, mean ±
sd over the seeds. --out writes the table into the AdaMerging/FW section of
a markdown file.`

const claimFWSynopsis = `claims fw-scaling [--out FILE] [--seeds N] [--added 0,4,8,16] [--steps N] [--smoke] [--cache-dir DIR] [--mnist-dir DIR]

Reproduces FW-Merging's scaling study on mnist-tasks: the pool holds the
four relevant experts plus 0, 4, 8 or 16 irrelevant models (experts
fine-tuned on other tasks, and randomly perturbed copies of the experts).
FW-Merging (hard, layer-wise LMO, labelled proxy set of validation
examples), task arithmetic and TIES (λ chosen on validation) and layer-wise
AdaMerging (unlabelled test inputs) merge the whole pool; cells are
test-split mean normalized accuracy on the four tasks, mean ± sd over the
seeds. --out writes the table into the AdaMerging/FW section.`

// adaFWFlags are the flags both claims share, in the order their command
// line is recorded.
var adaFWFlags = []string{"out", "seeds", "steps", "smoke"}

// registerAdaFWFlags registers the flags both claims share.
func registerAdaFWFlags(fs *flag.FlagSet, o *lab.ClaimOptions) {
	registerDataFlags(fs, &o.CacheDir, &o.MNISTDir)
	fs.StringVar(&o.ResultsFile, "out", "", "markdown file whose AdaMerging/FW section receives the table (default: print it)")
	fs.IntVar(&o.Seeds, "seeds", 3, "seeds (at least 3 for a table with standard deviations)")
	fs.IntVar(&o.Steps, "steps", adamerging.DefaultSteps, "AdaMerging Adam steps")
	fs.BoolVar(&o.Smoke, "smoke", false, "use the benchmark's tiny smoke recipe (pipeline check; results are not meaningful)")
}

// parseAdaFWFlags parses args with fs and checks the shared flags.
func parseAdaFWFlags(fs *flag.FlagSet, name string, args []string, o *lab.ClaimOptions) error {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("claims %s takes no positional arguments, got %q", name, pos)
	}
	if o.Seeds < 1 {
		return usagef("--seeds %d: give a positive count", o.Seeds)
	}
	if o.Steps < 1 {
		return usagef("--steps %d: give a positive count", o.Steps)
	}
	return nil
}

func parseAdaMergingFlags(args []string, stderr io.Writer) (lab.ClaimOptions, error) {
	var o lab.ClaimOptions
	fs := newFlagSet("claims adamerging", claimAdaMergingSynopsis, stderr)
	registerAdaFWFlags(fs, &o)
	fs.IntVar(&o.EvoEvaluations, "evo-evals", 240, "CMA-ES evaluations per seed")
	if err := parseAdaFWFlags(fs, "adamerging", args, &o); err != nil {
		return o, err
	}
	if o.EvoEvaluations < 1 {
		return o, usagef("--evo-evals %d: give a positive count", o.EvoEvaluations)
	}
	o.Command = commandLine(fs, "evomerge claims adamerging", append(adaFWFlags, "evo-evals")...)
	return o, nil
}

func parseFWScalingFlags(args []string, stderr io.Writer) (lab.ClaimOptions, error) {
	var o lab.ClaimOptions
	fs := newFlagSet("claims fw-scaling", claimFWSynopsis, stderr)
	registerAdaFWFlags(fs, &o)
	added := fs.String("added", "0,4,8,16", "numbers of irrelevant models added to the pool")
	fs.IntVar(&o.Proxy, "proxy", 200, "labelled validation examples per task in FW's proxy set")
	fs.IntVar(&o.Iterations, "iterations", 10, "FW iterations")
	fs.Float64Var(&o.Eta, "eta", 1, "FW step size η (γt = η·2/(t+2))")
	if err := parseAdaFWFlags(fs, "fw-scaling", args, &o); err != nil {
		return o, err
	}
	for _, f := range strings.Split(*added, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 0 {
			return o, usagef("--added %q: give comma-separated non-negative counts", *added)
		}
		o.Added = append(o.Added, n)
	}
	if o.Proxy < 1 || o.Iterations < 1 || !(o.Eta > 0) {
		return o, usagef("--proxy, --iterations and --eta must be positive")
	}
	o.Command = commandLine(fs, "evomerge claims fw-scaling", append(adaFWFlags, "added", "proxy", "iterations", "eta")...)
	return o, nil
}
