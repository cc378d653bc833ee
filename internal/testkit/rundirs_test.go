package testkit

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/registry"
)

// runFiles reads every file of a run directory, by name.
func runFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

// WriteRun writes the files each option asks for, the same bytes for the
// same options, and a journal of one line per evaluation.
func TestWriteRun(t *testing.T) {
	cases := []struct {
		opt   RunOptions
		files []string
	}{
		{RunOptions{Evaluations: 3, NoState: true}, []string{"config.toml", "journal.jsonl"}},
		{RunOptions{Evaluations: 5}, []string{"config.toml", "journal.jsonl", "state.json"}},
		{RunOptions{Evaluations: 10, Finished: true, Views: RunViews}, []string{"config.toml", "front.json", "journal.jsonl", "state.json", "views.json"}},
	}
	for _, c := range cases {
		dir := WriteRun(t, c.opt)
		if filepath.Base(dir) != "nsga2 two-tasks" {
			t.Errorf("run directory %s", dir)
		}
		files := runFiles(t, dir)
		names := slices.Sorted(maps.Keys(files))
		if !reflect.DeepEqual(names, c.files) {
			t.Errorf("%+v wrote %v, want %v", c.opt, names, c.files)
		}
		if !reflect.DeepEqual(runFiles(t, WriteRun(t, c.opt)), files) {
			t.Errorf("%+v wrote different files the second time", c.opt)
		}
		var want strings.Builder
		for i := 0; i < c.opt.Evaluations; i++ {
			want.WriteString(JournalLine(i))
		}
		if files["journal.jsonl"] != want.String() {
			t.Errorf("%+v: journal %q", c.opt, files["journal.jsonl"])
		}
	}
	torn := runFiles(t, WriteRun(t, RunOptions{Evaluations: 2, Torn: true, CorruptLine: 1}))["journal.jsonl"]
	lines := strings.Split(torn, "\n")
	if len(lines) != 3 || lines[0] != JournalLine(0)[:len(JournalLine(0))/2] ||
		lines[1]+"\n" != JournalLine(1) || !strings.HasPrefix(JournalLine(2), lines[2]) || lines[2] == "" {
		t.Errorf("torn journal with a corrupt first line: %q", torn)
	}
	if st := runFiles(t, WriteRun(t, RunOptions{Evaluations: 1, Experiment: "other"}))["state.json"]; !strings.Contains(st, `"experiment":"other"`) {
		t.Errorf("state.json %s does not name the experiment", st)
	}
	if RecordID(0) == RecordID(1) || len(RecordID(7)) != 64 {
		t.Errorf("record ids %q, %q", RecordID(0), RecordID(1))
	}
	if strings.Contains(JournalLine(6), `"scores"`) || !strings.Contains(JournalLine(6), `"status":"failed"`) {
		t.Errorf("the seventh record did not fail: %s", JournalLine(6))
	}
}

// SetWriteFault counts the writes of each file name, fails those fail
// picks with ENOSPC, tells fail once a write has failed, and removes the
// fault when the test ends.
func TestSetWriteFault(t *testing.T) {
	var fault func(path string) error
	inject := func(f func(path string) error) { fault = f }
	var calls []string
	t.Run("faulty", func(t *testing.T) {
		SetWriteFault(t, inject, func(base string, n int, full bool) bool {
			calls = append(calls, fmt.Sprintf("%s%d%t", base, n, full))
			return full || base == "b" && n == 2
		})
		var errs []error
		for _, path := range []string{"/x/a", "/y/b", "/x/b", "/x/a"} {
			errs = append(errs, fault(path))
		}
		if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], syscall.ENOSPC) || !errors.Is(errs[3], syscall.ENOSPC) {
			t.Errorf("errors %v", errs)
		}
	})
	if want := []string{"a1false", "b1false", "b2false", "a2true"}; !reflect.DeepEqual(calls, want) {
		t.Errorf("fail was asked %v, want %v", calls, want)
	}
	if fault != nil {
		t.Error("the fault is still injected after the test")
	}
}

type busyError struct {
	pid     int
	command string
}

func (e *busyError) Error() string {
	return fmt.Sprintf("run directory /r is in use by pid %d (%s): wait for it to finish or stop it (kill %d), then run the command again", e.pid, e.command, e.pid)
}

// WantBusy accepts a (wrapped) busy error naming the holder in the CLI's
// words.
func TestWantBusy(t *testing.T) {
	err := fmt.Errorf("resume: %w", &busyError{pid: 42, command: "evomerge resume /r"})
	WantBusy(t, err, "/r", 42, "resume", func(b *busyError) (int, string) { return b.pid, b.command })
}

// SmokeSearch decodes as the experiment it describes, and leaves out the
// output line when it has none.
func TestSmokeSearch(t *testing.T) {
	s := SmokeSearch{Seed: 9, Output: filepath.Join(t.TempDir(), "run"), CacheDir: t.TempDir(), Evaluations: 44, Objectives: "[[objectives]]\ntask = \"all\"\n"}
	src := s.TOML()
	exp, err := configs.DecodeExperiment("smoke.toml", []byte(src), registry.Catalog())
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	if exp.Experiment.Name != "smoke" || exp.Experiment.Seed != 9 || exp.Search.MaxEvaluations != 44 || exp.Models.Recipe != "smoke" || exp.Models.CacheDir != s.CacheDir {
		t.Errorf("decoded %+v", exp)
	}
	if !strings.HasSuffix(src, "\n[evaluator]\nexamples = 100\n") {
		t.Errorf("the file does not end with its [evaluator] table:\n%s", src)
	}
	s.Output = ""
	if strings.Contains(s.TOML(), "output") {
		t.Errorf("an output line without an output:\n%s", s.TOML())
	}
}

// Get returns the status, body and header of a response and does not
// follow redirects.
func TestGet(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		w.Header().Set("X-Test", "yes")
		fmt.Fprint(w, "hello")
	}))
	defer ts.Close()
	if code, body, hdr := Get(t, ts.URL+"/"); code != http.StatusOK || body != "hello" || hdr.Get("X-Test") != "yes" {
		t.Errorf("got %d %q %v", code, body, hdr)
	}
	if code, _, hdr := Get(t, ts.URL+"/away"); code != http.StatusFound || hdr.Get("Location") != "/" {
		t.Errorf("redirect: %d %v", code, hdr)
	}
}
