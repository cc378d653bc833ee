package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/testkit"
)

// The command writes the report rundir.WriteReport renders and says what it
// wrote; the page's content is tested in internal/rundir and reports.
func TestReportCommand(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 10, Finished: true, Views: testkit.RunViews})
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"report", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	page, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Run finished (evaluation-limit).", `evomerge.draw("pareto", `, `evomerge.draw("m2n2_coverage", `, `evomerge.draw("fw_selected", `} {
		if !bytes.Contains(page, []byte(s)) {
			t.Errorf("report lacks %q", s)
		}
	}
	want := fmt.Sprintf("wrote %s: 10 evaluations (run finished), %d bytes in ", filepath.Join(dir, rundir.ReportFile), len(page))
	if !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("stdout %q, want it to start with %q", stdout.String(), want)
	}
}

func TestReportCommandOut(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 5})
	out := filepath.Join(t.TempDir(), "elsewhere.html")
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"report", "--out", out, dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.ReportFile)); !os.IsNotExist(err) {
		t.Errorf("report.html written in the run directory despite --out: %v", err)
	}
}

func TestReportCommandErrors(t *testing.T) {
	cases := []struct {
		name string
		args func(t *testing.T) []string
		code int
		want string
	}{
		{"no argument", func(*testing.T) []string { return []string{"report"} }, exitUsage, "exactly one run directory"},
		{"two arguments", func(*testing.T) []string { return []string{"report", "a", "b"} }, exitUsage, "got 2 arguments"},
		{"not a run directory", func(t *testing.T) []string { return []string{"report", t.TempDir()} }, exitFailure, "is not a run directory (no config.toml)"},
		{"not started", func(t *testing.T) []string {
			return []string{"report", testkit.WriteRun(t, testkit.RunOptions{Evaluations: 3, NoState: true})}
		}, exitFailure, "has not started evaluating yet"},
		{"unknown views key", func(t *testing.T) []string {
			return []string{"report", testkit.WriteRun(t, testkit.RunOptions{Evaluations: 3, Views: `{"m2n2_archiv": []}`})}
		}, exitFailure, `views.json: json: unknown field "m2n2_archiv"`},
		{"corrupt journal line", func(t *testing.T) []string {
			return []string{"report", testkit.WriteRun(t, testkit.RunOptions{Evaluations: 6, CorruptLine: 2})}
		}, exitFailure, "journal.jsonl:2: corrupt journal record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), c.args(t), &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d stderr %q, want exit %d and %q", code, stderr.String(), c.code, c.want)
			}
		})
	}
}

func TestRenderRunReportHook(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 7, Finished: true})
	if err := renderRunReport(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil || !bytes.Contains(page, []byte("Run finished (evaluation-limit).")) {
		t.Fatalf("report.html not written by the hook: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := renderRunReport(ctx, dir); err == nil {
		t.Error("a cancelled context must stop the report")
	}
}
