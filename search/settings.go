package search

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// MethodSettings is a method's own table of an experiment ([search.<name>]):
// a struct with toml tags that the configuration decodes strictly (unknown
// keys and wrong types are reported with file and line), then completes
// with Defaults and checks with Validate. The search/<algo> packages each
// define one; a registry entry (Algorithm) makes it known to the
// configuration.
type MethodSettings interface {
	// Defaults fills the documented default of every absent setting, so
	// the resolved configuration a run writes states the values it uses.
	// Settings whose default depends on the search space (1/n rates,
	// CMA-ES's population) stay absent and are computed by New.
	Defaults(b Budget)
	// Validate reports every problem at once; keys are relative to the
	// table ("population_size", "scalarization.weights[1]").
	Validate(report func(key, msg string))
	// Traits says what the method needs of the rest of the experiment.
	Traits() Traits
}

// Budget is the run's limits as the configuration states them, which some
// defaults depend on (M2N2's snapshot interval).
type Budget struct {
	MaxEvaluations int
	MaxGenerations int
	MaxTime        time.Duration
}

// ResolvedUpgrader is implemented by settings whose meaning changed between
// versions of the resolved configuration a run directory keeps: Upgrade
// reads an older file as it was meant when its run started.
type ResolvedUpgrader interface {
	UpgradeResolved(format int)
}

// PathSettings is implemented by settings that name files (start points
// read from another run): MapPaths rewrites each path, e.g. to resolve it
// against the configuration file's directory.
type PathSettings interface {
	MapPaths(f func(string) string)
}

// Need is something a method asks of the evaluator beyond scores.
type Need string

// Needs a method may state.
const (
	// NeedScores: one score per objective per candidate (every method).
	NeedScores Need = "scores"
	// NeedLossGradients: the loss and dL/dλ of each merge coefficient
	// (GradientEvaluator).
	NeedLossGradients Need = "loss gradients with respect to merge coefficients"
	// NeedAlignment: the alignment of each pool member with the loss
	// gradient, per tensor, and steps of the merged model
	// (AlignmentEvaluator).
	NeedAlignment Need = "alignment of pool members with the loss gradient"
	// NeedRecipes: children built as recipes of their parents' weights
	// and scored per example (M2N2's lineage evaluator).
	NeedRecipes Need = "recipe genomes scored per example"
)

// Traits are what a method requires of the experiment around it. The
// configuration checks them with the user's keys and lines; the run loop
// refuses an evaluator that cannot provide the Needs.
type Traits struct {
	// DerivesSpace: the method builds its own search space and sets every
	// merge coefficient itself, so [[merge.search]], merge.params and
	// merge.groups must be absent. Derived says which space to derive,
	// for methods that merge a pool (nil for those that search recipes).
	DerivesSpace bool
	Derived      *DerivedSpace
	// Operator is the merge operator the method works with ("" any), and
	// OperatorReason says why, as advice to the user.
	Operator, OperatorReason string
	// EndsByItself: the method stops on its own (one optimisation, a
	// fixed design), so no budget is required.
	EndsByItself bool
	// Needs lists what the method asks of the evaluator besides scores.
	Needs []Need
	// Sizes are the population-like settings whose memory is checked
	// against the machine before the run starts.
	Sizes []Size
}

// DerivedSpace is the space a method that derives its own searches: one
// task-arithmetic weight per pool model at Granularity ("task": one per
// model, "tensor": per model and tensor, "group": per model and layer
// group), within [Lower, Upper].
type DerivedSpace struct {
	Granularity  string
	Lower, Upper float64
	// WithBenchmarkPool: a pool the experiment lists with its own
	// [[models.experts]] (and no models.base) is added to the built-in
	// benchmark's base and experts, instead of replacing them (FW-Merging
	// selects from a pool that may hold irrelevant checkpoints).
	WithBenchmarkPool bool
}

// SizeKind says what one unit of a Size holds in memory.
type SizeKind int

// Size kinds.
const (
	// SizeMembers: searched points with their parents and offspring.
	SizeMembers SizeKind = iota
	// SizeSortedMembers: members that non-dominated sorting compares
	// pairwise (16·n² bytes more).
	SizeSortedMembers
	// SizeChildModels: whole merged models being built and scored.
	SizeChildModels
	// SizeArchivedModels: whole models kept in memory.
	SizeArchivedModels
)

// Size is one population-like setting: its key in the method's table, its
// value and what each unit holds.
type Size struct {
	Key  string
	N    int
	Kind SizeKind
	What string // for SizeChildModels and SizeArchivedModels: what one unit is
}

