//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package rundir

import (
	"errors"
	"os"
)

// tryLock creates the lock file at path exclusively (O_EXCL): systems
// without flock(2) get a lock that another process, or another call in this
// one, is refused (errLocked) while the file exists. Unlike flock, it
// outlives a holder that is killed; staleHint says how to remove it then.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, errLocked
	}
	return f, err
}

// staleHint tells how to clear a lock whose holder was killed.
func staleHint(path string) string {
	return "; if that process is no longer running (it was killed), the lock is stale: delete " + path
}
