package run

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/evomerge/evomerge/internal/rundir"
)

// writeFailures collects the failed writes of a session to its run
// directory in the order they happened. The first is the cause (on a full
// disk every later write fails as well), so it is the one a session stops
// with; the later ones are only added after it.
type writeFailures struct {
	mu   sync.Mutex
	errs []error
}

// add records err (nil is ignored) and returns it.
func (w *writeFailures) add(err error) error {
	if err != nil {
		w.mu.Lock()
		w.errs = append(w.errs, err)
		w.mu.Unlock()
	}
	return err
}

// first is the first failure, nil if none.
func (w *writeFailures) first() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) == 0 {
		return nil
	}
	return w.errs[0]
}

// stopped is the error of a session that stopped because writing its run
// directory failed: the first failed write, what to do, and the writes
// that failed after it, including marking state.json failed (stateErr).
func (w *writeFailures) stopped(dir string, stateErr error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := &StoppedError{Dir: dir, Err: w.errs[0], State: stateErr}
	for _, err := range w.errs[1:] {
		if err != stateErr {
			e.Later = append(e.Later, err)
		}
	}
	return e
}

// StoppedError is the error of a session that stopped because a write to
// its run directory failed. Err is the first failed write; Later are writes
// that failed after it; State, when set, is why state.json could not be
// marked failed. It unwraps to Err.
type StoppedError struct {
	Dir   string
	Err   error
	Later []error
	State error
}

func (e *StoppedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: the run stopped there; fix the cause (free disk space, check the file system) and continue it with `evomerge resume %s`", e.Err, e.Dir)
	for _, err := range e.Later {
		fmt.Fprintf(&b, "; then %v", err)
	}
	if e.State != nil {
		fmt.Fprintf(&b, "; %s could not be marked failed either (%v), so it may still say running", filepath.Join(e.Dir, rundir.StateFile), e.State)
	}
	return b.String()
}

func (e *StoppedError) Unwrap() error { return e.Err }
