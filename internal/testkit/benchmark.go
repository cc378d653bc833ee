package testkit

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/evomerge/evomerge/internal/benchmarks"
)

// PreparedMNISTTasks returns mnist-tasks when it is already prepared with
// its default recipe in the default cache, and skips the test otherwise: it
// never trains (benchmarks and performance tests use it; `evomerge bench
// prepare mnist-tasks` prepares it).
func PreparedMNISTTasks(tb testing.TB) *benchmarks.Benchmark {
	tb.Helper()
	root, err := benchmarks.DefaultCacheRoot()
	if err != nil {
		tb.Skipf("no benchmark cache: %v", err)
	}
	dir := filepath.Join(root, benchmarks.MNISTTasksName+"-"+benchmarks.MNISTTasksVersion)
	raw, err := os.ReadFile(filepath.Join(dir, benchmarks.ManifestFile))
	if err != nil {
		tb.Skipf("mnist-tasks is not prepared in %s (run `evomerge bench prepare mnist-tasks`): %v", dir, err)
	}
	var man benchmarks.Manifest
	recipe, _ := benchmarks.DefaultRecipe(benchmarks.MNISTTasksName)
	if json.Unmarshal(raw, &man) != nil || !reflect.DeepEqual(man.Recipe, recipe) {
		tb.Skipf("the mnist-tasks cache in %s was not built with the default recipe; run `evomerge bench prepare mnist-tasks`", dir)
	}
	// Prepare rebuilds a damaged cache; check the files first so a test
	// never trains.
	for _, m := range man.Members {
		sum, err := benchmarks.FileSHA256(filepath.Join(dir, m.File))
		if err != nil || sum != m.SHA256 {
			tb.Skipf("the mnist-tasks cache in %s is damaged (%s); run `evomerge bench prepare mnist-tasks --force`", dir, m.File)
		}
	}
	b, err := benchmarks.Prepare(context.Background(), benchmarks.MNISTTasksName, benchmarks.Options{CacheDir: root})
	if err != nil {
		tb.Skipf("mnist-tasks: %v", err)
	}
	return b
}
