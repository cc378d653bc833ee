package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
)

const evalSynopsis = `eval --model PATH --benchmark NAME [--split validation|test] [--json] [--allow-nonfinite] [--cache-dir DIR] [--mnist-dir DIR]

Scores a checkpoint (a .safetensors file, a model.safetensors.index.json, or a
directory holding either) on every task of a built-in benchmark: accuracy and
mean cross-entropy per task. A checkpoint without a task's head
(heads.<task>.weight/bias) is scored with that task's expert head, since heads
are per task and never merged. The benchmark is prepared first if it is not
cached yet.

--json prints one object:
  {"benchmark": "mnist-tasks", "version": "1", "split": "test", "model": PATH,
   "tasks": [{"task": "digits", "accuracy": 0.97, "loss": 0.09, "examples": 10000,
              "head": "model" | "expert",
              "expert_accuracy": 0.98, "normalized_accuracy": 0.99}, ...],
   "mean_accuracy": 0.9, "mean_normalized_accuracy": 0.93}
expert_accuracy, normalized_accuracy (accuracy / expert accuracy) and
mean_normalized_accuracy are present only for tasks that have an expert.`

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", evalSynopsis, stderr)
	var df benchDataFlags
	df.register(fs)
	model := fs.String("model", "", "checkpoint to evaluate (required)")
	bench := fs.String("benchmark", "", "built-in benchmark: "+strings.Join(benchmarks.Names(), ", ")+" (required)")
	splitName := fs.String("split", string(data.Test), "split to score on: validation or test")
	asJSON := fs.Bool("json", false, "print the scores as JSON")
	allowNonFinite := fs.Bool("allow-nonfinite", false, "evaluate a checkpoint that holds NaN or ±Inf weights (refused by default, naming the tensor)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("eval takes no positional arguments, got %q (use --model PATH)", pos)
	}
	if *model == "" {
		return usagef("eval needs --model PATH")
	}
	if *bench == "" {
		return usagef("eval needs --benchmark NAME (one of %s)", strings.Join(benchmarks.Names(), ", "))
	}
	if !isBenchmark(*bench) {
		return usagef("unknown benchmark %q: built-in benchmarks are %s", *bench, strings.Join(benchmarks.Names(), ", "))
	}
	split, err := data.ParseSplit(*splitName)
	if err != nil || split == data.Train {
		return usagef("--split %q: use validation or test", *splitName)
	}
	b, err := benchmarks.Prepare(ctx, *bench, benchmarks.Options{CacheDir: df.cacheDir, MNISTDir: df.mnistDir, Log: stderr})
	if err != nil {
		return err
	}
	scores, err := b.EvaluateFile(ctx, *model, split, benchmarks.FileOptions{AllowNonFinite: *allowNonFinite})
	var nf *checkpoint.NonFiniteError
	if errors.As(err, &nf) {
		return fmt.Errorf("%w; fix or replace the checkpoint, or pass --allow-nonfinite to evaluate it anyway", err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(scores)
	}
	return printScores(stdout, scores)
}

// printScores writes a human-readable table of scores.
func printScores(w io.Writer, s *benchmarks.Scores) error {
	fmt.Fprintf(w, "%s on %s version %s, %s split\n", s.Model, s.Benchmark, s.Version, s.Split)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "task\taccuracy\tloss\texamples\thead\tnormalized\t")
	for _, t := range s.Tasks {
		norm := "-"
		if t.Normalized != nil {
			norm = fmt.Sprintf("%.4f", *t.Normalized)
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%d\t%s\t%s\t\n", t.Task, t.Accuracy, t.Loss, t.Examples, t.HeadSource, norm)
	}
	mean := "-"
	if s.MeanNormalized != nil {
		mean = fmt.Sprintf("%.4f", *s.MeanNormalized)
	}
	fmt.Fprintf(tw, "mean\t%.4f\t\t\t\t%s\t\n", s.MeanAccuracy, mean)
	return tw.Flush()
}
