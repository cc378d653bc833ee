package rundir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Lock files of a run directory.
//
// A run directory has one writer at a time: `evomerge run` and `evomerge
// resume` hold LockFile for their whole session, and a second run or resume
// of the same directory is refused at once, naming the holder (its pid and
// command line) and what to do. Two sessions appending to one journal would
// interleave their records and rewrite state.json and front.json over each
// other.
//
// Commands that only read a run, or write beside it atomically, do not take
// LockFile, so that they work while the run is going:
//
//   - `evomerge status` reads the journal (an incomplete last line is
//     skipped) and state.json (written atomically).
//   - `evomerge report` writes report.html atomically (a temporary file
//     renamed over it), so the run and a report never see a half-written
//     page. Writers of RUN_DIR/report.html (the report command and the run's
//     own final report) hold ReportLockFile while they read the run and
//     write the page, waiting for each other, so a report started just
//     before the run ends cannot replace the final report with an older
//     view.
//   - `evomerge export` reads the journal and config.toml and writes into
//     exports/<id> (or --out), a directory the run never writes: the
//     checkpoint's shards are written under temporary names and renamed,
//     recipe.toml atomically, and a directory that already holds a
//     checkpoint is refused, so exporting a candidate while the search
//     goes on is safe.
//
// The locks are flock(2) locks (on systems without flock, an exclusively
// created file; see lock_other.go). They belong to the open file, so they
// end with the process however it ends: the lock file a killed (kill -9)
// holder leaves behind blocks nobody, and the next holder rewrites it.
const (
	LockFile       = "run.lock"
	ReportLockFile = "report.lock"
)

// LockHolder is what a lock file says about the process holding it.
type LockHolder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// BusyError is the refusal of a lock another process holds.
type BusyError struct {
	Dir  string
	Path string
	// Holder is what the lock file says; PID is 0 when it says nothing yet
	// (the holder is between taking the lock and writing its pid).
	Holder LockHolder
}

func (e *BusyError) Error() string {
	h := e.Holder
	if h.PID <= 0 {
		return fmt.Sprintf("run directory %s is in use: another process holds its lock %s (it has not recorded its pid yet): wait for it to finish or stop it, then run the command again%s", e.Dir, e.Path, staleHint(e.Path))
	}
	since := ""
	if !h.Since.IsZero() {
		since = ", since " + h.Since.Local().Format(time.DateTime)
	}
	return fmt.Sprintf("run directory %s is in use by pid %d (`%s`%s), which holds its lock %s: wait for it to finish or stop it (kill %d), then run the command again%s", e.Dir, h.PID, h.Command, since, e.Path, h.PID, staleHint(e.Path))
}

// errLocked is what tryLock returns when another open file holds the lock.
var errLocked = errors.New("locked")

// DirLock is a held lock of a run directory.
type DirLock struct {
	path string
	f    *os.File
	once sync.Once
	err  error
}

// LockDir takes the run lock of dir (LockFile) for command, the name of
// what is about to write the directory ("run", "resume"); dir must exist.
// It does not wait: when another process, or another open file of this one,
// holds the lock, it returns a *BusyError naming the holder.
func LockDir(dir, command string) (*DirLock, error) {
	l, err := lock(dir, filepath.Join(dir, LockFile), command)
	if errors.Is(err, errLocked) {
		return nil, busy(dir, filepath.Join(dir, LockFile))
	}
	return l, err
}

// LockReport takes the report lock of dir (ReportLockFile), waiting while
// another writer of RUN_DIR/report.html holds it, until ctx ends.
func LockReport(ctx context.Context, dir string) (*DirLock, error) {
	path := filepath.Join(dir, ReportLockFile)
	for {
		l, err := lock(dir, path, "report")
		if !errors.Is(err, errLocked) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", path, context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lock takes the lock at path and records this process in it.
func lock(dir, path, command string) (*DirLock, error) {
	for {
		f, err := tryLock(path)
		if err != nil {
			if errors.Is(err, errLocked) {
				return nil, err
			}
			return nil, fmt.Errorf("run directory %s: lock: %w", dir, err)
		}
		// The holder removes the file when it releases the lock: if it did
		// so between our open and our lock, we hold a lock on a file that no
		// longer has the name, and open the new one instead.
		if same, err := stillNamed(f, path); err != nil || !same {
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("run directory %s: lock: %w", dir, err)
			}
			continue
		}
		h := LockHolder{PID: os.Getpid(), Command: commandLine(command), Since: time.Now().UTC()}
		b, _ := json.Marshal(h) // a struct of plain fields always encodes
		if err := f.Truncate(0); err == nil {
			f.WriteAt(append(b, '\n'), 0) // best effort: the lock holds without it
		}
		return &DirLock{path: path, f: f}, nil
	}
}

// stillNamed reports whether path still names the open file f.
func stillNamed(f *os.File, path string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, pi), nil
}

// commandLine is this process's command line, with command when the
// arguments do not name it (a library caller).
func commandLine(command string) string {
	if len(os.Args) == 0 {
		return command
	}
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	line := strings.Join(args, " ")
	if !strings.Contains(" "+line+" ", " "+command+" ") {
		line = command + " (" + line + ")"
	}
	return line
}

// busy reads the holder of the lock at path; a holder that has not written
// its pid yet is given a moment to do so.
func busy(dir, path string) error {
	e := &BusyError{Dir: dir, Path: path}
	for range 5 {
		b, err := os.ReadFile(path)
		if err == nil && json.Unmarshal(b, &e.Holder) == nil && e.Holder.PID > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

// Release gives the lock up and removes its file; it is safe to call more
// than once and on a nil lock.
func (l *DirLock) Release() error {
	if l == nil {
		return nil
	}
	l.once.Do(func() {
		// Remove the name while the lock is held, so nobody takes a lock
		// on a file that is about to be unnamed (lock checks the name).
		if same, err := stillNamed(l.f, l.path); err == nil && same {
			os.Remove(l.path)
		}
		l.err = l.f.Close()
	})
	return l.err
}
