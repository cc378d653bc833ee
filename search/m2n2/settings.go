package m2n2

import (
	"math"

	"github.com/evomerge/evomerge/search"
)

// Name is the algorithm's name in search.algorithm.
const Name = "m2n2"

// Values of Settings besides the angles.
const (
	// SeedInitGaussian draws from-scratch seed models from N(0, σ²) per
	// parameter.
	SeedInitGaussian = "gaussian"
	// Storages of the archive's weights: in memory, rebuilt from lineage
	// recipes (with a cache), or on disk.
	StorageRAM     = "ram"
	StorageRebuild = "rebuild"
	StorageDisk    = "disk"
)

// Defaults of Settings besides DefaultArchiveSize, DefaultAlpha and
// DefaultBatchSize: the reference code's.
const (
	DefaultAngle     = AngleGlobal
	DefaultSeeds     = 2
	DefaultSeedInit  = SeedInitGaussian
	DefaultSeedSigma = 0.01
	DefaultStorage   = StorageRAM
	// DefaultSnapshots is the number of archive snapshots a run of
	// max_evaluations records when snapshot_every is absent.
	DefaultSnapshots = 50
)

// Settings is [search.m2n2] of an experiment. Defaults are the reference
// code's.
type Settings struct {
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

// Algorithm is M2N2's registry entry. The method takes the model's
// parameter count from the run's recipe evaluator (search.NeedRecipes), and
// competes on the per-example scores of the objectives' tasks.
var Algorithm = search.Algorithm{
	Name:        Name,
	Summary:     "M2N2 (Abrantes et al. 2025): model merging of natural niches, whole models evolved by resource competition, attraction and split-point SLERP crossover",
	NewSettings: func() search.MethodSettings { return new(Settings) },
	New: func(ms search.MethodSettings, env search.Env) (search.Method, error) {
		s := ms.(*Settings)
		cfg := s.Config(0)
		for _, o := range env.Objectives {
			cfg.Tasks = append(cfg.Tasks, o.Task)
		}
		return New(cfg)
	},
}

// Defaults fills the defaults; snapshot_every's depends on the budget's
// max_evaluations.
func (s *Settings) Defaults(b search.Budget) {
	search.DefaultInt(&s.ArchiveSize, DefaultArchiveSize)
	search.DefaultPtr(&s.Alpha, DefaultAlpha)
	search.DefaultPtr(&s.Attraction, true)
	search.DefaultPtr(&s.SplitPoint, true)
	s.Angle = search.Or(s.Angle, DefaultAngle)
	s.SeedInit = search.Or(s.SeedInit, DefaultSeedInit)
	s.Storage = search.Or(s.Storage, DefaultStorage)
	search.DefaultInt(&s.Seeds, DefaultSeeds)
	search.DefaultFloat(&s.SeedSigma, DefaultSeedSigma)
	search.DefaultInt(&s.BatchSize, DefaultBatchSize)
	search.DefaultInt(&s.SnapshotEvery, max(b.MaxEvaluations/DefaultSnapshots, 1))
}

// Validate reports every problem of defaulted settings.
func (s *Settings) Validate(report func(key, msg string)) {
	c := search.Checker(report)
	if s.ArchiveSize < 2 {
		c.Addf("archive_size", "%d: the archive needs at least 2 members to mate (default 20)", s.ArchiveSize)
	}
	if s.Alpha != nil && (math.IsNaN(*s.Alpha) || math.IsInf(*s.Alpha, 0) || *s.Alpha < 0) {
		c.Addf("alpha", "%v: give a finite α ≥ 0 (1 in M2N2, 0 for the GA ablation)", *s.Alpha)
	}
	c.OneOf("angle", s.Angle, AngleGlobal, AngleSegment)
	c.OneOf("seed_init", s.SeedInit, SeedInitGaussian)
	c.OneOf("storage", s.Storage, StorageRAM, StorageRebuild, StorageDisk)
	c.FiniteIn("mutation_sigma", s.MutationSigma, 0, 10, "no mutation")
	if math.IsNaN(s.SeedSigma) || math.IsInf(s.SeedSigma, 0) || s.SeedSigma <= 0 {
		c.Addf("seed_sigma", "%v: give a positive σ (default 0.01)", s.SeedSigma)
	}
	if s.Seeds < 2 {
		c.Addf("seeds", "%d: M2N2 from scratch needs at least 2 random seed models (default 2)", s.Seeds)
	}
	c.PositiveCount("batch_size", s.BatchSize, "1")
	c.PositiveCount("cache_size", s.CacheSize, "the lineage evaluator's default")
	if s.CacheSize > 0 && s.Storage != StorageRebuild {
		c.Addf("cache_size", `only storage = "rebuild" has a cache: remove cache_size or change storage`)
	}
	c.PositiveCount("snapshot_every", s.SnapshotEvery, "max_evaluations/50")
}

// Traits: M2N2 derives its space (one seed index), merges by its own
// split-point SLERP crossover, needs children built as recipes and scored
// per example, and holds a batch of child models (and, with storage
// "ram", the archive's models) in memory.
func (s *Settings) Traits() search.Traits {
	sizes := []search.Size{{Key: "batch_size", N: s.BatchSize, Kind: search.SizeChildModels, What: "child model being built and scored"}}
	if s.Storage == StorageRAM || s.Storage == "" {
		sizes = append(sizes, search.Size{Key: "archive_size", N: s.ArchiveSize, Kind: search.SizeArchivedModels,
			What: `archived model kept in memory (storage = "ram"; "disk" keeps them on disk)`})
	}
	return search.Traits{
		DerivesSpace:   true,
		Operator:       Operator,
		OperatorReason: `M2N2 merges by split-point SLERP crossover: set operator = "m2n2"`,
		Needs:          []search.Need{search.NeedRecipes},
		Sizes:          sizes,
	}
}

// Config is the method configuration of defaulted settings for a model of
// parameters parameters (Capacity, Tasks, Scores and Observer unset).
func (s *Settings) Config(parameters int64) Config {
	c := DefaultConfig(parameters)
	c.ArchiveSize, c.Angle, c.MutationSigma, c.BatchSize = s.ArchiveSize, s.Angle, s.MutationSigma, s.BatchSize
	if s.Alpha != nil {
		c.Alpha = *s.Alpha
	}
	c.NoAttraction = s.Attraction != nil && !*s.Attraction
	c.NoSplit = s.SplitPoint != nil && !*s.SplitPoint
	return c
}
