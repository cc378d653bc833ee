package configs

import (
	"fmt"
	"math"
	"strings"
)

// Search algorithms beyond the coefficient-vector searches: the two
// gradient-based methods, which run as one optimisation each, and the two
// gradient-free methods of the model-merging papers.
const (
	// AlgorithmAdaMerging learns task-arithmetic coefficients with Adam on
	// the prediction entropy of unlabelled inputs ([search.adamerging]).
	AlgorithmAdaMerging = "adamerging"
	// AlgorithmFW is FW-Merging: Frank-Wolfe over a pool of checkpoints
	// ([search.fw]).
	AlgorithmFW = "fw"
	// AlgorithmM2N2 is model merging of natural niches with recipe genomes
	// ([search.m2n2]).
	AlgorithmM2N2 = "m2n2"
	// AlgorithmMAP is MAP, amortized Pareto fronts from quadratic surrogates
	// ([search.map]).
	AlgorithmMAP = "map"
)

// StartPointAdaMerging prefixes a start point read from an AdaMerging run:
// "adamerging:<run directory or its adamerging.json>".
const StartPointAdaMerging = "adamerging:"

// AdaMergingFile is the file of an AdaMerging run directory that holds the
// learned coefficients and their trajectory.
const AdaMergingFile = "adamerging.json"

// AdaMergingSettings is [search.adamerging]. Defaults are the paper's
// reference code.
type AdaMergingSettings struct {
	// Granularity is "tensor" (one coefficient per task vector and tensor:
	// the paper's layer-wise, default), "task" (task-wise) or "group" (per
	// layer group).
	Granularity string `toml:"granularity,omitempty"`
	// PlusPlus runs AdaMerging++: TIES trimming and sign election of the
	// task vectors first.
	PlusPlus bool `toml:"plus_plus,omitempty"`
	// TIESKeep is the fraction of each task vector kept by ++'s trim
	// (default 0.2).
	TIESKeep float64 `toml:"ties_keep,omitempty"`
	// TIESTrim is "model" (top fraction of the whole task vector, the
	// reference; default) or "tensor".
	TIESTrim string `toml:"ties_trim,omitempty"`
	// Init is the initial coefficient (default 0.3).
	Init *float64 `toml:"init,omitempty"`
	// Lower and Upper clamp the coefficients (default 0 and 1).
	Lower *float64 `toml:"lower,omitempty"`
	Upper *float64 `toml:"upper,omitempty"`
	// Steps is the number of Adam updates (default 500).
	Steps int `toml:"steps,omitempty"`
	// LearningRate is Adam's (default 0.001).
	LearningRate float64 `toml:"learning_rate,omitempty"`
	// BatchSize is the unlabelled inputs per batch (default 16) and Batches
	// the batches per task per step (default 2).
	BatchSize int `toml:"batch_size,omitempty"`
	Batches   int `toml:"batches,omitempty"`
	// Inputs is the split whose unlabelled inputs are adapted on: "test"
	// (the paper: test-time adaptation; default) or "validation".
	Inputs string `toml:"inputs,omitempty"`
	// SeedSearch continues with an evolutionary run over the same
	// coefficients seeded by the learned ones: "" (none), "nsga2" or
	// "cmaes" (default settings; the search budget applies to it).
	SeedSearch string `toml:"seed_search,omitempty"`
}

