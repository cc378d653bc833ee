package run

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/testkit"
)

func TestRunStopsAtTheFirstFailedWrite(t *testing.T) {
	tests := []struct {
		name string
		fail func(base string, n int, full bool) bool
		// first is the file whose failed write the error must start with;
		// state the status state.json must hold afterwards; unmarked that
		// the error must say state.json could not be marked failed.
		first     string
		state     string
		unmarked  bool
		journaled int // records the journal must hold (-1: any)
	}{
		{"full disk while journaling", func(base string, n int, full bool) bool {
			return full || base == rundir.JournalFile && n > 3
		}, rundir.JournalFile, rundir.StateRunning, true, 3},
		{"journal write fails", func(base string, n int, full bool) bool {
			return base == rundir.JournalFile && n > 3
		}, rundir.JournalFile, rundir.StateFailed, false, 3},
		{"state.json write fails after a batch", func(base string, n int, full bool) bool {
			return base == rundir.StateFile && n == 2
		}, rundir.StateFile, rundir.StateFailed, false, -1},
		{"front.json write fails", func(base string, n int, full bool) bool {
			return base == rundir.FrontFile
		}, rundir.FrontFile, rundir.StateFailed, false, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			exp := decodeSmoke(t, dir, func(s string) string { return strings.Replace(s, "max_evaluations = 44", "max_evaluations = 16", 1) })
			testkit.SetWriteFault(t, rundir.InjectWriteFault, tt.fail)
			_, err := Start(context.Background(), exp, Options{})
			rundir.InjectWriteFault(nil)
			if err == nil {
				t.Fatal("the run succeeded although writing its directory failed")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if want := "writing " + filepath.Join(dir, tt.first) + ": no space left on device"; !strings.HasPrefix(msg, want) {
				t.Errorf("error %q\ndoes not start with %q", msg, want)
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("error %v does not unwrap to ENOSPC", err)
			}
			if want := "`evomerge resume " + dir + "`"; !strings.Contains(msg, want) {
				t.Errorf("error %q does not say %s", msg, want)
			}
			if got := strings.Contains(msg, "could not be marked failed"); got != tt.unmarked {
				t.Errorf("error %q: says state.json could not be marked failed = %v, want %v", msg, got, tt.unmarked)
			}
			st, _, serr := rundir.ReadState(dir)
			if serr != nil || st.Status != tt.state {
				t.Errorf("state.json: status %q (%v), want %q", st.Status, serr, tt.state)
			}
			if tt.state == rundir.StateFailed && !strings.HasPrefix(st.Error, "writing "+filepath.Join(dir, tt.first)) {
				t.Errorf("state.json error %q does not name the first failed write", st.Error)
			}
			j, jerr := rundir.ReadJournal(filepath.Join(dir, rundir.JournalFile))
			if jerr != nil || (tt.journaled >= 0 && len(j.Records) != tt.journaled) || j.Torn {
				t.Errorf("journal after the failure: %d records, torn %v, %v; want %d", len(j.Records), j.Torn, jerr, tt.journaled)
			}
			// What the failed session left agrees with itself.
			if v, err := rundir.Verify(dir); err != nil || !v.OK() {
				t.Errorf("verify after the failure: %v %q", err, v.Problems)
			}
			// With the disk writable again the run resumes to its end.
			res, err := Resume(context.Background(), dir, Options{})
			if err != nil || res.Status != rundir.StateFinished || res.Result.Evaluations != 16 {
				t.Fatalf("resume after the failure: %v", err)
			}
		})
	}
}
