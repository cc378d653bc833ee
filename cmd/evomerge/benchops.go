package main

import (
	"context"
	"io"

	"github.com/evomerge/evomerge/internal/lab"
)

const benchOpsSynopsis = `bench operators [--out FILE] [--stats-examples N] [--smoke] [--cache-dir DIR] [--mnist-dir DIR]

Merges the mnist-tasks experts with every merge method that takes their
number of models, once with the method's defaults and once with its main
coefficient (λ for task-vector methods, α for regmean, β for LiNeS) chosen
on the validation split from a small grid, scores every merge on the test
split, and prints a markdown table of per-task and mean normalized accuracy
(merged accuracy / expert accuracy) with absolute accuracies. --out writes
the table into the operators section of a markdown file (between
<!-- operators-results:begin --> and <!-- operators-results:end -->,
appended when absent), atomically. Fisher and RegMean statistics are
computed on the first --stats-examples training images of each expert's
task.`

// runOperatorsBenchmark is `evomerge bench operators`.
func runOperatorsBenchmark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench operators", benchOpsSynopsis, stderr)
	o := lab.OperatorsOptions{Output: stdout, Log: stderr}
	registerDataFlags(fs, &o.CacheDir, &o.MNISTDir)
	fs.StringVar(&o.ResultsFile, "out", "", "markdown file whose operators section receives the table (default: print it)")
	fs.IntVar(&o.StatsExamples, "stats-examples", 256, "training images per task for Fisher and RegMean statistics")
	fs.BoolVar(&o.Smoke, "smoke", false, "use the benchmark's tiny smoke recipe (pipeline check; results are not meaningful)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("bench operators takes no positional arguments, got %q", pos)
	}
	if o.StatsExamples < 1 {
		return usagef("--stats-examples %d: give a positive count", o.StatsExamples)
	}
	o.Command = commandLine(fs, "evomerge bench operators", "out", "stats-examples", "smoke")
	return lab.BenchOperators(ctx, o)
}
