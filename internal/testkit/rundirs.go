package testkit

// This file provides what the tests of run directories share without
// importing internal/rundir (whose own tests import testkit): WriteRun, a
// synthetic run directory in the on-disk format (its records are
// JournalLine, named RecordID and scored RecordScores; RunViews is a
// views.json with every algorithm view); SetWriteFault, which makes a run
// directory's writes fail as a full disk does; and WantBusy, which checks
// the refusal of a held run lock.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evomerge/evomerge/configs"
)

// RunOptions shapes a synthetic run directory (see WriteRun).
type RunOptions struct {
	Evaluations int
	Torn        bool   // append an incomplete last journal line
	CorruptLine int    // 1-based journal line to corrupt (0: none)
	Finished    bool   // state "finished" and a front.json
	NoState     bool   // no state.json yet
	Views       string // views.json contents ("" : none)
	Experiment  string // experiment name in state.json ("" : nsga2-two-tasks)
}

// RecordID is the id of the i-th record of a run WriteRun writes: 64 hex
// digits, different for each i.
func RecordID(i int) string {
	return fmt.Sprintf("%016x%048x", uint64(i+1)*0x9e3779b97f4a7c15, i)
}

// RecordScores places candidate i of a run WriteRun writes on a trade-off
// between its two tasks (rotated and permuted accuracy).
func RecordScores(i int) []float64 {
	a := float64(i%10) / 10
	return []float64{0.5 + 0.4*a - 0.01*float64(i%3), 0.9 - 0.4*a}
}

