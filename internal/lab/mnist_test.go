package lab

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evomerge/evomerge/internal/data"
)

// unpackMNIST writes uncompressed copies of the MNIST idx files into dir and
// points $EVOMERGE_MNIST_DIR at them. Every benchmark preparation and every
// run re-reads MNIST; inflating the gzip files each time dominates the
// package's test time under the race detector, while the bytes the tests see
// are the same. When MNIST is missing it does nothing (the tests that need
// it report that themselves).
func unpackMNIST(dir string) error {
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
