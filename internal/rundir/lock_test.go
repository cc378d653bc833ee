package rundir

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/testkit"
)

// wantBusy checks that err is a *BusyError refusing a lock of dir held by
// pid running command, in the words the CLI prints.
func wantBusy(t *testing.T, err error, dir string, pid int, command string) {
	t.Helper()
	testkit.WantBusy(t, err, dir, pid, command, func(b *BusyError) (int, string) { return b.Holder.PID, b.Holder.Command })
}

func TestLockDirRefusesASecondHolder(t *testing.T) {
	dir := t.TempDir()
	first, err := LockDir(dir, "resume")
	if err != nil {
		t.Fatal(err)
	}
	// flock belongs to the open file description: a second open of the lock
	// file in the same process is refused like another process would be.
	for _, command := range []string{"run", "resume"} {
		second, err := LockDir(dir, command)
		if second != nil {
			t.Fatalf("LockDir(%q) succeeded while the lock was held", command)
		}
		wantBusy(t, err, dir, os.Getpid(), "resume")
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Release left %s behind (%v)", LockFile, err)
	}
	again, err := LockDir(dir, "run")
	if err != nil {
		t.Fatalf("LockDir after Release: %v", err)
	}
	again.Release()
}

func TestLockDirIgnoresALeftoverLockFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockFile)
	// What a holder killed with SIGKILL leaves: the file, naming a process
	// that is gone, but no lock (flock ends with its process).
	stale := `{"pid":999999,"command":"evomerge resume ` + dir + `","since":"2026-01-02T03:04:05Z"}` + "\n"
	if err := os.WriteFile(path, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := LockDir(dir, "resume")
	if err != nil {
		t.Fatalf("a leftover lock file blocks: %v", err)
	}
	defer l.Release()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h LockHolder
	if err := json.Unmarshal(b, &h); err != nil || h.PID != os.Getpid() || !strings.Contains(h.Command, "resume") || h.Since.IsZero() {
		t.Errorf("lock file %q (%v), want this process (%d) running resume", b, err, os.Getpid())
	}
}

// lockHelperEnv names the directory TestLockHelperProcess locks.
const lockHelperEnv = "EVOMERGE_TEST_LOCK_HELPER_DIR"

// TestLockHelperProcess is the second process of TestLockDirAcrossProcesses:
// it takes the lock, says so, and holds it until it is killed.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		t.Skip("helper process of TestLockDirAcrossProcesses")
	}
	if _, err := LockDir(dir, "resume"); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(0)
}

func TestLockDirAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper process said %q (%v), want locked", line, err)
	}
	l, err := LockDir(dir, "run")
	if l != nil {
		t.Fatal("LockDir succeeded while another process held the lock")
	}
	wantBusy(t, err, dir, cmd.Process.Pid, "resume")

	// kill -9: the process cannot clean up, its lock file stays, and the
	// lock goes with the process.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatalf("the killed holder left no lock file: %v", err)
	}
	l, err = LockDir(dir, "resume")
	if err != nil {
		t.Fatalf("the lock file of a killed process blocks: %v", err)
	}
	l.Release()
}

func TestLockReportWaitsForTheOtherWriter(t *testing.T) {
	dir := t.TempDir()
	first, err := LockReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if l, err := LockReport(ctx, dir); l != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockReport while held: %v, %v; want it to wait until the context ends", l, err)
	}
	// The run lock is another file: a report does not stop a run.
	run, err := LockDir(dir, "run")
	if err != nil {
		t.Fatalf("LockDir while a report holds its lock: %v", err)
	}
	run.Release()
	done := make(chan error, 1)
	go func() {
		l, err := LockReport(context.Background(), dir)
		if err == nil {
			l.Release()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	first.Release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LockReport did not get the lock once it was released")
	}
}
