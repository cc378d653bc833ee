package lab

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
)

func TestWriteAdaFWSection(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "results.md")
	before := "# Results\n\nBy hand.\n\n<!-- operators-results:begin -->\nops\n<!-- operators-results:end -->\n"
	os.WriteFile(p, []byte(before), 0o644)
	if err := writeAdaFWSection(p, "adamerging", "table A1\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeAdaFWSection(p, "fw", "table F1\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeAdaFWSection(p, "adamerging", "table A2\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	aB, aE := afSubMarkers("adamerging")
	fB, fE := afSubMarkers("fw")
	want := before + "\n" + AdaFWBegin + "\n" + aB + "\ntable A2\n" + aE + "\n\n" + fB + "\ntable F1\n" + fE + "\n" + AdaFWEnd + "\n"
	if string(got) != want {
		t.Fatalf("file =\n%s\nwant\n%s", got, want)
	}
	broken := filepath.Join(dir, "broken.md")
	os.WriteFile(broken, []byte(AdaFWBegin+"\n"), 0o644)
	if err := writeAdaFWSection(broken, "fw", "x\n"); err == nil || !strings.Contains(err.Error(), "only one of the markers") {
		t.Errorf("one marker: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestAfMeanSD(t *testing.T) {
	m, sd := afMeanSD([]float64{1, 2, 3, 6})
	if m != 3 || sd != 2.160246899469287 {
		t.Fatalf("mean %v sd %v, want 3 and √(14/3)", m, sd)
	}
	if m, sd := afMeanSD([]float64{4}); m != 4 || sd != 0 {
		t.Fatalf("one value: %v %v", m, sd)
	}
}

func skipWithoutMNIST(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("trains the smoke benchmark")
	}
	if _, err := data.LocateMNIST(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
}

// The smoke versions of both claims: every method runs and is tabulated;
// the figures of the smoke recipe are meaningless.
func TestClaimAdaMergingSmoke(t *testing.T) {
	skipWithoutMNIST(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "results.md")
	var stdout, stderr bytes.Buffer
	const command = "evomerge claims adamerging --out results.md --seeds 2 --steps 4 --smoke --evo-evals 6"
	err := RunClaim(context.Background(), "adamerging", ClaimOptions{Output: &stdout, Log: &stderr, Smoke: true, CacheDir: testCache,
		ResultsFile: out, Seeds: 2, Steps: 4, EvoEvaluations: 6, Command: command})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	text, _ := os.ReadFile(out)
	for _, want := range []string{AdaFWBegin, "## AdaMerging on mnist-tasks", "| weight averaging |", "| task arithmetic | λ = ",
		"| TIES | λ = ", "| Fisher |", "| RegMean |", "| task-wise AdaMerging |", "| task-wise AdaMerging++ |", "| layer-wise AdaMerging |",
		"| layer-wise AdaMerging++ |", "| CMA-ES, per-tensor coefficients |", "| CMA-ES seeded by layer-wise AdaMerging |",
		"test-time adaptation", "Produced by `" + command + "`", "layer-wise AdaMerging above task arithmetic",
		"Why entropy misleads", AdaFWEnd} {
		if !strings.Contains(string(text), want) {
			t.Errorf("results lack %q", want)
		}
	}
	if !strings.Contains(stderr.String(), "test-time adaptation") {
		t.Error("the log does not say AdaMerging reads the test inputs")
	}
	if got, want := stdout.String(), "wrote the adamerging results to "+out+"\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

func TestClaimFWScalingSmoke(t *testing.T) {
	skipWithoutMNIST(t)
	var stdout, stderr bytes.Buffer
	err := RunClaim(context.Background(), "fw-scaling", ClaimOptions{Output: &stdout, Log: &stderr, Smoke: true, CacheDir: testCache,
		Seeds: 2, Steps: 3, Added: []int{0, 2}, Proxy: 20, Iterations: 3, Eta: 1, Command: "evomerge claims fw-scaling (test)"})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	text := stdout.String()
	for _, want := range []string{"## FW-Merging scaling", "| method | +0 | +2 |", "| FW-Merging (hard, layer-wise) |",
		"| task arithmetic (λ on validation) |", "| TIES (λ on validation) |", "| layer-wise AdaMerging |",
		"FW with +2 irrelevant models within 2 points", "other-task expert, noisy copy of expert-digits", "- +2: t0 R", "Produced by `evomerge claims fw-scaling (test)`"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// Options outside their ranges are refused before anything is prepared.
func TestAdaFWClaimsRejectBadOptions(t *testing.T) {
	good := ClaimOptions{CacheDir: t.TempDir(), Seeds: 1, Steps: 1, EvoEvaluations: 1, Added: []int{0}, Proxy: 1, Iterations: 1, Eta: 1}
	for _, tc := range []struct {
		claim string
		edit  func(*ClaimOptions)
		want  string
	}{
		{"adamerging", func(o *ClaimOptions) { o.Seeds = 0 }, "Seeds 0"},
		{"adamerging", func(o *ClaimOptions) { o.Steps = 0 }, "Steps 0"},
		{"adamerging", func(o *ClaimOptions) { o.EvoEvaluations = 0 }, "EvoEvaluations 0"},
		{"fw-scaling", func(o *ClaimOptions) { o.Added = nil }, "Added []"},
		{"fw-scaling", func(o *ClaimOptions) { o.Added = []int{0, -1} }, "Added [0 -1]"},
		{"fw-scaling", func(o *ClaimOptions) { o.Eta = 0 }, "Eta 0 must be positive"},
		{"fw-scaling", func(o *ClaimOptions) { o.Proxy = 0 }, "Proxy 0"},
	} {
		o := good
		tc.edit(&o)
		err := RunClaim(context.Background(), tc.claim, o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "claim "+tc.claim) {
			t.Errorf("%s: error %v, want one naming the claim and %q", tc.claim, err, tc.want)
		}
	}
}