// FWSettings is [search.fw]. Defaults are the reference code's except where
// the comment says.
type FWSettings struct {
	// Variant is "hard" (default) or "soft".
	Variant string `toml:"variant,omitempty"`
	// Granularity is "layer" (per-tensor LMO, default) or "task".
	Granularity string `toml:"granularity,omitempty"`
	// Iterations is T (default 10).
	Iterations int `toml:"iterations,omitempty"`
	// StepSize is η in γt = η·2/(t+2) (default 0.1).
	StepSize float64 `toml:"step_size,omitempty"`
	// Scale is λ: a hard step moves λ·γt of the way (default 1).
	Scale float64 `toml:"scale,omitempty"`
	// Init is the start θ0 of the search: "base" (default) or
	// "task_arithmetic" (λ = InitLambda over the whole pool).
	Init string `toml:"init,omitempty"`
	// InitLambda is the task-arithmetic start's λ (default 0.3).
	InitLambda float64 `toml:"init_lambda,omitempty"`
	// Alignment is "direction" (cos(g, s − θt), default) or "weights" (the
	// reference's cos(g, s)).
	Alignment string `toml:"alignment,omitempty"`
	// TIESKeep is the fraction of a step kept with merge.operator = "ties"
	// (default 0.3).
	TIESKeep float64 `toml:"ties_keep,omitempty"`
	// Loss is "cross_entropy" on a labelled proxy set of the fitness split
	// (default) or "entropy" on its unlabelled inputs.
	Loss string `toml:"loss,omitempty"`
	// ProxyExamples is the size of the proxy set per task, taken from the
	// start of the fitness split (default 200).
	ProxyExamples int `toml:"proxy_examples,omitempty"`
	// AdaSteps, AdaLearningRate and AdaInit configure the soft variant's
	// inner AdaMerging (defaults 500, 0.001, 1e-8); AdaInputs is the split
	// it adapts on: "test" (default, test-time adaptation) or "validation".
	AdaSteps        int     `toml:"ada_steps,omitempty"`
	AdaLearningRate float64 `toml:"ada_learning_rate,omitempty"`
	AdaInit         float64 `toml:"ada_init,omitempty"`
	AdaInputs       string  `toml:"ada_inputs,omitempty"`
}

// M2N2Settings is [search.m2n2]. Defaults are the reference code's.
type M2N2Settings struct {
	// ArchiveSize is P (default 20).
	ArchiveSize int `toml:"archive_size,omitempty"`
	// Alpha is the competition exponent (default 1; 0 turns competition
	// off, the GA ablation).
	Alpha *float64 `toml:"alpha,omitempty"`
	// Attraction picks the second parent by attraction (default true).
	Attraction *bool `toml:"attraction,omitempty"`
	// SplitPoint uses split-point crossover (default true; false is
	// whole-model SLERP).
	SplitPoint *bool `toml:"split_point,omitempty"`
	// Angle is "global" (one SLERP angle, default) or "segment".
	Angle string `toml:"angle,omitempty"`
	// MutationSigma is σ of the Gaussian mutation of every child parameter
	// (default 0: none; 0.01 from scratch).
	MutationSigma float64 `toml:"mutation_sigma,omitempty"`
	// Seeds is the number of random initial models when the benchmark has
	// no trained models (from scratch; default 2). SeedInit is how they are
	// drawn ("gaussian", N(0, SeedSigma²) per parameter, default σ = 0.01).
	Seeds     int     `toml:"seeds,omitempty"`
	SeedInit  string  `toml:"seed_init,omitempty"`
	SeedSigma float64 `toml:"seed_sigma,omitempty"`
	// BatchSize is the children per round (default 1, steady state).
	BatchSize int `toml:"batch_size,omitempty"`
	// Storage keeps archive weights in "ram" (default), "rebuild" (from
	// lineage recipes, CacheSize weight vectors cached) or "disk".
	Storage   string `toml:"storage,omitempty"`
	CacheSize int    `toml:"cache_size,omitempty"`
	// SnapshotEvery records the archive for the report every this many
	// evaluations (default: max_evaluations/50, at least 1).
	SnapshotEvery int `toml:"snapshot_every,omitempty"`
}

