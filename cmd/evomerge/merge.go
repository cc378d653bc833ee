package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/operators"
)

const mergeSynopsis = `merge RECIPE.toml --out DIR [--workers N] [--shard-size SIZE] [--allow-nonfinite] [--mem]

Merges safetensors checkpoints (single files or sharded, F32/F16/BF16) as a
recipe describes (configs/examples/merge-*.toml; docs/merging.md), tensor by
tensor with bounded memory: each worker holds its inputs' copies of one tensor
plus the output, never whole models. The output directory gets
model.safetensors, or shards plus model.safetensors.index.json when
--shard-size (or the recipe's output.max_shard_size) is exceeded; the recipe
is recorded in the metadata under "evomerge.recipe". Merged tensors are
written as output.dtype says (F32, BF16 or F16); integer and boolean buffers
listed in task_tensors are copied unchanged. The result does not
depend on --workers. Methods that need data statistics (fisher, regmean)
cannot run here: they need task data (see 'evomerge bench operators').`

func cmdMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", mergeSynopsis, stderr)
	out := fs.String("out", "", "directory for the merged checkpoint; must not already hold one (required)")
	workers := fs.Int("workers", 0, "tensors merged at once (0: one per core); the output does not depend on it")
	shardSize := fs.String("shard-size", "", `maximum shard size, e.g. "2GB" or "500MiB" (overrides output.max_shard_size; "0": one file)`)
	allowNonFinite := fs.Bool("allow-nonfinite", false, "merge inputs that hold NaN or ±Inf values (refused by default, naming the model and tensor)")
	mem := fs.Bool("mem", false, "sample memory while merging and print peak Go heap and anonymous RSS (memory-mapped inputs excluded)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("merge needs exactly one recipe file, got %d arguments", len(pos))
	}
	if *out == "" {
		return usagef("merge needs --out DIR")
	}
	if *workers < 0 {
		return usagef("--workers %d: give 0 (one per core) or a positive count", *workers)
	}
	cfg, err := configs.LoadMerge(pos[0])
	if err != nil {
		return err
	}
	if *shardSize != "" {
		if _, err := configs.ParseByteSize(*shardSize); err != nil {
			return usagef("--shard-size: %v", err)
		}
		cfg.Output.MaxShardSize = *shardSize
	}
	var sampler *memSampler
	if *mem {
		sampler = startMemSampler(5 * time.Millisecond)
	}
	res, err := runMerge(ctx, cfg, *out, *workers, *allowNonFinite)
	if err != nil {
		if sampler != nil {
			sampler.stop()
		}
		return err
	}
	printMergeResult(stdout, cfg, *out, res)
	if sampler != nil {
		peak := sampler.stop()
		fmt.Fprintf(stdout, "memory: peak Go heap in use %s, heap reserved %s, peak anonymous RSS %s, VmHWM %s (includes memory-mapped input pages); tensor buffers bound %s (workers × (inputs + output) × largest tensor; operator scratch comes on top)\n",
			formatBytes(peak.heapInUse), formatBytes(peak.heapSys), formatBytes(peak.rssAnon), formatBytes(peak.vmHWM), formatBytes(res.report.BufferBound))
	}
	return nil
}

// mergeResult is what runMerge did.
type mergeResult struct {
	report  operators.StreamReport
	models  int
	hasBase bool
}

// recipeFromConfig converts the plain-data configuration into an operators
// recipe.
func recipeFromConfig(cfg *configs.MergeRecipe) *operators.Recipe {
	r := &operators.Recipe{
		Method:      cfg.Method,
		Seed:        cfg.Seed,
		Base:        cfg.Base,
		Params:      cfg.Params,
		Groups:      cfg.Groups,
		Tensors:     cfg.Tensors,
		Grouping:    cfg.Grouping,
		TaskTensors: cfg.TaskTensors,
	}
	for _, m := range cfg.Models {
		r.Models = append(r.Models, operators.RecipeModel{Name: m.Name, Path: m.Path, Params: m.Params})
	}
	return r
}

// recipeProblems turns key-level recipe errors into configuration problems
// that name the file and line.
func recipeProblems(cfg *configs.MergeRecipe, err error) error {
	es, ok := operators.AsRecipeErrors(err)
	if !ok {
		return err
	}
	ps := make(configs.Problems, len(es))
	for i, e := range es {
		ps[i] = cfg.Problem(e.Key, e.Err.Error())
	}
	return ps
}

// runMerge executes a validated recipe into dir.
func runMerge(ctx context.Context, cfg *configs.MergeRecipe, dir string, workers int, allowNonFinite bool) (mergeResult, error) {
	maxShard, err := configs.ParseByteSize(cfg.Output.MaxShardSize)
	if err != nil {
		return mergeResult{}, configs.Problems{cfg.Problem("output.max_shard_size", err.Error())}
	}
	rep, err := recipeFromConfig(cfg).MergeFiles(ctx, dir, operators.FileMergeOptions{
		Workers:        workers,
		DType:          checkpoint.DType(cfg.Output.DType),
		MaxShardBytes:  maxShard,
		AllowNonFinite: allowNonFinite,
		Origin:         cfg.File(),
	})
	if err != nil {
		return mergeResult{}, recipeProblems(cfg, err)
	}
	return mergeResult{report: rep, models: len(cfg.Models), hasBase: cfg.Base != ""}, nil
}

func printMergeResult(w io.Writer, cfg *configs.MergeRecipe, dir string, res mergeResult) {
	rep := res.report
	inputs := plural(res.models, "model")
	if res.hasBase {
		inputs += " and a base"
	}
	shards := "1 file"
	if n := len(rep.Files); n > 1 {
		shards = fmt.Sprintf("%d shards and an index", n-1)
	}
	fmt.Fprintf(w, "merged %s of %s with %s into %s (%s) using %s\n", plural(rep.Tensors, "tensor"), inputs, cfg.Method, dir, shards, plural(rep.Workers, "worker"))
	total := rep.Prepare + rep.Merge
	read := rep.InputBytes + rep.PrepareBytes
	rate := "-"
	if s := total.Seconds(); s > 0 {
		rate = formatBytes(int64(float64(read)/s)) + "/s"
	}
	fmt.Fprintf(w, "time %s (model-wide pass %s), read %s as float32 (%s), wrote %d elements\n",
		total.Round(time.Millisecond), rep.Prepare.Round(time.Millisecond), formatBytes(read), rate, rep.OutputElements)
	fmt.Fprintf(w, "worker time: load %s, merge %s, write %s\n",
		rep.Load.Round(time.Millisecond), rep.Compute.Round(time.Millisecond), rep.Write.Round(time.Millisecond))
}

// formatBytes prints a (non-negative) byte count of the memory figures.
func formatBytes(n int64) string { return configs.FormatByteSize(uint64(max(n, 0))) }

// plural writes a count with its noun, "1 model" or "2 models".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
