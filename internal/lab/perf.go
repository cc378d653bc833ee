package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evomerge/evomerge/internal/tensor"
)

// PerfOptions configure [Perf].
type PerfOptions struct {
	// Output receives the figures; Log the reference script's stderr. Nil
	// discards.
	Output, Log io.Writer
	// Sizes are the square GEMM sizes (1 to 16384); GemmGonumMax is the
	// largest also run through gonum's blas32.
	Sizes        []int
	GemmGonumMax int
	// Repeat timed rounds of at least MinTime each make every figure: the
	// best is reported, with the range over the rounds.
	Repeat  int
	MinTime time.Duration
	// Images are classified per forward-pass measurement, Batch at a time.
	Images, Batch int
	// MergeElements (a positive multiple of 1024) is the size of the merged
	// tensor, MergeModels (2 to 16) the number of experts merged.
	MergeElements, MergeModels int
	// Python runs Script (scripts/perf_reference.py) for the reference
	// figures; an empty Python skips them. OpenBLASCoreType, when set, is
	// passed on as OPENBLAS_CORETYPE.
	Python, Script, OpenBLASCoreType string
	// Threads (1 to 1024) is GOMAXPROCS during the call and the thread
	// count of OpenBLAS and PyTorch.
	Threads int
	// Skip names parts not to run (PerfParts).
	Skip map[string]bool
	// CacheDir and MNISTDir locate a prepared mnist-tasks for the eval part
	// (internal/benchmarks' defaults when empty).
	CacheDir, MNISTDir string
}

// PerfParts are the parts of [Perf] that PerfOptions.Skip can name.
func PerfParts() []string { return slices.Clone(perfParts) }

var perfParts = []string{"gemm", "forward", "merge", "eval", "reference"}

// check refuses options outside the documented ranges.
func (o PerfOptions) check() error {
	for _, n := range o.Sizes {
		if n < 1 || n > 16384 {
			return fmt.Errorf("lab: bench perf: Sizes holds %d: give sizes between 1 and 16384", n)
		}
	}
	for s := range o.Skip {
		if !slices.Contains(perfParts, s) {
			return fmt.Errorf("lab: bench perf: Skip names the unknown part %q; parts are %s", s, strings.Join(perfParts, ", "))
		}
	}
	switch {
	case o.Repeat < 1:
		return fmt.Errorf("lab: bench perf: Repeat %d: give at least 1", o.Repeat)
	case o.MinTime <= 0:
		return fmt.Errorf("lab: bench perf: MinTime %v: give a positive duration", o.MinTime)
	case o.Images < 1 || o.Batch < 1:
		return fmt.Errorf("lab: bench perf: Images %d and Batch %d: give at least 1 each", o.Images, o.Batch)
	case o.MergeElements < 1024 || o.MergeElements%1024 != 0:
		return fmt.Errorf("lab: bench perf: MergeElements %d: give a positive multiple of 1024", o.MergeElements)
	case o.MergeModels < 2 || o.MergeModels > 16:
		return fmt.Errorf("lab: bench perf: MergeModels %d: give 2 to 16", o.MergeModels)
	case o.Threads < 1 || o.Threads > 1024:
		return fmt.Errorf("lab: bench perf: Threads %d: give 1 to 1024", o.Threads)
	}
	return nil
}

// Perf measures the speed of evomerge's kernels on this machine and prints
// GEMM GFLOP/s by size (evomerge's Gemm and gonum's blas32), forward-pass
// images/s of an MLP and a CNN, merge GB/s per operator against a plain
// copy, and full evaluations/s on a prepared mnist-tasks; with Python, the
// same work measured by the reference script and the ratios.
func Perf(ctx context.Context, o PerfOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	stdout, stderr := orDiscard(o.Output), orDiscard(o.Log)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.Threads))
	fmt.Fprintf(stdout, "evomerge bench perf: %s %s/%s, %s, GOMAXPROCS=%d, Gemm kernel %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), o.Threads, tensor.GemmKernel())
	fmt.Fprintf(stdout, "figures: best of %d rounds of at least %v, [range over the rounds]\n", o.Repeat, o.MinTime)

	ref, refNote := runReference(ctx, o, stderr)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if ref != nil {
		fmt.Fprintf(stdout, "reference: %s, numpy %s (OpenBLAS kernel %s), torch %s, %d threads\n", o.Python, ref.NumPy, orNone(ref.OpenBLASCore), orNone(ref.Torch), ref.Threads)
		if ref.OpenBLASCore == "Prescott" {
			fmt.Fprintln(stdout, "warning: OpenBLAS runs its generic Prescott kernel (it does not know this CPU); pass --openblas-coretype (e.g. SkylakeX on AVX-512, Haswell on AVX2) for a fair comparison")
		}
	} else {
		fmt.Fprintf(stdout, "reference: %s\n", refNote)
	}

	sections := []struct {
		name string
		run  func(context.Context, PerfOptions, *perfReference, io.Writer) error
	}{
		{"gemm", perfGemm}, {"forward", perfForward}, {"merge", perfMerge}, {"eval", perfEval},
	}
	for _, s := range sections {
		if o.Skip[s.name] {
			continue
		}
		fmt.Fprintln(stdout)
		if err := s.run(ctx, o, ref, stdout); err != nil {
			return err
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(not installed)"
	}
	return s
}

// cpuModel returns the processor name from /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return fmt.Sprintf("%s (%d logical CPUs)", strings.TrimSpace(v), runtime.NumCPU())
			}
		}
	}
	return fmt.Sprintf("%s (%d logical CPUs)", runtime.GOARCH, runtime.NumCPU())
}

