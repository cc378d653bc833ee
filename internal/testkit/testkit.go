// Package testkit holds what the test suites of several packages share: a
// TestMain that gives a package's tests one benchmark cache and an
// uncompressed copy of MNIST (so each smoke benchmark is prepared once per
// package instead of once per test), a tiny model of each architecture, tiny
// pools written to disk, random image datasets, a smoke search experiment
// (SmokeSearch), synthetic run directories and run-directory faults
// (rundirs.go; testkit does not import internal/rundir, whose tests import
// it), and an HTTP GET for tests of servers (Get).
//
// Contract: only tests import it. Everything it makes is deterministic (the
// same arguments give the same files and values). Main never leaves files
// behind (the temporary directory is removed when the tests end), and it
// changes the process only by setting $EVOMERGE_MNIST_DIR for the test
// binary.
package testkit

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
)

// Main runs m with a fresh temporary directory named after pkg: *cache is
// set to a benchmark cache inside it, MNIST is unpacked next to it, and the
// directory is removed afterwards. It returns the exit code for os.Exit.
func Main(m *testing.M, pkg string, cache *string) int {
	dir, err := os.MkdirTemp("", "evomerge-"+pkg+"-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*cache = filepath.Join(dir, "cache")
	mnist := filepath.Join(dir, "mnist")
	err = os.Mkdir(mnist, 0o755)
	if err == nil {
		err = UnpackMNIST(mnist)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "unpacking MNIST:", err)
		return 1
	}
	return m.Run()
}

// UnpackMNIST writes uncompressed copies of the MNIST idx files into dir
// and points $EVOMERGE_MNIST_DIR at them. Every benchmark preparation and
// every run re-reads MNIST; inflating the gzip files each time dominates
// test time under the race detector, while the bytes the tests see are the
// same. When MNIST is missing it does nothing (the tests that need it
// report that themselves).
func UnpackMNIST(dir string) error {
	src, err := data.LocateMNIST("")
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.Contains(name, "-idx") {
			continue
		}
		if err := unpackFile(filepath.Join(src, name), filepath.Join(dir, strings.TrimSuffix(name, ".gz"))); err != nil {
			return err
		}
	}
	return os.Setenv(data.MNISTDirEnv, dir)
}

func unpackFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	var r io.Reader = in
	if strings.HasSuffix(src, ".gz") {
		zr, err := gzip.NewReader(in)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("unpack %s: %w", src, err)
	}
	return out.Close()
}
