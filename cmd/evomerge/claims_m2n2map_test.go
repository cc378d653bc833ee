package main

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
	for _, want := range []string{"MAP v2", "scratch v1", mmResultsStart, mmResultsEnd} {
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
	if b, _ := os.ReadFile(fresh); !strings.Contains(string(b), mmResultsStart+"\n<!-- map:start -->\nx\n<!-- map:end -->\n"+mmResultsEnd) {
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

func TestMMClaimFlags(t *testing.T) {
	var stderr bytes.Buffer
	for _, args := range [][]string{{"--evals", "3"}, {"--seeds", "0"}, {"extra"}, {"--nope"}} {
		if err := runClaimM2N2Scratch(context.Background(), args, &bytes.Buffer{}, &stderr); err == nil {
			t.Errorf("%v accepted", args)
		}
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
	common := []string{"--smoke", "--cache-dir", testCache, "--out", out, "--fitness-examples", "50", "--test-examples", "100"}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error
		args []string
		want []string
	}{
		{"m2n2-scratch", func(ctx context.Context, a []string, o, e *bytes.Buffer) error {
			return runClaimM2N2Scratch(ctx, a, o, e)
		},
			[]string{"--seeds", "2", "--evals", "40"}, []string{"| M2N2 |", "| GA (α = 0, no attraction) |", "| sep-CMA-ES |", "| 40 |"}},
		{"m2n2-specialists", func(ctx context.Context, a []string, o, e *bytes.Buffer) error {
			return runClaimM2N2Specialists(ctx, a, o, e)
		}, []string{"--seeds", "2", "--evals", "30", "--sweep", "11"}, []string{"brute-force SLERP sweep (11 evaluations)", "| M2N2 w/o split point |"}},
		{"map", func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return runClaimMAP(ctx, a, o, e) },
			// One seed: MAP's dense predicted front dominates the time.
			[]string{"--seeds", "1", "--grid2", "5", "--grid3", "3"}, []string{"#### 2 tasks", "#### 3 tasks", "| MAP predicted front |", "| NSGA-II |"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := tc.run(ctx, append(append([]string{}, common...), tc.args...), &stdout, &stderr); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			for _, w := range tc.want {
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