// timing is the per-call time of the best and the slowest round.
type timing struct{ best, worst float64 }

// rate formats work per second at the best round with the range over rounds.
func (t timing) rate(work float64, format string) string {
	return fmt.Sprintf(format+" ["+format+"-"+format+"]", work/t.best, work/t.worst, work/t.best)
}

// measure calls fn once to warm up, then runs rounds of calls lasting at least
// minTime each and returns the per-call time of the best and worst round.
func measure(ctx context.Context, o PerfOptions, fn func() error) (timing, error) {
	if err := fn(); err != nil {
		return timing{}, err
	}
	t := timing{best: math.Inf(1)}
	for range o.Repeat {
		if err := ctx.Err(); err != nil {
			return timing{}, err
		}
		calls, start := 0, time.Now()
		var elapsed time.Duration
		for elapsed < o.MinTime {
			if err := fn(); err != nil {
				return timing{}, err
			}
			calls++
			elapsed = time.Since(start)
		}
		per := elapsed.Seconds() / float64(calls)
		t.best = min(t.best, per)
		t.worst = max(t.worst, per)
	}
	return t, nil
}

// perfReference is the JSON printed by scripts/perf_reference.py.
type perfReference struct {
	NumPy        string `json:"numpy"`
	Torch        string `json:"torch"`
	Threads      int    `json:"threads"`
	OpenBLASCore string `json:"openblas_core"`
	Gemm         []struct {
		Lib    string  `json:"lib"`
		Size   int     `json:"size"`
		GFLOPs float64 `json:"gflops"`
	} `json:"gemm"`
	Forward []struct {
		Lib          string  `json:"lib"`
		Model        string  `json:"model"`
		ImagesPerSec float64 `json:"images_per_s"`
	} `json:"forward"`
	Merge []struct {
		Lib  string  `json:"lib"`
		Op   string  `json:"op"`
		GBps float64 `json:"gbps"`
	} `json:"merge"`
}

func (r *perfReference) gemm(lib string, size int) float64 {
	if r == nil {
		return 0
	}
	for _, g := range r.Gemm {
		if g.Lib == lib && g.Size == size {
			return g.GFLOPs
		}
	}
	return 0
}

func (r *perfReference) forward(model string) float64 {
	if r == nil {
		return 0
	}
	for _, f := range r.Forward {
		if f.Model == model {
			return f.ImagesPerSec
		}
	}
	return 0
}

func (r *perfReference) merge(op string) float64 {
	if r == nil {
		return 0
	}
	for _, m := range r.Merge {
		if m.Op == op {
			return m.GBps
		}
	}
	return 0
}

// runReference runs the Python reference for the same work, or says why not.
func runReference(ctx context.Context, o PerfOptions, stderr io.Writer) (*perfReference, string) {
	if o.Skip["reference"] || o.Python == "" {
		return nil, "skipped (--python \"\" or --skip reference)"
	}
	if _, err := os.Stat(o.Script); err != nil {
		return nil, fmt.Sprintf("not run: %v (run from the repository root or give --reference-script)", err)
	}
	var skip []string
	for _, part := range []string{"gemm", "forward", "merge"} {
		if o.Skip[part] {
			skip = append(skip, part)
		}
	}
	sizes := make([]string, len(o.Sizes))
	for i, n := range o.Sizes {
		sizes[i] = strconv.Itoa(n)
	}
	cmd := exec.CommandContext(ctx, o.Python, o.Script,
		"--threads", strconv.Itoa(o.Threads), "--gemm-sizes", strings.Join(sizes, ","),
		"--images", strconv.Itoa(o.Images), "--batch", strconv.Itoa(o.Batch),
		"--merge-elements", strconv.Itoa(o.MergeElements), "--merge-models", strconv.Itoa(o.MergeModels),
		"--repeat", strconv.Itoa(o.Repeat), "--skip", strings.Join(skip, ","),
		"--openblas-coretype", o.OpenBLASCoreType)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Sprintf("%s %s failed: %v (install Debian's python3-numpy, python3-torch and libopenblas0-pthread, or pass --python \"\")", o.Python, o.Script, err)
	}
	var ref perfReference
	if err := json.Unmarshal(out.Bytes(), &ref); err != nil {
		return nil, fmt.Sprintf("%s printed no valid JSON: %v", o.Script, err)
	}
	return &ref, ""
}

// ratio formats a/b, or "-" when b is unknown.
func ratio(a, b float64) string {
	if b <= 0 || a <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func refCell(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