// MAPSettings is [search.map]. Defaults are the paper's.
type MAPSettings struct {
	// Budget is the number of design points (default (N+1)(N+2)).
	Budget int `toml:"budget,omitempty"`
	// OneHots puts each task vector alone into the design (default true).
	OneHots *bool `toml:"one_hots,omitempty"`
	// Schedule turns on Bayesian MAP: Schedule[0] design points, then one
	// adaptive round of Schedule[r] points per further entry.
	Schedule []int `toml:"schedule,omitempty"`
	// Activation is "auto" (sigmoid for maximised, softplus for minimised
	// objectives; default), "sigmoid", "softplus" or "identity".
	Activation string `toml:"activation,omitempty"`
	// Front is "auto" (grid up to 3 coefficients, NSGA-II above; default),
	// "grid" or "nsga2"; GridPoints per axis of the grid (0: 201 for up to
	// 2 coefficients, 41 for 3).
	Front      string `toml:"front,omitempty"`
	GridPoints int    `toml:"grid_points,omitempty"`
	// Preferences are weight vectors, one weight per objective; each picks
	// a front point that is evaluated for real (default: equal weights).
	Preferences [][]float64 `toml:"preferences,omitempty"`
	// Reevaluate is the number of further front points evaluated for real
	// (default 8; negative: none).
	Reevaluate int `toml:"reevaluate,omitempty"`
	// Nested uses nested MAP (a greedy tree of 2-task merges) for many
	// tasks; then Preferences must hold one vector (one weight per task),
	// and PointsPerMerge (default 20) and Isotropic (default 0.2) apply.
	Nested         bool    `toml:"nested,omitempty"`
	PointsPerMerge int     `toml:"points_per_merge,omitempty"`
	Isotropic      float64 `toml:"isotropic,omitempty"`
}

// Singular reports whether the algorithm runs as one optimisation whose
// result is one candidate (AdaMerging without a seeded search, FW-Merging).
func (s Search) Singular() bool {
	seeded := s.AdaMerging.SeedSearch == AlgorithmNSGA2 || s.AdaMerging.SeedSearch == AlgorithmCMAES
	return s.Algorithm == AlgorithmFW || (s.Algorithm == AlgorithmAdaMerging && !seeded)
}

// DerivesSpace reports whether the algorithm builds its own search space,
// so that [[merge.search]] must be absent.
func (s Search) DerivesSpace() bool {
	switch s.Algorithm {
	case AlgorithmAdaMerging, AlgorithmFW, AlgorithmM2N2:
		return true
	}
	return false
}

func oneOf(key, v string, allowed []string, add addFunc) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	add(key, "unknown value %q: use %s", v, quoteJoin(allowed))
}

func quoteJoin(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func positiveInt(key string, v int, def string, add addFunc) {
	if v < 0 {
		add(key, "%d: give a positive count (0 means %s)", v, def)
	}
}

func finiteIn(key string, v, lo, hi float64, def string, add addFunc) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		add(key, "%v: give a number in [%g, %g] (0 means %s)", v, lo, hi, def)
	}
}

func validateAdaMerging(s AdaMergingSettings, add addFunc) {
	const k = "search.adamerging."
	oneOf(k+"granularity", s.Granularity, []string{"task", "tensor", "group"}, add)
	oneOf(k+"ties_trim", s.TIESTrim, []string{"model", "tensor"}, add)
	oneOf(k+"inputs", s.Inputs, []string{"test", "validation"}, add)
	oneOf(k+"seed_search", s.SeedSearch, []string{"", AlgorithmNSGA2, AlgorithmCMAES}, add)
	if math.IsNaN(s.TIESKeep) || s.TIESKeep <= 0 || s.TIESKeep > 1 {
		add(k+"ties_keep", "%v: give a fraction in (0, 1] (default 0.2)", s.TIESKeep)
	}
	if !s.PlusPlus && s.TIESKeep != DefaultAdaTIESKeep {
		add(k+"ties_keep", "only AdaMerging++ trims task vectors: set plus_plus = true or remove ties_keep")
	}
	for _, b := range []struct {
		name string
		v    *float64
	}{{"init", s.Init}, {"lower", s.Lower}, {"upper", s.Upper}} {
		if b.v != nil && (math.IsNaN(*b.v) || math.IsInf(*b.v, 0)) {
			add(k+b.name, "%v is not a finite number", *b.v)
		}
	}
	if s.Lower != nil && s.Upper != nil && !(*s.Lower < *s.Upper) {
		add(k+"lower", "lower %g must be below upper %g", *s.Lower, *s.Upper)
	}
	if s.Init != nil && s.Lower != nil && s.Upper != nil && (*s.Init < *s.Lower || *s.Init > *s.Upper) {
		add(k+"init", "%g lies outside [lower, upper] = [%g, %g]", *s.Init, *s.Lower, *s.Upper)
	}
	positiveInt(k+"steps", s.Steps, "500", add)
	positiveInt(k+"batch_size", s.BatchSize, "16", add)
	positiveInt(k+"batches", s.Batches, "2", add)
	finiteIn(k+"learning_rate", s.LearningRate, 0, 1, "0.001", add)
}

