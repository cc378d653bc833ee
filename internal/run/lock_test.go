package run

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/testkit"
)

// busyHolder is the pid and command of the holder a *rundir.BusyError names.
func busyHolder(b *rundir.BusyError) (int, string) { return b.Holder.PID, b.Holder.Command }

func TestLockedRunDirectoryRefusesRunAndResumeOnly(t *testing.T) {
	ref := referenceRun(t)
	held, err := rundir.LockDir(ref.Dir, "resume")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	before, err := os.ReadFile(filepath.Join(ref.Dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		command func() error
	}{
		{"resume", func() error { _, err := Resume(context.Background(), ref.Dir, Options{}); return err }},
		{"run --force", func() error {
			_, err := Start(context.Background(), decodeSmoke(t, ref.Dir, nil), Options{Force: true})
			return err
		}},
	}
	// Readers, and export (it writes only exports/<id>), do not need the
	// lock: they work while a run holds it.
	if _, err := rundir.Status(ref.Dir); err != nil {
		t.Errorf("status of a locked run: %v", err)
	}
	if v, err := rundir.Verify(ref.Dir); err != nil || !v.OK() {
		t.Errorf("verify of a locked run: %v %v", err, v)
	}
	if _, err := Export(context.Background(), ref.Dir, ref.Front.Members[0].ID, filepath.Join(t.TempDir(), "export")); err != nil {
		t.Errorf("export from a locked run: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.command()
			testkit.WantBusy(t, err, ref.Dir, os.Getpid(), "resume", busyHolder)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the refusal took %v; it must come at once", d)
			}
			after, err := os.ReadFile(filepath.Join(ref.Dir, rundir.JournalFile))
			if err != nil || string(after) != string(before) {
				t.Errorf("the refused command changed the journal (%v)", err)
			}
		})
	}
}
