//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package rundir

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// tryLock opens (creating) the lock file at path and takes an exclusive
// flock(2) on it without waiting. flock belongs to the open file
// description: a second open of the same file, in this process or another,
// is refused (errLocked) until the first is closed, which the kernel does
// when its process exits, however it exits.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return f, nil
}

// staleHint is empty: a flock ends with its process, so a lock is never
// stale.
func staleHint(string) string { return "" }
