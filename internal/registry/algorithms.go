package registry

import (
	"fmt"
	"slices"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/cmaes"
	"github.com/evomerge/evomerge/search/fw"
	"github.com/evomerge/evomerge/search/ga"
	"github.com/evomerge/evomerge/search/m2n2"
	"github.com/evomerge/evomerge/search/mapmerge"
	"github.com/evomerge/evomerge/search/nsga2"
	"github.com/evomerge/evomerge/search/random"
)

// algorithms are the search algorithms, in the order documentation lists
// them.
var algorithms = []search.Algorithm{
	random.Algorithm,
	nsga2.Algorithm,
	ga.Algorithm,
	cmaes.Algorithm,
	adamerging.Algorithm,
	fw.Algorithm,
	m2n2.Algorithm,
	mapmerge.Algorithm,
}

// Algorithms lists the search algorithms.
func Algorithms() []search.Algorithm { return slices.Clone(algorithms) }

// Algorithm returns the named search algorithm.
func Algorithm(name string) (search.Algorithm, bool) {
	for _, a := range algorithms {
		if a.Name == name {
			return a, true
		}
	}
	return search.Algorithm{}, false
}

// AlgorithmNames lists the algorithms' names.
func AlgorithmNames() []string {
	names := make([]string, len(algorithms))
	for i, a := range algorithms {
		names[i] = a.Name
	}
	return names
}

// Catalog is the configuration's view of the registry.
func Catalog() configs.Catalog { return catalog{} }

type catalog struct{}

func (catalog) AlgorithmNames() []string { return AlgorithmNames() }

func (catalog) AlgorithmTable(name string) (configs.Table, bool) {
	a, ok := Algorithm(name)
	if !ok {
		return nil, false
	}
	return &algorithmTable{name: name, settings: a.NewSettings()}, true
}

// Settings returns the decoded settings of the experiment's algorithm.
func Settings(exp *configs.Experiment) (search.MethodSettings, error) {
	t, ok := exp.Search.Table.(*algorithmTable)
	if !ok {
		return nil, fmt.Errorf("%s: search.algorithm %q has no decoded settings", exp.File(), exp.Search.Algorithm)
	}
	return t.settings, nil
}

// algorithmTable adapts a method's settings to configs.Table: it applies
// the settings' defaults and checks, and the checks its Traits imply for
// the rest of the experiment.
type algorithmTable struct {
	name     string
	settings search.MethodSettings
}

func (t *algorithmTable) Target() any { return t.settings }

func (t *algorithmTable) Complete(e *configs.Experiment, problem func(key, msg string)) {
	s := e.Search
	t.settings.Defaults(search.Budget{MaxEvaluations: s.MaxEvaluations, MaxGenerations: s.MaxGenerations, MaxTime: s.MaxTime})
	prefix := "search." + t.name + "."
	t.settings.Validate(func(key, msg string) { problem(prefix+key, msg) })
	tr := t.settings.Traits()
	switch {
	case tr.DerivesSpace && len(e.Merge.Search) > 0:
		problem("merge.search", fmt.Sprintf("%s derives its own coefficients: remove the [[merge.search]] tables", t.name))
	case !tr.DerivesSpace && len(e.Merge.Search) == 0:
		problem("merge.search", `missing: list the searched parameters as [[merge.search]] tables, e.g. param = "weight", per_model = true`)
	}
	if tr.DerivesSpace && (len(e.Merge.Params) > 0 || len(e.Merge.Groups) > 0) {
		problem("merge.params", fmt.Sprintf("%s sets every merge coefficient itself: remove merge.params and merge.groups", t.name))
	}
	if tr.Operator != "" && e.Merge.Operator != "" && e.Merge.Operator != tr.Operator {
		problem("merge.operator", tr.OperatorReason)
	}
	if !tr.EndsByItself && !s.Budget() {
		problem("search", "no budget: set max_evaluations, max_generations or max_time")
	}
	if kind, ok := EvaluatorKind(e.Evaluator.Kind); ok {
		for _, need := range tr.Needs {
			if !kind.Provides(need) {
				problem("evaluator.kind", fmt.Sprintf("%s needs %s, which the %s evaluator cannot provide: use kind = %q", t.name, need, kind.Name, providerOf(need)))
			}
		}
	}
}

func (t *algorithmTable) UpgradeResolved(format int) {
	if u, ok := t.settings.(search.ResolvedUpgrader); ok {
		u.UpgradeResolved(format)
	}
}

func (t *algorithmTable) MapPaths(f func(string) string) {
	if p, ok := t.settings.(search.PathSettings); ok {
		p.MapPaths(f)
	}
}

// MultiObjective builds the multi-objective method that methods searching
// their own surrogates run inside (search.Env.MultiObjective): NSGA-II
// with the given population and its other defaults.
func MultiObjective(population int) (search.Method, error) {
	return nsga2.New(nsga2.Options{PopulationSize: population})
}
