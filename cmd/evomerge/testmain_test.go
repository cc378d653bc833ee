package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runAsEvomergeEnv makes the test binary behave as the evomerge command
// (its main) instead of running tests, so the tests that signal a real
// process need no separate build.
const runAsEvomergeEnv = "EVOMERGE_TEST_RUN_AS_MAIN"

// testCache is a benchmark cache shared by the package's tests: the smoke
// benchmark is prepared once instead of once per test.
var testCache string

func TestMain(m *testing.M) {
	if os.Getenv(runAsEvomergeEnv) == "1" {
		main()
		return
	}
	dir, err := os.MkdirTemp("", "evomerge-cmd-test-*")
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

// evomergeCommand returns the test binary set up to run as evomerge with
// args.
func evomergeCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), runAsEvomergeEnv+"=1")
	return cmd
}
