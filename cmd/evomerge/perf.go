package main

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evomerge/evomerge/internal/lab"
)

const perfSynopsis = `bench perf [flags]

perf measures the speed of evomerge's kernels on this machine and prints:
GEMM GFLOP/s by size (evomerge's Gemm and gonum's blas32), forward-pass
images/s for the MNIST MLP (784-512-512-10) and CNN, merge GB/s per operator
against a plain copy, and full evaluations/s on mnist-tasks (when it is
prepared). With --python (Debian's python3-numpy, python3-torch and
libopenblas0-pthread) it also runs scripts/perf_reference.py for the same work
(OpenBLAS SGEMM through NumPy, PyTorch CPU forward passes, a NumPy merge) and
prints the ratios. Every figure is the best of --repeat timed rounds, with the
range over the rounds in brackets: on a shared machine compare figures of one
run only.`

// runPerfBenchmark is `evomerge bench perf`.
func runPerfBenchmark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parsePerfOptions(args, stderr)
	if err != nil {
		return err
	}
	o.Output, o.Log = stdout, stderr
	return lab.Perf(ctx, o)
}

func parsePerfOptions(args []string, stderr io.Writer) (lab.PerfOptions, error) {
	fs := newFlagSet("bench perf", perfSynopsis, stderr)
	var o lab.PerfOptions
	parts := lab.PerfParts()
	sizes := fs.String("sizes", "256,512,1024,2048", "comma-separated square GEMM sizes")
	fs.IntVar(&o.GemmGonumMax, "gonum-max", 2048, "largest GEMM size also run through gonum (it is slow)")
	fs.IntVar(&o.Repeat, "repeat", 3, "timed rounds per figure (the best is reported, with the range)")
	fs.DurationVar(&o.MinTime, "min-time", 300*time.Millisecond, "shortest duration of one timed round")
	fs.IntVar(&o.Images, "images", 10000, "images per forward-pass measurement")
	fs.IntVar(&o.Batch, "batch", 256, "forward-pass batch size")
	fs.IntVar(&o.MergeElements, "merge-elements", 16<<20, "float32 elements of the merged tensor")
	fs.IntVar(&o.MergeModels, "merge-models", 4, "expert models in the merges")
	fs.StringVar(&o.Python, "python", "/usr/bin/python3", `Python for the reference measurements ("" to skip them)`)
	fs.StringVar(&o.OpenBLASCoreType, "openblas-coretype", "", "force OpenBLAS's kernel in the reference (OPENBLAS_CORETYPE, e.g. SkylakeX) when it misdetects the CPU")
	fs.StringVar(&o.Script, "reference-script", filepath.Join("scripts", "perf_reference.py"), "the reference script")
	fs.IntVar(&o.Threads, "threads", runtime.GOMAXPROCS(0), "threads for evomerge (GOMAXPROCS during the run) and for OpenBLAS and PyTorch")
	skip := fs.String("skip", "", "comma-separated parts to skip: "+strings.Join(parts, ", "))
	registerDataFlags(fs, &o.CacheDir, &o.MNISTDir)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return o, err
	}
	if len(pos) != 0 {
		return o, usagef("bench perf takes no arguments, got %q", pos)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 16384 {
			return o, usagef("--sizes: %q is not a size between 1 and 16384; give e.g. --sizes 256,512,1024", s)
		}
		o.Sizes = append(o.Sizes, n)
	}
	o.Skip = map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(parts, s) {
			return o, usagef("--skip: unknown part %q; parts are %s", s, strings.Join(parts, ", "))
		}
		o.Skip[s] = true
	}
	switch {
	case o.Repeat < 1:
		return o, usagef("--repeat must be at least 1, got %d", o.Repeat)
	case o.MinTime <= 0:
		return o, usagef("--min-time must be positive, got %v", o.MinTime)
	case o.Images < 1 || o.Batch < 1:
		return o, usagef("--images and --batch must be at least 1, got %d and %d", o.Images, o.Batch)
	case o.MergeElements < 1024 || o.MergeElements%1024 != 0:
		return o, usagef("--merge-elements must be a positive multiple of 1024, got %d", o.MergeElements)
	case o.MergeModels < 2 || o.MergeModels > 16:
		return o, usagef("--merge-models must be between 2 and 16, got %d", o.MergeModels)
	case o.Threads < 1 || o.Threads > 1024:
		return o, usagef("--threads must be between 1 and 1024, got %d", o.Threads)
	}
	if o.Python == "" {
		o.Skip["reference"] = true
	}
	return o, nil
}
