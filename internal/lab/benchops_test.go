package lab

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/operators"
)

// The smoke recipe trains tiny experts in about a second; the figures are
// meaningless, but every applicable operator must run and be tabulated.
func TestOperatorsBenchmarkSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the smoke benchmark")
	}
	if _, err := data.LocateMNIST(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "results.md")
	before := "# Results\n\nIntro written by hand.\n\n" + OperatorsBegin + "\nold table\n" + OperatorsEnd + "\n\n## Other section\nkept\n"
	if err := os.WriteFile(out, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := BenchOperators(context.Background(), OperatorsOptions{Output: &stdout, Log: &stderr, ResultsFile: out, StatsExamples: 32, Smoke: true,
		CacheDir: testCache, Command: "evomerge bench operators --out " + out + " --stats-examples 32 --smoke"})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"Intro written by hand.", "## Other section\nkept", "## Merge operators on mnist-tasks",
		"| experts |", "| linear | defaults |", "### Main coefficient tuned on validation", "| task_arithmetic | lambda = ",
		"Plain averaging (`linear`", "--stats-examples 32 --smoke"} {
		if !strings.Contains(text, want) {
			t.Errorf("results lack %q", want)
		}
	}
	if strings.Contains(text, "old table") || strings.Count(text, OperatorsBegin) != 1 {
		t.Error("the old operators section was not replaced exactly once")
	}
	// Every operator that takes four models appears in the defaults table.
	reg := operators.Builtin()
	for _, info := range reg.List() {
		r := info.Requirements
		if r.MinModels <= 4 && (r.MaxModels == 0 || r.MaxModels >= 4) && !strings.Contains(text, "| "+info.Name+" | defaults |") {
			t.Errorf("results lack a defaults row for %s", info.Name)
		}
	}
	if strings.Contains(text, "| slerp |") {
		t.Error("two-model slerp was run on four experts")
	}
	if got, want := stdout.String(), "wrote the operators results to "+out+"\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

func TestBenchOperatorsRejectsBadOptions(t *testing.T) {
	err := BenchOperators(context.Background(), OperatorsOptions{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "StatsExamples 0") {
		t.Fatalf("error %v, want one naming StatsExamples", err)
	}
}

func TestWriteResultsSection(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "docs", "results.md")
	if err := writeResultsSection(p, "table 1\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeResultsSection(p, "table 2\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "# Results\n\n" + OperatorsBegin + "\ntable 2\n" + OperatorsEnd + "\n"
	if string(b) != want {
		t.Errorf("file = %q, want %q", b, want)
	}
	// Appended to a file without a section.
	q := filepath.Join(dir, "other.md")
	os.WriteFile(q, []byte("# Notes"), 0o644)
	if err := writeResultsSection(q, "t\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(q)
	if string(b) != "# Notes\n\n"+OperatorsBegin+"\nt\n"+OperatorsEnd+"\n" {
		t.Errorf("appended file = %q", b)
	}
	// A file with one marker only is refused.
	r := filepath.Join(dir, "broken.md")
	os.WriteFile(r, []byte(OperatorsBegin+"\n"), 0o644)
	if err := writeResultsSection(r, "t\n"); err == nil || !strings.Contains(err.Error(), "only one of the markers") {
		t.Errorf("error = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
