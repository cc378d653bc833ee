package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/evomerge/evomerge/internal/lab"
)

// The flags of the M2N2 and MAP claims. They are parsed by a plain flag set
// and their errors are failures (exit 1), as they have always been.

// registerM2N2MAPFlags registers the flags the M2N2 and MAP claims share,
// with the claim's default budget.
func registerM2N2MAPFlags(fs *flag.FlagSet, o *lab.ClaimOptions, evals, seeds, fit int) {
	fs.IntVar(&o.Evaluations, "evals", evals, "evaluations per run (equal for every method)")
	fs.IntVar(&o.Seeds, "seeds", seeds, "independent runs per method")
	fs.IntVar(&o.FitnessExamples, "fitness-examples", fit, "fitness examples (the first N of the fitness split)")
	fs.IntVar(&o.TestExamples, "test-examples", 0, "test examples scored at the end (0: the whole test split)")
	fs.StringVar(&o.ResultsFile, "out", "", "results file to update (markdown, between "+lab.M2N2MAPBegin+" and "+lab.M2N2MAPEnd+")")
	fs.BoolVar(&o.Smoke, "smoke", false, "tiny benchmark recipe and budget, for tests (numbers are not meaningful)")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "benchmark cache root (default $EVOMERGE_CACHE/bench)")
	fs.StringVar(&o.MNISTDir, "mnist-dir", "", "directory of the MNIST idx files (default: the GoMNIST module)")
}

// parseM2N2MAPFlags parses the flags of claim name; extra registers the
// claim's own. The command recorded with the results is the one as typed.
func parseM2N2MAPFlags(name string, args []string, stderr io.Writer, evals, seeds, fit int, extra func(*flag.FlagSet, *lab.ClaimOptions)) (lab.ClaimOptions, error) {
	var o lab.ClaimOptions
	fs := flag.NewFlagSet("claims "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	registerM2N2MAPFlags(fs, &o, evals, seeds, fit)
	if extra != nil {
		extra(fs, &o)
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("claims %s: unexpected arguments %q", name, fs.Args())
	}
	if o.Evaluations < 10 || o.Seeds < 1 || o.FitnessExamples < 1 || o.TestExamples < 0 {
		return o, fmt.Errorf("claims: --evals %d (at least 10), --seeds %d (at least 1), --fitness-examples %d (at least 1) and --test-examples %d (>= 0)", o.Evaluations, o.Seeds, o.FitnessExamples, o.TestExamples)
	}
	o.Command = strings.TrimSpace("evomerge claims " + name + " " + strings.Join(args, " "))
	return o, nil
}

func parseM2N2ScratchFlags(args []string, stderr io.Writer) (lab.ClaimOptions, error) {
	return parseM2N2MAPFlags("m2n2-scratch", args, stderr, 20000, 5, 1000, nil)
}

func parseM2N2SpecialistsFlags(args []string, stderr io.Writer) (lab.ClaimOptions, error) {
	o, err := parseM2N2MAPFlags("m2n2-specialists", args, stderr, 5000, 5, 1000, func(fs *flag.FlagSet, o *lab.ClaimOptions) {
		fs.IntVar(&o.Sweep, "sweep", 1000, "evenly spaced SLERP mixing ratios of the brute-force baseline")
	})
	if err == nil && o.Sweep < 2 {
		err = fmt.Errorf("claims m2n2-specialists: --sweep %d: give at least 2 ratios", o.Sweep)
	}
	return o, err
}

func parseMAPFlags(args []string, stderr io.Writer) (lab.ClaimOptions, error) {
	// --evals is unused by MAP (its budget is (N+1)(N+2) plus
	// re-evaluations); it is accepted for a uniform command line.
	o, err := parseM2N2MAPFlags("map", args, stderr, 100, 3, 1000, func(fs *flag.FlagSet, o *lab.ClaimOptions) {
		fs.IntVar(&o.Grid2, "grid2", 51, "brute-force grid points per axis for 2 tasks")
		fs.IntVar(&o.Grid3, "grid3", 21, "brute-force grid points per axis for 3 tasks")
	})
	if err == nil && (o.Grid2 < 3 || o.Grid3 < 3) {
		err = fmt.Errorf("claims map: --grid2 %d and --grid3 %d: give at least 3", o.Grid2, o.Grid3)
	}
	return o, err
}
