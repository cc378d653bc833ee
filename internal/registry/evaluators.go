package registry

import (
	"context"
	"fmt"
	"slices"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	natsev "github.com/evomerge/evomerge/evaluate/nats"
	"github.com/evomerge/evomerge/search"
)

// Evaluator is an evaluator kind: its name in evaluator.kind, what it can
// give a method besides scores, its settings (the other keys of
// [evaluator]) and its factory.
type Evaluator struct {
	Name    string
	Summary string
	// Needs are the method needs it provides (NeedScores always).
	Needs []search.Need
	// Benchmark, when set, says that the kind scores on a built-in
	// benchmark's task data, and how: the experiment must name one.
	Benchmark string
	// AnyMetric: the kind reports scores under names of its own (a user's
	// command), so objectives may name metrics outside tasks.Metrics.
	AnyMetric bool
	// NewSettings returns empty settings to decode [evaluator] into.
	NewSettings func() evaluate.Settings
	// New builds the evaluator from decoded, defaulted and validated
	// settings.
	New func(ctx context.Context, s evaluate.Settings, env evaluate.Env) (*evaluate.Built, error)
}

// Provides reports whether the kind provides need.
func (e Evaluator) Provides(need search.Need) bool {
	return need == search.NeedScores || slices.Contains(e.Needs, need)
}

// evaluators are the evaluator kinds, the default (an absent
// evaluator.kind) first.
var evaluators = evaluatorList()

// evaluatorList is the literal list of evaluator kinds. It is a function
// so that the nats kind's factory can give its workers the list (every kind
// but nats) without an initialization cycle.
func evaluatorList() []Evaluator {
	return []Evaluator{
		{Name: evaluate.NativeKind, Summary: "Go-native inference on the benchmark's fitness split",
			Needs:       []search.Need{search.NeedLossGradients, search.NeedAlignment, search.NeedRecipes},
			Benchmark:   "the native evaluator scores on a built-in benchmark's task data",
			NewSettings: evaluate.NewNativeSettings, New: evaluate.BuildNative},
		{Name: evaluate.CommandKind, Summary: "a user's command scores each merged checkpoint",
			AnyMetric: true, NewSettings: evaluate.NewCommandSettings, New: evaluate.BuildCommand},
		{Name: natsev.Kind, Summary: "evomerge worker processes score candidates through NATS JetStream, natively or with the kind [evaluator.inner] names",
			Benchmark:   "NATS workers score natively on a built-in benchmark's task data",
			NewSettings: newNATSSettings, New: natsev.Build},
	}
}

// WorkerKinds are the evaluator kinds NATS workers may score with: every
// kind but nats, for `evomerge worker` to build the kind a run names.
func WorkerKinds() []natsev.InnerKind {
	var out []natsev.InnerKind
	for _, e := range evaluatorList() {
		if e.Name != natsev.Kind {
			out = append(out, natsev.InnerKind{Name: e.Name, Benchmark: e.Benchmark, NewSettings: e.NewSettings, New: e.New})
		}
	}
	return out
}

// newNATSSettings are the nats kind's settings, for workers that score
// with WorkerKinds.
func newNATSSettings() evaluate.Settings { return natsev.NewSettings(WorkerKinds()) }

// Evaluators lists the evaluator kinds.
func Evaluators() []Evaluator { return slices.Clone(evaluators) }

// EvaluatorKind returns the named evaluator kind.
func EvaluatorKind(name string) (Evaluator, bool) {
	for _, e := range evaluators {
		if e.Name == name {
			return e, true
		}
	}
	return Evaluator{}, false
}

// EvaluatorNames lists the evaluator kinds' names, the default first.
func EvaluatorNames() []string {
	names := make([]string, len(evaluators))
	for i, e := range evaluators {
		names[i] = e.Name
	}
	return names
}

