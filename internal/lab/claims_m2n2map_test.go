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

func TestMMWriteResultsKeepsOtherSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.md")
	other := "# Results\n\n## Operators\n\n<!-- operators-results:begin -->\ntable\n<!-- operators-results:end -->\n"
	if err := os.WriteFile(path, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mmWriteResults(path, "map", "MAP v1"); err != nil {
		t.Fatal(err)
	}
	if err := mmWriteResults(path, "m2n2-scratch", "scratch v1"); err != nil {
		t.Fatal(err)
	}
	if err := mmWriteResults(path, "map", "MAP v2"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	text := string(b)
	if !strings.HasPrefix(text, other) {
		t.Errorf("the operators section changed:\n%s", text)
	}
	for _, want := range []string{"MAP v2", "scratch v1", M2N2MAPBegin, M2N2MAPEnd} {
		if strings.Count(text, want) != 1 {
			t.Errorf("%q appears %d times:\n%s", want, strings.Count(text, want), text)
		}
	}
	if strings.Contains(text, "MAP v1") {
		t.Error("the old MAP block was kept")
	}
	if strings.Index(text, "MAP v2") > strings.Index(text, "scratch v1") {
		t.Error("a rewritten block moved")
	}
	// A fresh file gets the section.
	fresh := filepath.Join(t.TempDir(), "new.md")
	if err := mmWriteResults(fresh, "map", "x"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fresh); !strings.Contains(string(b), M2N2MAPBegin+"\n<!-- map:start -->\nx\n<!-- map:end -->\n"+M2N2MAPEnd) {
		t.Errorf("fresh file:\n%s", b)
	}
}

func TestMMMeanSD(t *testing.T) {
	if got := mmMeanSD([]float64{1, 2, 3}, "%.2f"); got != "2.00 ± 1.00" {
		t.Errorf("%q", got)
	}
	if got := mmMeanSD([]float64{0.5}, "%.2f"); got != "0.50" {
		t.Errorf("%q", got)
	}
}

func TestMMClaimsRejectBadOptions(t *testing.T) {
	good := ClaimOptions{CacheDir: t.TempDir(), Evaluations: 10, Seeds: 1, FitnessExamples: 1, Sweep: 2, Grid2: 3, Grid3: 3}
	for _, tc := range []struct {
		claim string
		edit  func(*ClaimOptions)
		want  string
	}{
		{"m2n2-scratch", func(o *ClaimOptions) { o.Evaluations = 3 }, "Evaluations 3"},
		{"m2n2-scratch", func(o *ClaimOptions) { o.Seeds = 0 }, "Seeds 0"},
		{"m2n2-scratch", func(o *ClaimOptions) { o.TestExamples = -1 }, "TestExamples -1"},
		{"m2n2-specialists", func(o *ClaimOptions) { o.Sweep = 1 }, "Sweep 1"},
		{"map", func(o *ClaimOptions) { o.Grid3 = 2 }, "Grid3 2"},
		{"map", func(o *ClaimOptions) { o.FitnessExamples = 0 }, "FitnessExamples 0"},
	} {
		o := good
		tc.edit(&o)
		err := RunClaim(context.Background(), tc.claim, o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "claim "+tc.claim) {
			t.Errorf("%s: error %v, want one naming the claim and %q", tc.claim, err, tc.want)
		}
	}
	if err := RunClaim(context.Background(), "nope", good); err == nil || !strings.Contains(err.Error(), `unknown claim "nope"`) {
		t.Errorf("unknown claim: %v", err)
	}
}

// Smoke versions of the claims: tiny benchmark recipes and budgets; they
// check the commands run end to end and write their tables.
func TestMMClaimsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("prepares smoke benchmarks")
	}
	if _, err := data.LocateMNIST(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	out := filepath.Join(t.TempDir(), "results.md")
	common := ClaimOptions{Smoke: true, CacheDir: testCache, ResultsFile: out, FitnessExamples: 50, TestExamples: 100}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit func(*ClaimOptions)
		want []string
	}{
		{"m2n2-scratch", func(o *ClaimOptions) { o.Seeds, o.Evaluations = 2, 40 },
			[]string{"| M2N2 |", "| GA (α = 0, no attraction) |", "| sep-CMA-ES |", "| 40 |"}},
		{"m2n2-specialists", func(o *ClaimOptions) { o.Seeds, o.Evaluations, o.Sweep = 2, 30, 11 },
			[]string{"brute-force SLERP sweep (11 evaluations)", "| M2N2 w/o split point |"}},
		// One seed: MAP's dense predicted front dominates the time.
		{"map", func(o *ClaimOptions) { o.Seeds, o.Evaluations, o.Grid2, o.Grid3 = 1, 100, 5, 3 },
			[]string{"#### 2 tasks", "#### 3 tasks", "| MAP predicted front |", "| NSGA-II |"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			o := common
			tc.edit(&o)
			o.Output, o.Log, o.Command = &stdout, &stderr, "evomerge claims "+tc.name+" (test)"
			if err := RunClaim(ctx, tc.name, o); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			for _, w := range append(tc.want, "`evomerge claims "+tc.name+" (test)`") {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
			b, _ := os.ReadFile(out)
			if !strings.Contains(string(b), "<!-- "+tc.name+":start -->") {
				t.Errorf("results file lacks the %s block", tc.name)
			}
		})
	}
}
