package configs

// Catalog is what the configuration needs to know of the components an
// experiment can name: the search algorithms and the evaluator kinds, and
// their settings tables, and the metrics an objective can measure. The
// registry (internal/registry) implements it; configs itself knows no
// algorithm, evaluator kind or metric by name.
type Catalog interface {
	// AlgorithmNames lists the algorithms in the order documentation
	// lists them.
	AlgorithmNames() []string
	// AlgorithmTable returns a fresh settings table of the named
	// algorithm, or false when there is no such algorithm.
	AlgorithmTable(name string) (Table, bool)
	// EvaluatorNames lists the evaluator kinds in the order documentation
	// lists them; the first is the kind of an experiment that names none.
	EvaluatorNames() []string
	// EvaluatorTable returns fresh settings of the named evaluator kind,
	// decoded from the keys of [evaluator] besides kind, or false when
	// there is no such kind.
	EvaluatorTable(kind string) (Table, bool)
	// MetricNames lists the metrics objectives[].metric may name, the
	// default (of an objective that names none) first.
	MetricNames() []string
	// MetricDirection returns the direction ("maximize" or "minimize") an
	// objective measuring the named metric takes when it names none, or
	// false when there is no such metric.
	MetricDirection(name string) (string, bool)
	// AnyMetric reports whether the named evaluator kind reports scores
	// under names of its own (a user's command), so that an objective may
	// name a metric outside MetricNames, with its direction.
	AnyMetric(kind string) bool
}

// Table is a component's own settings table ([search.<algorithm>], or the
// evaluator kind's keys of [evaluator]): a typed value the table is decoded
// into strictly, which then completes itself.
type Table interface {
	// Target is the pointer to the struct (with toml tags) the table is
	// decoded into and encoded from.
	Target() any
	// Complete fills the defaults of absent settings and reports every
	// problem, of the table and of the rest of the experiment that the
	// component constrains, with absolute dotted keys.
	Complete(e *Experiment, problem func(key, msg string))
	// UpgradeResolved reads a resolved configuration of an older format as
	// it was meant when its run started.
	UpgradeResolved(format int)
	// MapPaths rewrites the file paths the table names (e.g. against the
	// configuration file's directory).
	MapPaths(f func(string) string)
}
