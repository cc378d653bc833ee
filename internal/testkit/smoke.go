package testkit

import (
	"fmt"
	"strings"
)

// SmokeSearch is an experiment named "smoke" on the smoke recipe of
// mnist-tasks (a few hundred training images; a run takes seconds): task
// arithmetic with a weight per model and per group in [0, 1], searched by
// NSGA-II (population 8, starting from the average, one evaluation at a
// time) on 100 evaluation examples.
type SmokeSearch struct {
	Seed        int
	Output      string // [experiment] output ("": none)
	CacheDir    string // [models] cache_dir, the benchmark cache
	Evaluations int    // [search] max_evaluations
	Objectives  string // the [[objectives]] tables, verbatim, each line ending in a newline
}

// TOML is the experiment file. Its tables stand in the order [experiment],
// [models], [merge], [[merge.search]], [search], [search.nsga2],
// [[objectives]] and [evaluator], a blank line before each, and its last
// line is "examples = 100".
func (s SmokeSearch) TOML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n[experiment]\nname = \"smoke\"\nseed = %d\n", s.Seed)
	if s.Output != "" {
		fmt.Fprintf(&b, "output = %q\n", s.Output)
	}
	fmt.Fprintf(&b, `
[models]
benchmark = "mnist-tasks"
recipe = "smoke"
cache_dir = %q

[merge]
operator = "task_arithmetic"

[[merge.search]]
param = "weight"
per_model = true
per_group = true
lower = 0.0
upper = 1.0

[search]
algorithm = "nsga2"
max_evaluations = %d
concurrency = 1

[search.nsga2]
population_size = 8
start_points = ["average"]

%s
[evaluator]
examples = 100
`, s.CacheDir, s.Evaluations, s.Objectives)
	return b.String()
}