// Env is what a factory builds a method from, besides its settings.
type Env struct {
	// Space is the searched space (the derived one for methods that
	// derive theirs).
	Space *population.Space
	// Objectives are the run's objectives, expanded ("all" is one per
	// task).
	Objectives []fitness.Objective
	// Seed is the master seed.
	Seed uint64
	// Budget is the run's limits.
	Budget Budget
	// StartPoint resolves a start point (see ParseStartPoint) named at key
	// into a point of Space, in space units.
	StartPoint func(key string, p StartPoint) ([]float64, error)
	// Initial are points, in space units, that a method able to start from
	// given points starts from before its own start points (AdaMerging's
	// learned coefficients for the search that continues from them).
	Initial [][]float64
	// MultiObjective builds the multi-objective method (NSGA-II) that a
	// method searching its own surrogates runs inside (MAP's front), with
	// the given population. The composition root provides it, since
	// search/<algo> packages do not import one another.
	MultiObjective func(population int) (Method, error)
	// Continue builds the named algorithm, with its default settings,
	// starting from x (a point of Space): the search a method hands over
	// to once it has found x (AdaMerging's seed_search). The composition
	// root provides it.
	Continue func(algorithm string, x []float64) (Method, error)
	// Progress, when set, is told of a method's long work of its own
	// (gradient steps): msg for the terminal, attrs (key, value pairs) for
	// the structured log.
	Progress func(msg string, attrs ...any)
}

// Report tells env.Progress, if set.
func (env Env) Report(msg string, attrs ...any) {
	if env.Progress != nil {
		env.Progress(msg, attrs...)
	}
}

// Algorithm is an entry of the search-algorithm registry: its name, what
// `evomerge algorithms` says of it, its settings and its factory.
type Algorithm struct {
	Name    string
	Summary string
	// NewSettings returns empty settings to decode [search.<Name>] into.
	NewSettings func() MethodSettings
	// New builds the method from decoded, defaulted and validated
	// settings. Problems with a setting are SettingErrors.
	New func(s MethodSettings, env Env) (Method, error)
}

// SettingError is a problem with one setting of a method's table found when
// the method is built (e.g. a scalarization weight per objective once the
// objectives are expanded). Key is relative to the table.
type SettingError struct {
	Key string
	Msg string
}

func (e *SettingError) Error() string { return e.Key + ": " + e.Msg }

// SettingErrorf returns a *SettingError.
func SettingErrorf(key, format string, args ...any) error {
	return &SettingError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// StartPoint is a named initial point of a search.
type StartPoint struct {
	// Kind is StartDefaults, StartAverage or StartAdaMerging.
	Kind string
	// Path is the AdaMerging run directory (or its adamerging.json) of
	// StartAdaMerging.
	Path string
}

// Start point kinds.
const (
	// StartDefaults is the operator's default values.
	StartDefaults = "defaults"
	// StartAverage weights every expert equally: plain weight averaging
	// where the operator can express it.
	StartAverage = "average"
	// StartAdaMerging is the coefficients an AdaMerging run learned,
	// written "adamerging:<run directory or its adamerging.json>".
	StartAdaMerging = "adamerging"
)

// StartPointAdaMerging prefixes a start point read from an AdaMerging run.
const StartPointAdaMerging = StartAdaMerging + ":"

// ParseStartPoint reads a start point name: "defaults", "average" or
// "adamerging:<dir>".
func ParseStartPoint(s string) (StartPoint, error) {
	if path, ok := strings.CutPrefix(s, StartPointAdaMerging); ok {
		if strings.TrimSpace(path) == "" {
			return StartPoint{}, fmt.Errorf("%q names no run: write \"adamerging:<run directory>\"", s)
		}
		return StartPoint{Kind: StartAdaMerging, Path: path}, nil
	}
	if s == StartDefaults || s == StartAverage {
		return StartPoint{Kind: s}, nil
	}
	return StartPoint{}, fmt.Errorf("unknown start point %q: use %q, %q or \"%s<run directory>\"", s, StartDefaults, StartAverage, StartPointAdaMerging)
}

// ValidateStartPoints reports every start point of key that does not parse
// or is listed twice.
func ValidateStartPoints(key string, pts []string, report func(key, msg string)) {
	seen := map[string]bool{}
	for i, p := range pts {
		k := fmt.Sprintf("%s[%d]", key, i)
		if _, err := ParseStartPoint(p); err != nil {
			report(k, err.Error())
		}
		if seen[p] {
			report(k, fmt.Sprintf("%q is listed twice", p))
		}
		seen[p] = true
	}
}

// ResolveStartPoints returns the points a method starts from: env.Initial,
// then the start points listed at key, resolved through env.
func ResolveStartPoints(env Env, key string, pts []string) ([][]float64, error) {
	out := slices.Clone(env.Initial)
	for i, s := range pts {
		k := fmt.Sprintf("%s[%d]", key, i)
		p, err := ParseStartPoint(s)
		if err != nil {
			return nil, &SettingError{Key: k, Msg: err.Error()}
		}
		if env.StartPoint == nil {
			return nil, &SettingError{Key: k, Msg: "this run cannot resolve start points"}
		}
		x, err := env.StartPoint(k, p)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// MapStartPointPaths rewrites the run directories of "adamerging:<dir>"
// start points with f.
func MapStartPointPaths(pts []string, f func(string) string) {
	for i, s := range pts {
		if p, err := ParseStartPoint(s); err == nil && p.Kind == StartAdaMerging {
			pts[i] = StartPointAdaMerging + f(p.Path)
		}
	}
}