// providerOf names the first evaluator kind that provides need.
func providerOf(need search.Need) string {
	for _, e := range evaluators {
		if e.Provides(need) {
			return e.Name
		}
	}
	return ""
}

func (catalog) EvaluatorNames() []string { return EvaluatorNames() }

func (catalog) EvaluatorTable(kind string) (configs.Table, bool) {
	e, ok := EvaluatorKind(kind)
	if !ok {
		return nil, false
	}
	return &evaluatorTable{kind: e, settings: e.NewSettings()}, true
}

// EvaluatorSettings returns the decoded settings of the experiment's
// evaluator kind.
func EvaluatorSettings(exp *configs.Experiment) (evaluate.Settings, error) {
	t, ok := exp.Evaluator.Table.(*evaluatorTable)
	if !ok {
		return nil, fmt.Errorf("%s: evaluator.kind %q has no decoded settings", exp.File(), exp.Evaluator.Kind)
	}
	return t.settings, nil
}

// DescribeEvaluator is the line the experiment's evaluator kind describes
// itself with (evaluate.Describer), or "" when it has none of its own.
func DescribeEvaluator(exp *configs.Experiment) string {
	s, err := EvaluatorSettings(exp)
	if err != nil {
		return ""
	}
	if d, ok := s.(evaluate.Describer); ok {
		return d.Describe()
	}
	return ""
}

// FitnessExamples is how many fitness examples per task the experiment's
// evaluator keeps (0: all, or a kind that does not score natively).
func FitnessExamples(exp *configs.Experiment) int {
	s, err := EvaluatorSettings(exp)
	if err != nil {
		return 0
	}
	if f, ok := s.(evaluate.ExampleLimiter); ok {
		return f.FitnessExamples()
	}
	return 0
}

// BuildEvaluator builds the experiment's evaluator through its kind's
// factory.
func BuildEvaluator(ctx context.Context, exp *configs.Experiment, env evaluate.Env) (*evaluate.Built, error) {
	t, ok := exp.Evaluator.Table.(*evaluatorTable)
	if !ok {
		return nil, configs.Problems{exp.Problem("evaluator.kind", fmt.Sprintf("unknown evaluator %q", exp.Evaluator.Kind))}
	}
	return t.kind.New(ctx, t.settings, env)
}

// evaluatorTable adapts an evaluator kind's settings to configs.Table: it
// applies the settings' defaults and checks, and the kind's need of a
// benchmark.
type evaluatorTable struct {
	kind     Evaluator
	settings evaluate.Settings
}

func (t *evaluatorTable) Target() any { return t.settings }

func (t *evaluatorTable) Complete(e *configs.Experiment, problem func(key, msg string)) {
	report := func(key, msg string) { problem("evaluator."+key, msg) }
	need := t.kind.Benchmark
	t.settings.Defaults()
	t.settings.Validate(report)
	if n, ok := t.settings.(*natsev.Settings); ok {
		// The benchmark need is that of the workers' kind.
		if inner, ok := EvaluatorKind(n.InnerKind()); ok && inner.Benchmark == "" {
			need = ""
		}
	}
	if need != "" && e.Models.Benchmark == "" {
		msg := need + ": set models.benchmark"
		if other := withoutBenchmark(); other != "" {
			msg += fmt.Sprintf(", or use kind = %q", other)
		}
		problem("evaluator.kind", msg)
	}
}

// withoutBenchmark names the first evaluator kind that needs no benchmark.
func withoutBenchmark() string {
	for _, e := range evaluators {
		if e.Benchmark == "" {
			return e.Name
		}
	}
	return ""
}

func (t *evaluatorTable) UpgradeResolved(format int) {
	if u, ok := t.settings.(interface{ UpgradeResolved(format int) }); ok {
		u.UpgradeResolved(format)
	}
}

func (t *evaluatorTable) MapPaths(f func(string) string) {
	if p, ok := t.settings.(interface{ MapPaths(f func(string) string) }); ok {
		p.MapPaths(f)
	}
}
