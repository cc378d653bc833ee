package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/evomerge/evomerge/internal/testkit"
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
	os.Exit(testkit.Main(m, "cmd", &testCache))
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