// Defaults of the algorithm tables, filled in by DecodeExperiment.
const (
	DefaultAdaGranularity = "tensor"
	DefaultAdaTIESKeep    = 0.2
	DefaultAdaSteps       = 500
	DefaultAdaLR          = 1e-3
	DefaultAdaBatch       = 16
	DefaultAdaBatches     = 2
	DefaultAdaInit        = 0.3
	DefaultFWIterations   = 10
	DefaultFWStepSize     = 0.1
	DefaultFWInitLambda   = 0.3
	DefaultFWTIESKeep     = 0.3
	DefaultFWProxy        = 200
	DefaultFWAdaInit      = 1e-8
	DefaultM2N2Archive    = 20
	DefaultM2N2Seeds      = 2
	DefaultM2N2SeedSigma  = 0.01
	DefaultMAPReevaluate  = 8
)

func validateFW(s FWSettings, add addFunc) {
	const k = "search.fw."
	oneOf(k+"variant", s.Variant, []string{"hard", "soft"}, add)
	if s.Variant == "soft" {
		if s.Granularity != "" {
			add(k+"granularity", "the soft variant selects whole models per task: remove granularity or use variant = \"hard\"")
		}
	} else {
		oneOf(k+"granularity", s.Granularity, []string{"layer", "task"}, add)
	}
	oneOf(k+"init", s.Init, []string{"base", "task_arithmetic"}, add)
	oneOf(k+"alignment", s.Alignment, []string{"direction", "weights"}, add)
	oneOf(k+"loss", s.Loss, []string{"cross_entropy", "entropy"}, add)
	oneOf(k+"ada_inputs", s.AdaInputs, []string{"test", "validation"}, add)
	positiveInt(k+"iterations", s.Iterations, "10", add)
	positiveInt(k+"proxy_examples", s.ProxyExamples, "200", add)
	positiveInt(k+"ada_steps", s.AdaSteps, "500", add)
	if math.IsNaN(s.StepSize) || s.StepSize <= 0 || s.StepSize > 1 {
		add(k+"step_size", "%v: give η in (0, 1] (default 0.1); γt = η·2/(t+2) must stay a convex step", s.StepSize)
	}
	if math.IsNaN(s.Scale) || s.Scale <= 0 || s.Scale > 1 {
		add(k+"scale", "%v: give λ in (0, 1] (default 1)", s.Scale)
	}
	finiteIn(k+"init_lambda", s.InitLambda, 0, 10, "0.3", add)
	if math.IsNaN(s.TIESKeep) || s.TIESKeep <= 0 || s.TIESKeep > 1 {
		add(k+"ties_keep", "%v: give a fraction in (0, 1] (default 0.3)", s.TIESKeep)
	}
	finiteIn(k+"ada_learning_rate", s.AdaLearningRate, 0, 1, "0.001", add)
	finiteIn(k+"ada_init", s.AdaInit, 0, 1, "1e-8", add)
}