// JournalLine is the i-th line of the journal of a run WriteRun writes,
// with its newline: the record of candidate i (generation i/4, scores
// RecordScores(i)), evaluated in second i after 2026-11-29 12:00 UTC; every
// seventh candidate (i%7 == 6) failed instead.
func JournalLine(i int) string {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	rec := map[string]any{
		"v": 1, "id": RecordID(i),
		"genome":   map[string]any{"values": []float64{0.1 * float64(i%5), 0.5, 0.25, 0.75}},
		"lineage":  map[string]any{"generation": i / 4},
		"status":   "ok",
		"scores":   RecordScores(i),
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

// WriteRun writes a synthetic run directory of the nsga2 example experiment
// (two tasks, four dimensions, 400 evaluations at most) in the format a run
// writes, shaped by o, and returns its path, runs/"nsga2 two-tasks" in a
// fresh temporary directory of t: config.toml, state.json (unless
// o.NoState), journal.jsonl with o.Evaluations lines (JournalLine),
// views.json (when o.Views is set) and front.json (when o.Finished). The
// same options give the same bytes.
func WriteRun(t testing.TB, o RunOptions) string {
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
	// The names are rundir.ConfigFile, StateFile, JournalFile, ViewsFile
	// and FrontFile.
	write("config.toml", string(cfg))
	status := "running"
	if o.Finished {
		status = "finished"
	}
	name := o.Experiment
	if name == "" {
		name = "nsga2-two-tasks"
	}
	objectives := []map[string]any{
		{"name": "rotated/accuracy", "task": "rotated", "metric": "accuracy", "direction": "maximize"},
		{"name": "permuted/accuracy", "task": "permuted", "metric": "accuracy", "direction": "maximize"},
	}
	dims := []string{"layers.0/lambda", "layers.1/lambda", "weight[rotated]", "weight[permuted]"}
	if !o.NoState {
		st, _ := json.Marshal(map[string]any{
			"v": 1, "experiment": name, "algorithm": "nsga2", "status": status,
			"objectives": objectives, "dimensions": dims, "max_evaluations": 400,
			"evaluations": o.Evaluations, "elapsed_seconds": 2 * o.Evaluations, "stop_reason": map[bool]string{true: "evaluation-limit"}[o.Finished],
			"started": time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
			"updated": time.Date(2026, 11, 29, 12, 0, o.Evaluations, 0, time.UTC),
		})
		write("state.json", string(st))
	}
	var journal strings.Builder
	for i := 0; i < o.Evaluations; i++ {
		line := JournalLine(i)
		if i+1 == o.CorruptLine {
			line = line[:len(line)/2] + "\n"
		}
		journal.WriteString(line)
	}
	if o.Torn {
		full := JournalLine(o.Evaluations)
		journal.WriteString(full[:len(full)/3])
	}
	write("journal.jsonl", journal.String())
	if o.Views != "" {
		write("views.json", o.Views)
	}
	if o.Finished {
		mean := 0.93
		front, _ := json.Marshal(map[string]any{
			"v": 1, "experiment": name, "status": "finished", "objectives": objectives,
			"fitness_split": "validation", "dimensions": dims, "evaluations": o.Evaluations,
			"tasks":                        []string{"rotated", "permuted"},
			"expert_test_accuracy":         []float64{0.97, 0.96},
			"plain_average_test":           map[string]any{"split": "test", "accuracy": []float64{0.61, 0.58}},
			"expert_fitness_accuracy":      []float64{0.95, 0.94},
			"plain_average_fitness":        map[string]any{"split": "validation", "accuracy": []float64{0.625, 0.5625}},
			"plain_average_fitness_scores": []float64{0.625, 0.5625},
			"members": []map[string]any{{
				"id": RecordID(9), "genome": map[string]any{"values": []float64{0.4, 0.5, 0.25, 0.75}},
				"lineage": map[string]any{"generation": 2}, "fitness_scores": RecordScores(9),
				"test": map[string]any{"split": "test", "accuracy": []float64{0.8125, 0.4375}, "mean_normalized_accuracy": mean},
			}},
		})
		write("front.json", string(front))
	}
	return dir
}

// RunViews is a views.json with every algorithm view (for
// RunOptions.Views).
const RunViews = `{
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

// diskFault counts the writes of each file name and fails them as
// SetWriteFault's fail decides.
type diskFault struct {
	mu     sync.Mutex
	fail   func(base string, n int, full bool) bool
	counts map[string]int
	full   bool
}

func (d *diskFault) check(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	base := filepath.Base(path)
	d.counts[base]++
	if d.fail(base, d.counts[base], d.full) {
		d.full = true
		return syscall.ENOSPC
	}
	return nil
}

// SetWriteFault makes writes of a run directory fail as a full disk does
// until t ends: inject is rundir.InjectWriteFault, and fail(base, n, full)
// decides the n-th write (1-based) of the file named base, full being
// whether an earlier write already failed; a failed write is
// syscall.ENOSPC. When t ends, inject(nil) removes the fault.
func SetWriteFault(t testing.TB, inject func(fault func(path string) error), fail func(base string, n int, full bool) bool) {
	t.Helper()
	d := &diskFault{fail: fail, counts: map[string]int{}}
	inject(d.check)
	t.Cleanup(func() { inject(nil) })
}

// WantBusy checks that err refuses a lock of dir held by pid running
// command, in the words the CLI prints: err must be (or wrap) an E (the
// *rundir.BusyError), and holder reads the pid and command of the lock's
// holder from it.
func WantBusy[E error](t testing.TB, err error, dir string, pid int, command string, holder func(E) (pid int, command string)) {
	t.Helper()
	var busy E
	if !errors.As(err, &busy) {
		t.Fatalf("error %v (%T), want a %T", err, err, busy)
	}
	if p, c := holder(busy); p != pid || !strings.Contains(c, command) {
		t.Errorf("holder pid %d running %q, want pid %d running %q", p, c, pid, command)
	}
	msg := err.Error()
	for _, want := range []string{
		"run directory " + dir + " is in use by pid " + fmt.Sprint(pid),
		command,
		"wait for it to finish or stop it (kill " + fmt.Sprint(pid) + "), then run the command again",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}
