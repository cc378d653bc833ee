package registry

import "github.com/evomerge/evomerge/internal/tasks"

// The metrics an objective can measure are tasks.Metrics: the catalog
// gives the configuration their names, their default (the first) and each
// one's default direction.

func (catalog) MetricNames() []string { return tasks.MetricNames() }

func (catalog) AnyMetric(kind string) bool {
	e, ok := EvaluatorKind(kind)
	return ok && e.AnyMetric
}

func (catalog) MetricDirection(name string) (string, bool) {
	m, ok := tasks.LookupMetric(name)
	if !ok {
		return "", false
	}
	return m.Direction.String(), true
}
