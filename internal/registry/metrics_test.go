package registry_test

import (
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/tasks"
)

// The configuration's metrics are tasks.Metrics, with their directions.
func TestCatalogMetricsAreTheTaskMetrics(t *testing.T) {
	cat := registry.Catalog()
	if got := cat.MetricNames(); !slices.Equal(got, tasks.MetricNames()) {
		t.Fatalf("catalog metrics %v, tasks.Metrics %v", got, tasks.MetricNames())
	}
	for _, m := range tasks.Metrics() {
		if dir, ok := cat.MetricDirection(m.Name); !ok || dir != m.Direction.String() {
			t.Errorf("%s: direction %q %v, want %q", m.Name, dir, ok, m.Direction)
		}
	}
	if _, ok := cat.MetricDirection("f1"); ok {
		t.Error("an unknown metric has a direction")
	}
}
