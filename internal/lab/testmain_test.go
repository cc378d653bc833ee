package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// testCache is a benchmark cache shared by the package's tests: each smoke
// benchmark is prepared once instead of once per test.
var testCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evomerge-lab-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testCache = filepath.Join(dir, "cache")
	mnist := filepath.Join(dir, "mnist")
	err = os.Mkdir(mnist, 0o755)
	if err == nil {
		err = unpackMNIST(mnist)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "unpacking MNIST:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