func validateM2N2(s M2N2Settings, add addFunc) {
	const k = "search.m2n2."
	if s.ArchiveSize < 2 {
		add(k+"archive_size", "%d: the archive needs at least 2 members to mate (default 20)", s.ArchiveSize)
	}
	if s.Alpha != nil && (math.IsNaN(*s.Alpha) || math.IsInf(*s.Alpha, 0) || *s.Alpha < 0) {
		add(k+"alpha", "%v: give a finite α ≥ 0 (1 in M2N2, 0 for the GA ablation)", *s.Alpha)
	}
	oneOf(k+"angle", s.Angle, []string{"global", "segment"}, add)
	oneOf(k+"seed_init", s.SeedInit, []string{"gaussian"}, add)
	oneOf(k+"storage", s.Storage, []string{"ram", "rebuild", "disk"}, add)
	finiteIn(k+"mutation_sigma", s.MutationSigma, 0, 10, "no mutation", add)
	if math.IsNaN(s.SeedSigma) || math.IsInf(s.SeedSigma, 0) || s.SeedSigma <= 0 {
		add(k+"seed_sigma", "%v: give a positive σ (default 0.01)", s.SeedSigma)
	}
	if s.Seeds < 2 {
		add(k+"seeds", "%d: M2N2 from scratch needs at least 2 random seed models (default 2)", s.Seeds)
	}
	positiveInt(k+"batch_size", s.BatchSize, "1", add)
	positiveInt(k+"cache_size", s.CacheSize, "the lineage evaluator's default", add)
	if s.CacheSize > 0 && s.Storage != "rebuild" {
		add(k+"cache_size", "only storage = \"rebuild\" has a cache: remove cache_size or change storage")
	}
	positiveInt(k+"snapshot_every", s.SnapshotEvery, "max_evaluations/50", add)
}

func validateMAP(s MAPSettings, objectives int, add addFunc) {
	const k = "search.map."
	positiveInt(k+"budget", s.Budget, "(N+1)(N+2)", add)
	for i, n := range s.Schedule {
		if n < 1 {
			add(fmt.Sprintf("%sschedule[%d]", k, i), "%d: every round needs at least one point", n)
		}
	}
	if len(s.Schedule) > 0 && s.Budget > 0 {
		add(k+"budget", "give either a budget or a schedule (Bayesian MAP), not both")
	}
	oneOf(k+"activation", s.Activation, []string{"auto", "sigmoid", "softplus", "identity"}, add)
	oneOf(k+"front", s.Front, []string{"auto", "grid", "nsga2"}, add)
	if s.GridPoints != 0 && s.GridPoints < 2 {
		add(k+"grid_points", "%d: give at least 2 points per axis (0 means the default)", s.GridPoints)
	}
	for i, p := range s.Preferences {
		key := fmt.Sprintf("%spreferences[%d]", k, i)
		sum, bad := 0.0, false
		for j, w := range p {
			if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
				add(fmt.Sprintf("%s[%d]", key, j), "%v: preference weights must be finite and non-negative", w)
				bad = true
			}
			sum += w
		}
		if !bad && !(sum > 0) {
			add(key, "give at least one positive weight")
		}
		_ = objectives // lengths are checked against the expanded objectives in internal/run
	}
	if s.Nested {
		if len(s.Preferences) > 1 {
			add(k+"preferences", "nested MAP follows one preference vector (one weight per task): list one")
		}
		if len(s.Schedule) > 0 || s.Budget > 0 {
			add(k+"nested", "nested MAP sizes each merge with points_per_merge: remove budget and schedule")
		}
	} else {
		if s.PointsPerMerge != 0 {
			add(k+"points_per_merge", "only nested MAP uses points_per_merge: set nested = true or remove it")
		}
		if s.Isotropic != 0 {
			add(k+"isotropic", "only nested MAP uses isotropic: set nested = true or remove it")
		}
	}
	if s.PointsPerMerge != 0 && s.PointsPerMerge < 6 {
		add(k+"points_per_merge", "%d: a 2-coefficient quadratic has 6 unknowns; give at least 6 (default 20)", s.PointsPerMerge)
	}
	if math.IsNaN(s.Isotropic) || s.Isotropic < 0 || s.Isotropic > 1 {
		add(k+"isotropic", "%v: give a fraction in [0, 1] (default 0.2)", s.Isotropic)
	}
}

