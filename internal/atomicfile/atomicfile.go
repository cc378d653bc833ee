// Package atomicfile writes files so that readers, and a machine that loses
// power, see either the old file or the whole new one, never a part.
//
// Contract: data goes to a temporary file in the destination's directory
// (named ".<base>.tmp-*", so it never collides with real files), which is
// fsynced, given its permissions, renamed over the destination, and the
// directory is fsynced so the rename itself is durable. On any error the
// temporary file is removed and the destination is untouched. Errors name
// the destination path.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CreateTemp opens a fresh temporary file next to path. Finish it with
// Commit, or close and remove it on failure.
func CreateTemp(path string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	return f, nil
}

// Commit fsyncs and closes f (a file from CreateTemp), sets its permissions,
// renames it to path and fsyncs the directory. The caller removes f's file
// if Commit fails.
func Commit(f *os.File, path string, perm os.FileMode) error {
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// Write creates path atomically with the contents that fill writes.
func Write(path string, perm os.FileMode, fill func(f *os.File) error) (err error) {
	f, err := CreateTemp(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return Commit(f, path, perm)
}

// WriteFile creates path atomically with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// SyncDir fsyncs a directory so that renames and creations inside it are
// durable. File systems that cannot sync directories are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
