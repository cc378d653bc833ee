package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/run"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/testkit"
)

// smokeObjectives are the objectives of writeSmokeExperiment: the mean
// normalized accuracy and the mean loss.
const smokeObjectives = `[[objectives]]
task = "mean"
metric = "normalized_accuracy"

[[objectives]]
task = "mean"
metric = "loss"
`

// writeSmokeExperiment writes a search experiment on the smoke recipe of
// mnist-tasks (tiny data, seconds) and returns its path.
func writeSmokeExperiment(t *testing.T, cache string, evaluations int) string {
	t.Helper()
	cfg := testkit.SmokeSearch{Seed: 3, CacheDir: cache, Evaluations: evaluations, Objectives: smokeObjectives}.TOML()
	path := filepath.Join(t.TempDir(), "smoke.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunStatusExportMerge(t *testing.T) {
	cfg := writeSmokeExperiment(t, testCache, 32)
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errs := runCLI(t, "run", cfg, "--out", dir)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	runOut := out
	for _, want := range []string{"Pareto front on the validation split", "plain average", "run directory: " + dir, "report: " + filepath.Join(dir, "report.html")} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	// A second run into the same directory is refused with directions.
	code, _, errs = runCLI(t, "run", cfg, "--out", dir)
	if code != exitFailure || !strings.Contains(errs, "evomerge resume "+dir) {
		t.Errorf("second run: exit %d, stderr %q; want exit 1 naming resume", code, errs)
	}

	code, out, errs = runCLI(t, "status", dir, "--json")
	if code != exitOK {
		t.Fatalf("status: exit %d: %s", code, errs)
	}
	var st rundir.StatusReport
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.State != "finished" || st.Evaluations != 32 || len(st.Best) != 2 || st.FrontSize == 0 {
		t.Errorf("status = %+v", st)
	}
	if code, out, _ = runCLI(t, "status", dir); code != exitOK || !strings.Contains(out, "32 of 32 (100%)") {
		t.Errorf("status text: exit %d\n%s", code, out)
	}

	front, err := rundir.ReadFront(dir)
	if err != nil || len(front.Members) == 0 {
		t.Fatalf("front: %v, %d members", err, len(front.Members))
	}
	id := front.Members[0].ID
	exported := filepath.Join(t.TempDir(), "exported")
	if code, out, errs = runCLI(t, "export", dir, "--candidate", id[:10], "--out", exported); code != exitOK {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, id) {
		t.Errorf("export output does not name the full id %s:\n%s", id, out)
	}
	remerged := filepath.Join(t.TempDir(), "remerged")
	if code, out, errs = runCLI(t, "merge", filepath.Join(exported, run.RecipeFileName), "--out", remerged); code != exitOK {
		t.Fatalf("merge of the exported recipe: exit %d\n%s\n%s", code, out, errs)
	}
	a, err := os.ReadFile(filepath.Join(exported, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(remerged, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("evomerge merge of the exported recipe differs from the export (%d vs %d bytes)", len(a), len(b))
	}

	// Without --candidate, export takes the chosen member: picked on the
	// fitness split, as the summary names it.
	choice, err := rundir.ChooseMember(front, "")
	if err != nil || choice.Index < 0 {
		t.Fatalf("ChooseMember: %+v, %v", choice, err)
	}
	chosen := front.Members[choice.Index].ID
	if !strings.Contains(runOut, "chosen front member "+chosen[:12]) {
		t.Errorf("run output names no chosen member")
	}
	code, out, errs = runCLI(t, "export", dir, "--out", filepath.Join(t.TempDir(), "chosen"))
	if code != exitOK || !strings.Contains(out, "exporting the chosen front member "+chosen[:12]) || !strings.Contains(out, "exported candidate "+chosen) {
		t.Errorf("export without --candidate: exit %d\n%s\n%s\nwant the chosen member %s", code, out, errs, chosen)
	}

	// status names the chosen member too, in text and JSON.
	if code, out, _ = runCLI(t, "status", dir); code != exitOK || !strings.Contains(out, "chosen front member: "+chosen[:12]+" (highest mean normalized accuracy on the validation split)") {
		t.Errorf("status does not name the chosen member %s:\n%s", chosen[:12], out)
	}
	if code, out, _ = runCLI(t, "status", dir, "--json"); code != exitOK || !strings.Contains(out, `"chosen": "`+chosen+`"`) {
		t.Errorf("status --json lacks the chosen member:\n%s", out)
	}
	// A finished run verifies clean; an edited score is found.
	if code, out, errs = runCLI(t, "status", dir, "--verify"); code != exitOK || !strings.Contains(out, "no problems found") {
		t.Errorf("status --verify: exit %d\n%s\n%s", code, out, errs)
	}
	// While another process holds the run directory, resume is refused
	// naming it; status still works.
	held, err := rundir.LockDir(dir, "evomerge run (test holder)")
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, "resume", dir)
	if code != exitFailure || !strings.Contains(errs, fmt.Sprintf("is in use by pid %d", os.Getpid())) || !strings.Contains(errs, "kill ") {
		t.Errorf("resume of a held run directory: exit %d, stderr %q", code, errs)
	}
	if code, _, errs = runCLI(t, "status", dir); code != exitOK {
		t.Errorf("status of a held run directory: exit %d: %s", code, errs)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	// An edited score in a well-formed journal record is found by
	// --verify and refused by resume, naming the line.
	edited := filepath.Join(t.TempDir(), "edited")
	if err := os.CopyFS(edited, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(edited, rundir.JournalFile)
	journal, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(journal), "\n")
	i := strings.Index(lines[2], `"scores":[0.`)
	if i < 0 {
		t.Fatalf("no score to edit in %s", lines[2])
	}
	digit := i + len(`"scores":[0.`)
	line := []byte(lines[2])
	line[digit] = '0' + (line[digit]-'0'+1)%10
	lines[2] = string(line)
	if err := os.WriteFile(jpath, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "status", edited, "--verify")
	if code != exitFailure || !strings.Contains(out, "journal.jsonl:3") || !strings.Contains(out, "fails its checksum") {
		t.Errorf("status --verify of an edited journal: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs = runCLI(t, "resume", edited); code != exitFailure || !strings.Contains(errs, "journal.jsonl:3") {
		t.Errorf("resume of an edited journal: exit %d, stderr %q", code, errs)
	}

	tests := []struct {
		name   string
		args   []string
		code   int
		errHas string
	}{
		{"unknown prefix", []string{"export", dir, "--candidate", "ffffffffff"}, exitFailure, "no candidate"},
		{"short prefix", []string{"export", dir, "--candidate", "ab"}, exitFailure, "at least 4 characters"},
		{"status of a non-run", []string{"status", t.TempDir()}, exitFailure, "not a run directory"},
		{"resume of a non-run", []string{"resume", t.TempDir()}, exitFailure, "not a run directory"},
		{"run with two configs", []string{"run", cfg, cfg}, exitUsage, "at most one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.errHas) {
				t.Errorf("exit %d, stderr %q; want exit %d containing %q", code, errs, tt.code, tt.errHas)
			}
		})
	}
}

func TestRunBadConfigListsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	cfg := `[experiment]
name = "bad"
Seed = 1
[models]
benchmark = "mnist-tasks"
[merge]
operator = "ties"
[[merge.search]]
param = "density"
[search]
algorithm = "nsga2"
max_evaluations = -5
[search.nsga2]
population_size = 2
`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "run", path)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	for _, want := range []string{"3 problems", path + ":3: experiment.Seed", path + ":12: search.max_evaluations", path + ":14: search.nsga2.population_size"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// frontSignature is what must match between an interrupted and an
// uninterrupted run: members with their fitness and test scores.
func frontSignature(t *testing.T, dir string) []string {
	t.Helper()
	f, err := rundir.ReadFront(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range f.Members {
		s := fmt.Sprintf("%s %v", m.ID, m.Validation)
		if m.Test != nil {
			s += fmt.Sprintf(" %v", m.Test.Accuracy)
		}
		out = append(out, s)
	}
	return out
}

func journalLines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte("\n"))
}

func TestInterruptedRunsResumeToTheSameFront(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the evomerge command five times")
	}
	// Long enough that the signals land mid-run (a third of the way), short
	// enough for the race detector; runs alone each take seconds.
	// EVOMERGE_LONG_TESTS=1 signals a run of 400 evaluations instead.
	evaluations := 96
	if os.Getenv("EVOMERGE_LONG_TESTS") == "1" {
		evaluations = 400
	}
	cfg := writeSmokeExperiment(t, testCache, evaluations)
	tmp := t.TempDir()

	// The uninterrupted reference.
	ref := filepath.Join(tmp, "reference")
	if out, err := evomergeCommand(t, "run", cfg, "--out", ref).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	total := journalLines(filepath.Join(ref, rundir.JournalFile))

	// startAndSignal starts the run and sends sig once a third of the
	// journal is written; it returns the exit error and the records then.
	startAndSignal := func(dir string, sig syscall.Signal) (error, int, string) {
		cmd := evomergeCommand(t, "run", cfg, "--out", dir)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		journal := filepath.Join(dir, rundir.JournalFile)
		deadline := time.Now().Add(2 * time.Minute)
		for journalLines(journal) < total/3 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		at := journalLines(journal)
		if at >= total {
			t.Fatalf("the run finished (%d of %d journal records) before the signal:\n%s", at, total, log.String())
		}
		return err, at, log.String()
	}

	// Killed with SIGKILL: nothing is flushed but the journal.
	dir := filepath.Join(tmp, "killed")
	_, killedAt, _ := startAndSignal(dir, syscall.SIGKILL)
	if _, err := os.Stat(filepath.Join(dir, rundir.FrontFile)); err == nil {
		t.Fatal("a killed run wrote front.json")
	}
	// status works on the dead run from its journal.
	out, err := evomergeCommand(t, "status", dir, "--json").Output()
	if err != nil {
		t.Fatalf("status of the killed run: %v", err)
	}
	var st rundir.StatusReport
	if err := json.Unmarshal(out, &st); err != nil || st.State != "running" || st.Journaled != killedAt {
		t.Errorf("status of the killed run: %+v (%v); want state running with %d journaled", st, err, killedAt)
	}
	if out, err = evomergeCommand(t, "resume", dir).CombinedOutput(); err != nil {
		t.Fatalf("resume after SIGKILL at %d of %d records: %v\n%s", killedAt, total, err, out)
	}
	if got, want := frontSignature(t, dir), frontSignature(t, ref); !reflect.DeepEqual(got, want) {
		t.Errorf("front after kill -9 at %d of %d records and resume:\n%v\nwant\n%v", killedAt, total, got, want)
	}
	if n := journalLines(filepath.Join(dir, rundir.JournalFile)); n != total {
		t.Errorf("journal after resume has %d records, the uninterrupted run %d", n, total)
	}

	// Interrupted with SIGTERM: exit 130, state and front flushed.
	termDir := filepath.Join(tmp, "terminated")
	err, termAt, log := startAndSignal(termDir, syscall.SIGTERM)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("SIGTERM: %v, want exit %d\n%s", err, exitInterrupted, log)
	}
	if !strings.Contains(log, "evomerge resume "+termDir) {
		t.Errorf("interrupted run does not say how to resume:\n%s", log)
	}
	front, err := rundir.ReadFront(termDir)
	if err != nil || front.Status != "interrupted" {
		t.Errorf("front after SIGTERM: %v, status %q", err, front.Status)
	}
	if st, ok, err := rundir.ReadState(termDir); err != nil || !ok || st.Status != "interrupted" {
		t.Errorf("state after SIGTERM: %+v %v %v", st, ok, err)
	}
	if out, err = evomergeCommand(t, "resume", termDir).CombinedOutput(); err != nil {
		t.Fatalf("resume after SIGTERM: %v\n%s", err, out)
	}
	if got, want := frontSignature(t, termDir), frontSignature(t, ref); !reflect.DeepEqual(got, want) {
		t.Errorf("front after SIGTERM at %d records and resume:\n%v\nwant\n%v", termAt, got, want)
	}
	t.Logf("SIGKILL after %d and SIGTERM after %d of %d journal records; both resumed to the same front", killedAt, termAt, total)
}