// applyAlgorithmDefaults fills the documented defaults of the chosen
// algorithm's table, so config.toml states them.
func (e *Experiment) applyAlgorithmDefaults() {
	f := func(v float64) *float64 { return &v }
	b := func(v bool) *bool { return &v }
	fi := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	ff := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	switch s := &e.Search; s.Algorithm {
	case AlgorithmRandom:
		fi(&s.Random.BatchSize, DefaultRandomBatch)
		s.Random.Sampling = orDefault(s.Random.Sampling, "uniform")
	case AlgorithmNSGA2:
		n := &s.NSGA2
		fi(&n.PopulationSize, DefaultNSGA2Population)
		if n.CrossoverProb == nil {
			n.CrossoverProb = f(DefaultNSGA2CrossoverProb)
		}
		ff(&n.CrossoverEta, DefaultNSGA2Eta)
		ff(&n.MutationEta, DefaultNSGA2Eta)
	case AlgorithmGA:
		g := &s.GA
		fi(&g.PopulationSize, DefaultGAPopulation)
		fi(&g.Tournament, DefaultGATournament)
		if g.CrossoverRate == nil {
			g.CrossoverRate = f(DefaultGACrossoverRate)
		}
		if g.BlendAlpha == nil {
			g.BlendAlpha = f(DefaultGABlendAlpha)
		}
		if g.MutationRate == nil {
			g.MutationRate = f(DefaultGAMutationRate)
		}
		ff(&g.MutationSigma, DefaultGAMutationSigma)
		if g.Elite == nil {
			one := DefaultGAElite
			g.Elite = &one
		}
		g.Scalarization.Method = orDefault(g.Scalarization.Method, "weighted-sum")
	case AlgorithmCMAES:
		c := &s.CMAES
		ff(&c.StepSize, DefaultCMAESStepSize)
		c.Covariance = orDefault(c.Covariance, "auto")
		c.Scalarization.Method = orDefault(c.Scalarization.Method, "weighted-sum")
	case AlgorithmAdaMerging:
		a := &s.AdaMerging
		a.Granularity = orDefault(a.Granularity, DefaultAdaGranularity)
		a.TIESTrim = orDefault(a.TIESTrim, "model")
		a.Inputs = orDefault(a.Inputs, "test")
		if a.TIESKeep == 0 {
			a.TIESKeep = DefaultAdaTIESKeep
		}
		if a.Init == nil {
			a.Init = f(DefaultAdaInit)
		}
		if a.Lower == nil {
			a.Lower = f(0)
		}
		if a.Upper == nil {
			a.Upper = f(1)
		}
		if a.Steps == 0 {
			a.Steps = DefaultAdaSteps
		}
		if a.LearningRate == 0 {
			a.LearningRate = DefaultAdaLR
		}
		if a.BatchSize == 0 {
			a.BatchSize = DefaultAdaBatch
		}
		if a.Batches == 0 {
			a.Batches = DefaultAdaBatches
		}
	case AlgorithmFW:
		w := &s.FW
		w.Variant = orDefault(w.Variant, "hard")
		if w.Variant == "hard" {
			w.Granularity = orDefault(w.Granularity, "layer")
		}
		w.Init = orDefault(w.Init, "base")
		w.Alignment = orDefault(w.Alignment, "direction")
		w.Loss = orDefault(w.Loss, "cross_entropy")
		w.AdaInputs = orDefault(w.AdaInputs, "test")
		if w.Iterations == 0 {
			w.Iterations = DefaultFWIterations
		}
		if w.StepSize == 0 {
			w.StepSize = DefaultFWStepSize
		}
		if w.Scale == 0 {
			w.Scale = 1
		}
		if w.InitLambda == 0 {
			w.InitLambda = DefaultFWInitLambda
		}
		if w.TIESKeep == 0 {
			w.TIESKeep = DefaultFWTIESKeep
		}
		if w.ProxyExamples == 0 {
			w.ProxyExamples = DefaultFWProxy
		}
		if w.AdaSteps == 0 {
			w.AdaSteps = DefaultAdaSteps
		}
		if w.AdaLearningRate == 0 {
			w.AdaLearningRate = DefaultAdaLR
		}
		if w.AdaInit == 0 {
			w.AdaInit = DefaultFWAdaInit
		}
	case AlgorithmM2N2:
		m := &s.M2N2
		if m.ArchiveSize == 0 {
			m.ArchiveSize = DefaultM2N2Archive
		}
		if m.Alpha == nil {
			m.Alpha = f(1)
		}
		if m.Attraction == nil {
			m.Attraction = b(true)
		}
		if m.SplitPoint == nil {
			m.SplitPoint = b(true)
		}
		m.Angle = orDefault(m.Angle, "global")
		m.SeedInit = orDefault(m.SeedInit, "gaussian")
		m.Storage = orDefault(m.Storage, "ram")
		if m.Seeds == 0 {
			m.Seeds = DefaultM2N2Seeds
		}
		if m.SeedSigma == 0 {
			m.SeedSigma = DefaultM2N2SeedSigma
		}
		if m.BatchSize == 0 {
			m.BatchSize = 1
		}
		if m.SnapshotEvery == 0 {
			m.SnapshotEvery = max(s.MaxEvaluations/50, 1)
		}
	case AlgorithmMAP:
		m := &s.MAP
		if len(m.Schedule) == 0 {
			m.Schedule = nil // `schedule = []` means none
		}
		if len(m.Preferences) == 0 {
			m.Preferences = nil
		}
		if m.OneHots == nil {
			m.OneHots = b(true)
		}
		m.Activation = orDefault(m.Activation, "auto")
		m.Front = orDefault(m.Front, "auto")
		if m.Reevaluate == 0 && !m.Nested {
			m.Reevaluate = DefaultMAPReevaluate
		}
	}
}

