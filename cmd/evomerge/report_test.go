package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/rundir"
)

// testRunOptions shapes a synthetic run directory in the format internal/rundir
// writes.
type testRunOptions struct {
	evaluations int
	torn        bool   // append an incomplete last journal line
	corruptLine int    // 1-based journal line to corrupt (0: none)
	finished    bool   // state "finished" and a front.json
	noState     bool   // no state.json yet
	views       string // views.json contents ("" : none)
	experiment  string // experiment name in state.json
}

func testRecordID(i int) string { return fmt.Sprintf("%016x%048x", uint64(i+1)*0x9e3779b97f4a7c15, i) }

// testScores places candidate i on a trade-off between the two tasks.
func testScores(i int) []float64 {
	a := float64(i%10) / 10
	return []float64{0.5 + 0.4*a - 0.01*float64(i%3), 0.9 - 0.4*a}
}

func journalLine(i int) string {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	rec := map[string]any{
		"v": 1, "id": testRecordID(i),
		"genome":   map[string]any{"values": []float64{0.1 * float64(i%5), 0.5, 0.25, 0.75}},
		"lineage":  map[string]any{"generation": i / 4},
		"status":   "ok",
		"scores":   testScores(i),
		"started":  t0.Add(time.Duration(i) * time.Second),
		"finished": t0.Add(time.Duration(i+1) * time.Second),
		"correct":  []map[string]any{{"task": "rotated", "bits": map[string]any{"n": 3, "words": []uint64{5}}}},
	}
	if i%7 == 6 {
		delete(rec, "scores")
		rec["status"] = "failed"
		rec["error"] = `evaluator exited with status 1: <oops>`
	}
	b, _ := json.Marshal(rec)
	return string(b) + "\n"
}

func writeTestRun(t *testing.T, o testRunOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runs", "nsga2 two-tasks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	examples, _ := configs.Examples()
	cfg, ok := examples["experiment-nsga2.toml"]
	if !ok {
		t.Fatal("the nsga2 example experiment is not embedded")
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(rundir.ConfigFile, string(cfg))
	status := "running"
	if o.finished {
		status = "finished"
	}
	name := o.experiment
	if name == "" {
		name = "nsga2-two-tasks"
	}
	objectives := []map[string]any{
		{"name": "rotated/accuracy", "task": "rotated", "metric": "accuracy", "direction": "maximize"},
		{"name": "permuted/accuracy", "task": "permuted", "metric": "accuracy", "direction": "maximize"},
	}
	dims := []string{"layers.0/lambda", "layers.1/lambda", "weight[rotated]", "weight[permuted]"}
	if !o.noState {
		st, _ := json.Marshal(map[string]any{
			"v": 1, "experiment": name, "algorithm": "nsga2", "status": status,
			"objectives": objectives, "dimensions": dims, "max_evaluations": 400,
			"evaluations": o.evaluations, "elapsed_seconds": 2 * o.evaluations, "stop_reason": map[bool]string{true: "evaluation-limit"}[o.finished],
			"started": time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
			"updated": time.Date(2026, 11, 29, 12, 0, o.evaluations, 0, time.UTC),
		})
		write(rundir.StateFile, string(st))
	}
	var journal strings.Builder
	for i := 0; i < o.evaluations; i++ {
		line := journalLine(i)
		if i+1 == o.corruptLine {
			line = line[:len(line)/2] + "\n"
		}
		journal.WriteString(line)
	}
	if o.torn {
		full := journalLine(o.evaluations)
		journal.WriteString(full[:len(full)/3])
	}
	write(rundir.JournalFile, journal.String())
	if o.views != "" {
		write(rundir.ViewsFile, o.views)
	}
	if o.finished {
		mean := 0.93
		front, _ := json.Marshal(map[string]any{
			"v": 1, "experiment": name, "status": "finished", "objectives": objectives,
			"fitness_split": "validation", "dimensions": dims, "evaluations": o.evaluations,
			"tasks":                        []string{"rotated", "permuted"},
			"expert_test_accuracy":         []float64{0.97, 0.96},
			"plain_average_test":           map[string]any{"split": "test", "accuracy": []float64{0.61, 0.58}},
			"expert_fitness_accuracy":      []float64{0.95, 0.94},
			"plain_average_fitness":        map[string]any{"split": "validation", "accuracy": []float64{0.625, 0.5625}},
			"plain_average_fitness_scores": []float64{0.625, 0.5625},
			"members": []map[string]any{{
				"id": testRecordID(9), "genome": map[string]any{"values": []float64{0.4, 0.5, 0.25, 0.75}},
				"lineage": map[string]any{"generation": 2}, "fitness_scores": testScores(9),
				"test": map[string]any{"split": "test", "accuracy": []float64{0.8125, 0.4375}, "mean_normalized_accuracy": mean},
			}},
		})
		write(rundir.FrontFile, string(front))
	}
	return dir
}

// testViews is a views.json with every algorithm view.
var testViews = `{
  "m2n2_archive": [
    {"evaluations": 4, "members": [{"id": "a", "solved": {"n": 3, "words": [5]}}, {"id": "b", "solved": {"n": 3, "words": [2]}}]},
    {"evaluations": 8, "members": [{"id": "a", "solved": {"n": 3, "words": [7]}}]}
  ],
  "map_surrogate": [
    {"id": "x", "objective": 0, "predicted": 0.5, "measured": 0.55},
    {"id": "y", "objective": 0, "predicted": 0.7, "measured": 0.65},
    {"id": "z", "objective": 0, "predicted": 0.6, "measured": 0.62, "held_out": true},
    {"id": "w", "objective": 0, "predicted": 0.8, "measured": 0.7, "held_out": true}
  ],
  "adamerging_trajectory": [
    {"step": 0, "loss": 1.2, "coefficients": [0.3, 0.3, 0.3, 0.3]},
    {"step": 1, "loss": 0.9, "coefficients": [0.35, 0.3, 0.32, 0.28]}
  ],
  "fw_iterations": [
    {"iteration": 0, "selected": ["rotated", "rotated", "permuted"], "step_size": 1, "loss": 0.8},
    {"iteration": 1, "selected": ["permuted"], "step_size": 0.67, "loss": 0.6}
  ]
}`

// The command writes the report rundir.WriteReport renders and says what it
// wrote; the page's content is tested in internal/rundir and reports.
func TestReportCommand(t *testing.T) {
	dir := writeTestRun(t, testRunOptions{evaluations: 10, finished: true, views: testViews})
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
	dir := writeTestRun(t, testRunOptions{evaluations: 5})
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
			return []string{"report", writeTestRun(t, testRunOptions{evaluations: 3, noState: true})}
		}, exitFailure, "has not started evaluating yet"},
		{"unknown views key", func(t *testing.T) []string {
			return []string{"report", writeTestRun(t, testRunOptions{evaluations: 3, views: `{"m2n2_archiv": []}`})}
		}, exitFailure, `views.json: json: unknown field "m2n2_archiv"`},
		{"corrupt journal line", func(t *testing.T) []string {
			return []string{"report", writeTestRun(t, testRunOptions{evaluations: 6, corruptLine: 2})}
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
	dir := writeTestRun(t, testRunOptions{evaluations: 7, finished: true})
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
