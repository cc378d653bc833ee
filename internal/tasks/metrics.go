package tasks

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/fitness"
)

// The metrics' names, as objectives[].metric names them.
const (
	MetricAccuracy   = "accuracy"
	MetricNormalized = "normalized_accuracy"
	MetricLoss       = "loss"
)

// Metric is a number a task's Result gives: what an objective measures on a
// task (or averages over tasks).
type Metric struct {
	// Name is the metric's name in objectives[].metric.
	Name string
	// Summary says what it measures, in a line.
	Summary string
	// Direction is the direction an objective naming the metric takes when
	// it names none.
	Direction fitness.Direction
	// NeedsReference says that Value divides by the task's expert accuracy
	// on the scored split (Task.ExpertAccuracy), so every task it is taken
	// on needs one.
	NeedsReference bool
	// Value computes the metric of a result; reference is the task's
	// expert accuracy on the result's split (0 when it has none). A value
	// that cannot be computed is NaN.
	Value func(r Result, reference float64) float64
}

// metrics are the metrics, the default (an objective that names none)
// first. Adding a metric is one entry here.
var metrics = []Metric{
	{Name: MetricAccuracy, Summary: "fraction of examples whose arg-max logit is the label",
		Direction: fitness.Maximize,
		Value:     func(r Result, _ float64) float64 { return r.Accuracy }},
	{Name: MetricNormalized, Summary: "accuracy divided by the task's expert accuracy on the same split",
		Direction: fitness.Maximize, NeedsReference: true,
		Value: func(r Result, reference float64) float64 {
			if reference > 0 {
				return r.Accuracy / reference
			}
			return math.NaN()
		}},
	{Name: MetricLoss, Summary: "mean softmax cross-entropy",
		Direction: fitness.Minimize,
		Value:     func(r Result, _ float64) float64 { return r.Loss }},
}

// Metrics lists the metrics, the default first.
func Metrics() []Metric { return slices.Clone(metrics) }

// MetricNames lists the metrics' names, the default first.
func MetricNames() []string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.Name
	}
	return names
}

// LookupMetric returns the named metric.
func LookupMetric(name string) (Metric, bool) {
	for _, m := range metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// UnknownMetric is the error for a metric name that is not in the list.
func UnknownMetric(name string) error {
	q := make([]string, len(metrics))
	for i, m := range metrics {
		q[i] = fmt.Sprintf("%q", m.Name)
	}
	list := q[0]
	if len(q) > 1 {
		list = strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
	}
	return fmt.Errorf("unknown metric %q: use %s", name, list)
}
