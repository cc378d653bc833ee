package lab

import (
	"os"
	"testing"

	"github.com/evomerge/evomerge/internal/testkit"
)

// testCache is a benchmark cache shared by the package's tests: each smoke
// benchmark is prepared once instead of once per test.
var testCache string

func TestMain(m *testing.M) {
	os.Exit(testkit.Main(m, "lab", &testCache))
}
