package lab

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smallPerf keeps every measured part tiny.
func smallPerf() PerfOptions {
	return PerfOptions{Sizes: []int{8, 33}, GemmGonumMax: 2048, Images: 40, Batch: 16, MergeElements: 4096, MergeModels: 2,
		Repeat: 2, MinTime: time.Millisecond, Threads: runtime.GOMAXPROCS(0), Script: filepath.Join("scripts", "perf_reference.py"),
		Skip: map[string]bool{}}
}

func runPerf(t *testing.T, o PerfOptions) string {
	t.Helper()
	var out, errOut bytes.Buffer
	o.Output, o.Log = &out, &errOut
	if err := Perf(context.Background(), o); err != nil {
		t.Fatalf("bench perf %+v: %v\nstderr: %s", o, err, errOut.String())
	}
	return out.String()
}

// rowNumbers returns every number in the cells of the table row that starts
// with label ("1.5 [1.2-1.5]" gives 1.5, 1.2, 1.5).
var numberRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

func rowNumbers(t *testing.T, out, label string) []float64 {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != label {
			continue
		}
		var nums []float64
		for _, f := range fields[1:] {
			for _, m := range numberRE.FindAllString(f, -1) {
				v, err := strconv.ParseFloat(m, 64)
				if err != nil {
					t.Fatalf("row %q: cell %q: %v", label, f, err)
				}
				nums = append(nums, v)
			}
		}
		return nums
	}
	t.Fatalf("no row %q in:\n%s", label, out)
	return nil
}

func TestPerfBenchmarkPrintsEveryPart(t *testing.T) {
	o := smallPerf()
	o.CacheDir = t.TempDir()
	out := runPerf(t, o)
	for _, want := range []string{"Gemm kernel", "GEMM C = A·B", "Forward pass, 40 images", "Merges of 2 models",
		"reference: skipped", "skipped: mnist-tasks is not prepared"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Every measured figure is a positive rate, best ≥ the low end of its range.
	for _, label := range []string{"8", "33", "mlp", "cnn", "copy", "linear", "task_arithmetic", "ties", "dare"} {
		nums := rowNumbers(t, out, label)
		if len(nums) < 3 || nums[0] <= 0 || nums[1] > nums[0] || nums[2] != nums[0] {
			t.Errorf("row %s: figures %v, want best > 0, range [low ≤ best, high = best]", label, nums)
		}
	}
}

// A reference run's JSON is read and turned into ratios. The stand-in
// "python" prints fixed figures whatever it is asked.
func TestPerfBenchmarkReportsRatiosAgainstReference(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "python")
	script := `#!/bin/sh
echo '{"numpy": "9.9", "torch": "1.2", "threads": 2, "openblas_core": "Prescott",
 "gemm": [{"lib": "numpy", "size": 8, "gflops": 0.5}, {"lib": "torch", "size": 8, "gflops": 1.5}],
 "forward": [{"lib": "torch", "model": "mlp", "images_per_s": 1}, {"lib": "torch", "model": "cnn", "images_per_s": 2}],
 "merge": [{"lib": "numpy", "op": "copy", "gbps": 3.5}, {"lib": "numpy", "op": "task_arithmetic", "gbps": 2.5}]}'
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "ref.py")
	if err := os.WriteFile(ref, []byte("# stand-in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := smallPerf()
	o.Python, o.Script, o.Skip["eval"], o.Sizes, o.Threads = fake, ref, true, []int{8}, 1
	out := runPerf(t, o)
	if !strings.Contains(out, "GOMAXPROCS=1") {
		t.Errorf("--threads 1 not applied:\n%s", out)
	}
	if !strings.Contains(out, "numpy 9.9 (OpenBLAS kernel Prescott), torch 1.2, 2 threads") || !strings.Contains(out, "warning: OpenBLAS runs its generic Prescott kernel") {
		t.Errorf("reference versions missing:\n%s", out)
	}
	// size 8: evomerge, its range (2 numbers), gonum (3), numpy, torch, 3 ratios.
	g := rowNumbers(t, out, "8")
	if len(g) != 11 || g[6] != 0.5 || g[7] != 1.5 {
		t.Fatalf("GEMM row figures %v, want the reference's 0.5 and 1.5 among them", g)
	}
	// The ratio is computed from the unrounded rate: the printed rate
	// (%.1f) is off by up to 0.05, so the ratio to 0.5 by up to 0.1, and
	// the printed ratio (%.2f) by 0.005 more. On a loaded machine the rate
	// is well below 1 GFLOP/s and that rounding is all the difference.
	if want, tol := g[0]/0.5, 0.05/0.5+0.005+1e-9; abs(g[9]-want) > tol {
		t.Errorf("evomerge/numpy ratio %v, want %v ± %v (the printed rate's rounding)", g[9], want, tol)
	}
	mlp := rowNumbers(t, out, "mlp")
	if len(mlp) != 5 || mlp[3] != 1 || abs(mlp[4]-mlp[0]) > 0.01*mlp[0]+1 {
		t.Errorf("mlp row %v: want torch 1 image/s and the ratio equal to evomerge's rate", mlp)
	}
	if ta := rowNumbers(t, out, "task_arithmetic"); ta[len(ta)-1] != 2.5 {
		t.Errorf("task_arithmetic row %v: want numpy's 2.5 GB/s last", ta)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestPerfRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*PerfOptions)
		want string
	}{
		{"size", func(o *PerfOptions) { o.Sizes = []int{12, 0} }, "Sizes holds 0"},
		{"repeat", func(o *PerfOptions) { o.Repeat = 0 }, "Repeat 0"},
		{"skip", func(o *PerfOptions) { o.Skip["gpu"] = true }, `unknown part "gpu"`},
		{"merge elements", func(o *PerfOptions) { o.MergeElements = 1000 }, "MergeElements 1000"},
		{"merge models", func(o *PerfOptions) { o.MergeModels = 1 }, "MergeModels 1"},
		{"min time", func(o *PerfOptions) { o.MinTime = 0 }, "MinTime 0s"},
		{"threads", func(o *PerfOptions) { o.Threads = 0 }, "Threads 0"},
	} {
		o := smallPerf()
		tc.edit(&o)
		var out bytes.Buffer
		o.Output = &out
		if err := Perf(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed %q before refusing the options", tc.name, out.String())
		}
	}
}

// The reference is reported, not fatal, when Python or the script is missing.
func TestPerfBenchmarkWithoutReference(t *testing.T) {
	o := smallPerf()
	o.Python = filepath.Join(t.TempDir(), "no-python")
	for _, part := range []string{"gemm", "forward", "merge", "eval"} {
		o.Skip[part] = true
	}
	out := runPerf(t, o)
	if !strings.Contains(out, "reference: not run:") {
		t.Errorf("missing script not reported:\n%s", out)
	}
}