// Defaults of the classic search methods, filled into the resolved
// configuration so it shows the values a run uses. Settings whose default
// depends on the search space (NSGA-II's mutation_prob and the GA's
// gene_mutation_prob, 1/n; CMA-ES's population_size) stay absent (0 for
// population_size) and are computed when the run starts.
const (
	DefaultRandomBatch        = 16
	DefaultNSGA2Population    = 100
	DefaultNSGA2CrossoverProb = 0.9
	DefaultNSGA2Eta           = 20.0
	DefaultGAPopulation       = 40
	DefaultGATournament       = 3
	DefaultGACrossoverRate    = 0.8
	DefaultGABlendAlpha       = 0.5
	DefaultGAMutationRate     = 0.3
	DefaultGAMutationSigma    = 0.1
	DefaultGAElite            = 1
	DefaultCMAESStepSize      = 0.3
)

// ResolvedFormat is the Format evomerge writes into a run directory's
// config.toml.
const ResolvedFormat = 2

// UpgradeResolved reads a run directory's config.toml written before
// ResolvedFormat 2 as it was meant: there a 0 of the settings whose zero
// now means "off" (NSGA-II's crossover_prob and mutation_prob; the GA's
// crossover_rate, blend_alpha, mutation_rate, gene_mutation_prob and elite)
// stood for the default, so it becomes absent and the default applies, as
// it did when the run started. Newer files are left as they are.
func (e *Experiment) UpgradeResolved() {
	if e.Format >= ResolvedFormat {
		return
	}
	zeroF := func(p **float64) {
		if *p != nil && **p == 0 {
			*p = nil
		}
	}
	zeroF(&e.Search.NSGA2.CrossoverProb)
	zeroF(&e.Search.NSGA2.MutationProb)
	zeroF(&e.Search.GA.CrossoverRate)
	zeroF(&e.Search.GA.BlendAlpha)
	zeroF(&e.Search.GA.MutationRate)
	zeroF(&e.Search.GA.GeneMutationProb)
	if e.Search.GA.Elite != nil && *e.Search.GA.Elite == 0 {
		e.Search.GA.Elite = nil
	}
	e.applyAlgorithmDefaults()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// MapStartPointPaths rewrites the paths of "adamerging:<path>" start points
// of the nsga2, ga and cmaes tables with f (e.g. to make them absolute).
func (e *Experiment) MapStartPointPaths(f func(string) string) {
	for _, pts := range [][]string{e.Search.NSGA2.StartPoints, e.Search.GA.StartPoints, e.Search.CMAES.StartPoints} {
		for i, p := range pts {
			if path, ok := strings.CutPrefix(p, StartPointAdaMerging); ok && strings.TrimSpace(path) != "" {
				pts[i] = StartPointAdaMerging + f(path)
			}
		}
	}
}
