package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
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
	var res mergeResult
	op, err := operators.Builtin().Get(cfg.Method)
	if err != nil {
		return res, configs.Problems{cfg.Problem("method", err.Error())}
	}
	req := op.Requirements()
	if req.Fisher || req.Gram {
		return res, configs.Problems{cfg.Problem("method", fmt.Sprintf(
			"%s needs statistics computed on each model's task data (Fisher information or input Gram matrices), which a merge of checkpoints alone does not have; use it through a benchmark ('evomerge bench operators') or a search config", op.Name()))}
	}
	if req.Base == operators.BaseRequired && cfg.Base == "" {
		return res, configs.Problems{cfg.Problem("base", fmt.Sprintf("missing: %s works on task vectors θi − θ0 and needs the base model θ0", op.Name()))}
	}
	recipe := recipeFromConfig(cfg)
	if _, err := recipe.Settings(op); err != nil {
		return res, recipeProblems(cfg, err)
	}
	maxShard, err := configs.ParseByteSize(cfg.Output.MaxShardSize)
	if err != nil {
		return res, configs.Problems{cfg.Problem("output.max_shard_size", err.Error())}
	}
	paths := make([]string, len(cfg.Models))
	for i, m := range cfg.Models {
		paths[i] = m.Path
	}
	src, err := operators.OpenCheckpointSource(cfg.Base, paths)
	if err != nil {
		return res, fmt.Errorf("%s: %w", cfg.File(), err)
	}
	defer src.Close()
	plan, err := recipe.Plan(op, src, nil)
	if err != nil {
		return res, recipeProblems(cfg, err)
	}
	text, err := recipe.JSON()
	if err != nil {
		return res, err
	}
	meta := src.Metadata()
	meta[operators.RecipeMetadataKey] = text
	opt := operators.StreamOptions{
		Workers:        workers,
		DType:          checkpoint.DType(cfg.Output.DType),
		MaxShardBytes:  maxShard,
		Metadata:       meta,
		AllowNonFinite: allowNonFinite,
	}
	rep, err := operators.StreamMerge(ctx, plan, src, dir, opt)
	if err != nil {
		return res, err
	}
	return mergeResult{report: rep, models: len(paths), hasBase: cfg.Base != ""}, nil
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

// memPeak holds the highest memory figures a memSampler saw.
type memPeak struct {
	heapInUse, heapSys, rssAnon, vmHWM int64
}

// memSampler polls the Go heap and the process's anonymous resident memory
// (which excludes memory-mapped file pages such as the inputs) until stopped.
type memSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak memPeak
}

func startMemSampler(every time.Duration) *memSampler {
	s := &memSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *memSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	anon, hwm := procStatus()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.heapInUse = max(s.peak.heapInUse, int64(ms.HeapInuse))
	s.peak.heapSys = max(s.peak.heapSys, int64(ms.HeapSys))
	s.peak.rssAnon = max(s.peak.rssAnon, anon)
	s.peak.vmHWM = max(s.peak.vmHWM, hwm)
}

func (s *memSampler) stop() memPeak {
	close(s.done)
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// procStatus reads RssAnon and VmHWM from /proc/self/status (Linux); both
// are 0 elsewhere.
func procStatus() (rssAnon, vmHWM int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "RssAnon" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if key == "RssAnon" {
			rssAnon = kb << 10
		} else {
			vmHWM = kb << 10
		}
	}
	return rssAnon, vmHWM
}

// plural writes a count with its noun, "1 model" or "2 models".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
