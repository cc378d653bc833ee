package m2n2

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Names used in genomes and lineage.
const (
	// Operator is the recipe operator of every child: the operators package's
	// M2N2 split-point crossover.
	Operator = "m2n2"
	// SeedOperator is the lineage operator of the seeds.
	SeedOperator = "seed"
	// SeedDim is the single dimension of SeedSpace.
	SeedDim = "seed"
	// Recipe parameters.
	ParamSplit   = "split"
	ParamRatio   = "ratio"
	ParamSegment = "segment"
	ParamSigma   = "sigma"
	ParamNoise   = "noise"
	// Angle scopes of Config.Angle.
	AngleGlobal  = "global"
	AngleSegment = "segment"
)

// Defaults of the reference code, used by DefaultConfig, New and Settings.
const (
	// DefaultArchiveSize is P.
	DefaultArchiveSize = 20
	// DefaultAlpha is the competition exponent of M2N2 (0 is the GA
	// ablation).
	DefaultAlpha = 1.0
	// DefaultBatchSize is one child per round: the steady-state loop.
	DefaultBatchSize = 1
)

// maxParameters keeps split indexes exact in a float64 recipe parameter.
const maxParameters = 1 << 53

// SeedSpace returns the search space of an M2N2 problem with n seed models:
// one integer dimension "seed" over [0, n−1].
func SeedSpace(n int) (*population.Space, error) {
	if n < 2 {
		return nil, fmt.Errorf("m2n2: %d seed models: crossover needs at least two", n)
	}
	return population.NewSpace([]population.Dim{{Name: SeedDim, Kind: population.KindInt, Lower: 0, Upper: float64(n - 1)}})
}

// Scorer returns a candidate's per-example scores in [0, 1] on the fixed
// fitness examples.
type Scorer func(c *population.Candidate) ([]float64, error)

// UnitScorer maps continuous per-example scores (reward, BLEU, loss) read by
// raw into [0, 1] with fitness.UnitScoresTo over [lo, hi] in direction dir.
func UnitScorer(raw func(*population.Candidate) ([]float64, error), lo, hi float64, dir fitness.Direction) (Scorer, error) {
	if raw == nil {
		return nil, errors.New("m2n2: UnitScorer needs a function reading the raw per-example scores")
	}
	if _, err := fitness.UnitScoresTo(nil, nil, lo, hi, dir); err != nil {
		return nil, fmt.Errorf("m2n2: %w", err)
	}
	return func(c *population.Candidate) ([]float64, error) {
		v, err := raw(c)
		if err != nil {
			return nil, err
		}
		return fitness.UnitScoresTo(nil, v, lo, hi, dir)
	}, nil
}

// Observer is told the archive's candidate ids (in slot order) after every
// Tell. An evaluator that keeps parents' weights implements it to release
// the others.
type Observer interface {
	ArchiveChanged(ids []string)
}

// Config are M2N2's settings. DefaultConfig gives the reference defaults; the
// zero value of Alpha is the GA ablation, not the default.
type Config struct {
	// ArchiveSize is P (default 20 when 0).
	ArchiveSize int
	// Alpha is the competition exponent α ≥ 0: 1 in M2N2, 0 for the GA
	// ablation (raw scores as fitness).
	Alpha float64
	// Capacity holds c_j per fitness example; nil means 1 everywhere.
	Capacity []float64
	// NoAttraction draws the second parent like the first (ablation).
	NoAttraction bool
	// NoSplit uses whole-model SLERP with t = w (ablation).
	NoSplit bool
	// Angle is AngleGlobal (default, the reference code) or AngleSegment.
	Angle string
	// MutationSigma is σ of the Gaussian mutation added to every parameter
	// of a child: 0.01 from scratch, 0 (none) from pre-trained seeds.
	MutationSigma float64
	// Parameters is D, the length of the flattened model; 0 takes it (and
	// the Observer, when nil) from the problem's recipe evaluator
	// (search.Problem.Recipes), which the method then needs.
	Parameters int64
	// BatchSize is the number of children proposed per Ask from the same
	// archive (default 1: the steady-state loop of the reference code).
	BatchSize int
	// Tasks selects the Correct bitsets whose bits are the fitness examples,
	// in this order; empty means every task the evaluator reports, in its
	// order. Ignored when Scores is set.
	Tasks []string
	// Scores, when set, reads continuous per-example scores in [0, 1]
	// instead of the Correct bitsets.
	Scores Scorer
	// Observer is told the archive after every Tell; nil for none.
	Observer Observer
}

// DefaultConfig returns the reference code's settings for a model of
// parameters parameters evolved from pre-trained seeds (no mutation); set
// MutationSigma = 0.01 for from-scratch runs.
func DefaultConfig(parameters int64) Config {
	return Config{ArchiveSize: DefaultArchiveSize, Alpha: DefaultAlpha, Angle: AngleGlobal, Parameters: parameters, BatchSize: DefaultBatchSize}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.ArchiveSize < 0 || c.ArchiveSize == 1 {
		errs = append(errs, fmt.Errorf("m2n2: archive size %d: give at least 2 (0 means %d)", c.ArchiveSize, DefaultArchiveSize))
	}
	comp := fitness.Competition{Alpha: c.Alpha}
	if err := comp.Validate(0); err != nil {
		errs = append(errs, fmt.Errorf("m2n2: %w", err))
	}
	for j, v := range c.Capacity {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			errs = append(errs, fmt.Errorf("m2n2: capacity of fitness example %d is %v: capacities must be finite and >= 0", j, v))
			break
		}
	}
	switch c.Angle {
	case "", AngleGlobal, AngleSegment:
	default:
		errs = append(errs, fmt.Errorf("m2n2: angle %q: use %q (one SLERP angle over the model) or %q (one per segment)", c.Angle, AngleGlobal, AngleSegment))
	}
	if math.IsNaN(c.MutationSigma) || math.IsInf(c.MutationSigma, 0) || c.MutationSigma < 0 {
		errs = append(errs, fmt.Errorf("m2n2: mutation sigma %v: give a finite value >= 0 (0.01 from scratch, 0 from pre-trained models)", c.MutationSigma))
	}
	if c.Parameters < 0 || c.Parameters > maxParameters {
		errs = append(errs, fmt.Errorf("m2n2: parameters (D, the flattened model length) is %d: give the model's parameter count (1..2^53)", c.Parameters))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("m2n2: batch size %d: give a positive count (0 means 1)", c.BatchSize))
	}
	return errors.Join(errs...)
}

// Member is one archive slot.
type Member struct {
	Candidate *population.Candidate
	// Scores are the per-example scores in [0, 1] (shared with the method:
	// do not modify).
	Scores []float64
	// Fitness is F_i under competition with the rest of the archive.
	Fitness float64
}

// Stats count what happened to children.
type Stats struct {
	// Children counts told children, failed ones included.
	Children int
	// Accepted counts children that entered the archive.
	Accepted int
	// Failed counts children whose evaluation failed.
	Failed int
}

// Method is M2N2 behind search's ask/tell protocol.
type Method struct {
	cfg  Config
	comp fitness.Competition
	r    *rand.Rand
	// fromProblem: the parameter count (and observerFromProblem: the
	// observer) come from the problem's recipe evaluator at Init.
	fromProblem, observerFromProblem bool

	seeds     int
	seeded    bool
	archive   []member
	examples  int // -1 until the first scored candidate
	pending   []*population.Candidate
	stats     Stats
	rows      [][]float64
	fit, prob []float64
	attr      []float64
}

type member struct {
	cand   *population.Candidate
	scores []float64
}

var _ search.Method = (*Method)(nil)

// New returns the method; the configuration is checked now.
func New(cfg Config) (*Method, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ArchiveSize == 0 {
		cfg.ArchiveSize = DefaultArchiveSize
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Angle == "" {
		cfg.Angle = AngleGlobal
	}
	cfg.Capacity = slices.Clone(cfg.Capacity)
	cfg.Tasks = slices.Clone(cfg.Tasks)
	fromProblem := cfg.Parameters == 0
	return &Method{cfg: cfg, fromProblem: fromProblem, observerFromProblem: fromProblem && cfg.Observer == nil}, nil
}

// Config returns the method's settings with defaults filled in.
func (m *Method) Config() Config { return m.cfg }

// Needs states that a method without a parameter count takes it from the
// problem's recipe evaluator.
func (m *Method) Needs() []search.Need {
	if m.fromProblem {
		return []search.Need{search.NeedRecipes}
	}
	return nil
}

// Init implements search.Method. The space must be SeedSpace(n).
func (m *Method) Init(p search.Problem) error {
	if m.fromProblem {
		if p.Recipes == nil {
			return errors.New("m2n2: the problem has no recipe evaluator to take the model's parameter count from")
		}
		m.cfg.Parameters = p.Recipes.Parameters()
		if m.cfg.Parameters < 1 || m.cfg.Parameters > maxParameters {
			return fmt.Errorf("m2n2: the recipe evaluator's model has %d parameters: want 1..2^53", m.cfg.Parameters)
		}
		if m.observerFromProblem {
			m.cfg.Observer = p.Recipes
		}
	}
	if p.Space == nil || p.Space.Len() != 1 || p.Space.Dim(0).Name != SeedDim || p.Space.Dim(0).Kind != population.KindInt || p.Space.Dim(0).Lower != 0 {
		return errors.New("m2n2: the problem's space must be m2n2.SeedSpace(n): one integer dimension \"seed\" numbering the seed models from 0")
	}
	m.seeds = int(p.Space.Dim(0).Upper) + 1
	m.comp = fitness.Competition{Alpha: m.cfg.Alpha, Capacity: m.cfg.Capacity}
	m.r = rng.New(p.Seed, "search/m2n2")
	m.seeded = false
	m.archive = m.archive[:0]
	m.examples = -1
	m.pending = nil
	m.stats = Stats{}
	return nil
}

// Ask implements search.Method: the seeds first, then BatchSize children.
func (m *Method) Ask() ([]*population.Candidate, error) {
	if m.r == nil {
		return nil, errors.New("m2n2: Ask before Init")
	}
	if !m.seeded {
		batch := make([]*population.Candidate, m.seeds)
		for i := range batch {
			batch[i] = &population.Candidate{
				Genome:  population.VectorGenome([]float64{float64(i)}),
				Lineage: population.Lineage{Operator: SeedOperator},
			}
		}
		m.pending = batch
		return batch, nil
	}
	if len(m.archive) < 2 {
		return nil, fmt.Errorf("m2n2: the archive holds %d scored model(s) after the seeds; crossover needs two: check why the seeds failed", len(m.archive))
	}
	if err := m.fitness(); err != nil {
		return nil, err
	}
	batch := make([]*population.Candidate, m.cfg.BatchSize)
	for k := range batch {
		a, b, err := m.selectParents()
		if err != nil {
			return nil, err
		}
		batch[k] = m.child(a, b)
	}
	m.pending = batch
	return batch, nil
}

// fitness fills m.fit and the first parent's probabilities m.prob.
func (m *Method) fitness() error {
	m.rows = m.rows[:0]
	for i := range m.archive {
		m.rows = append(m.rows, m.archive[i].scores)
	}
	var err error
	m.fit = slices.Grow(m.fit[:0], len(m.rows))[:len(m.rows)]
	if m.fit, err = m.comp.FitnessTo(m.fit, m.rows); err != nil {
		return fmt.Errorf("m2n2: %w", err)
	}
	m.prob = slices.Grow(m.prob[:0], len(m.rows))[:len(m.rows)]
	if m.prob, err = fitness.SelectionProbabilitiesTo(m.prob, m.fit); err != nil {
		return fmt.Errorf("m2n2: %w", err)
	}
	return nil
}

// selectParents draws A by fitness and B by attraction (or like A). Two
// uniforms are drawn per child whatever the mode.
func (m *Method) selectParents() (a, b int, err error) {
	uA, uB := m.r.Float64(), m.r.Float64()
	a = fitness.SampleIndex(m.prob, uA)
	if m.cfg.NoAttraction {
		return a, fitness.SampleIndex(m.prob, uB), nil
	}
	m.attr = slices.Grow(m.attr[:0], len(m.rows))[:len(m.rows)]
	if m.attr, err = m.comp.AttractionTo(m.attr, m.rows, a); err != nil {
		return 0, 0, fmt.Errorf("m2n2: %w", err)
	}
	sum := 0.0
	for _, g := range m.attr {
		sum += g
	}
	if sum == 0 {
		// No member is better than A anywhere: uniform over the others.
		b = min(int(uB*float64(len(m.rows)-1)), len(m.rows)-2)
		if b >= a {
			b++
		}
		return a, b, nil
	}
	for k := range m.attr {
		m.attr[k] /= sum
	}
	return a, fitness.SampleIndex(m.attr, uB), nil
}

// child draws the crossover and mutation parameters (always k, w, noise, in
// this order) and builds the recipe.
func (m *Method) child(a, b int) *population.Candidate {
	split := m.r.Int64N(m.cfg.Parameters)
	ratio := m.r.Float64()
	noise := m.r.Uint64() >> 11 // exact in a float64
	if m.cfg.NoSplit {
		split = m.cfg.Parameters
	}
	params := map[string]float64{ParamSplit: float64(split), ParamRatio: ratio}
	if m.cfg.Angle == AngleSegment {
		params[ParamSegment] = 1
	}
	if m.cfg.MutationSigma > 0 {
		params[ParamSigma] = m.cfg.MutationSigma
		params[ParamNoise] = float64(noise)
	}
	parents := []string{m.archive[a].cand.ID, m.archive[b].cand.ID}
	return &population.Candidate{
		Genome:  population.Genome{Recipe: &population.Recipe{Operator: Operator, Parents: parents, Params: params}},
		Lineage: population.Lineage{Parents: slices.Clone(parents), Operator: Operator},
	}
}

// Tell implements search.Method: seeds enter the archive, children compete
// for a place in it, in batch order.
func (m *Method) Tell(batch []*population.Candidate) error {
	if len(batch) != len(m.pending) {
		return fmt.Errorf("m2n2: told %d candidates, asked %d: tell the whole last batch", len(batch), len(m.pending))
	}
	for i, c := range batch {
		if c != m.pending[i] {
			return fmt.Errorf("m2n2: candidate %d of the told batch is not the one asked: tell the last batch in order", i)
		}
	}
	seeds := !m.seeded
	for _, c := range batch {
		if !seeds {
			m.stats.Children++
		}
		if !c.OK() {
			if !seeds {
				m.stats.Failed++
			}
			continue
		}
		row, err := m.scoresOf(c)
		if err != nil {
			return err
		}
		entered, err := m.insert(c, row)
		if err != nil {
			return err
		}
		if entered && !seeds {
			m.stats.Accepted++
		}
	}
	m.seeded = true
	m.pending = nil
	if m.cfg.Observer != nil {
		m.cfg.Observer.ArchiveChanged(m.IDs())
	}
	return nil
}

// scoresOf returns the candidate's per-example scores.
func (m *Method) scoresOf(c *population.Candidate) ([]float64, error) {
	var row []float64
	if m.cfg.Scores != nil {
		v, err := m.cfg.Scores(c)
		if err != nil {
			return nil, fmt.Errorf("m2n2: candidate %s: per-example scores: %w", short(c.ID), err)
		}
		for j, s := range v {
			if !(s >= 0 && s <= 1) {
				return nil, fmt.Errorf("m2n2: candidate %s: score of example %d is %v: per-example scores must lie in [0, 1] (map them with m2n2.UnitScorer)", short(c.ID), j, s)
			}
		}
		row = slices.Clone(v)
	} else {
		var err error
		if row, err = correctness(c, m.cfg.Tasks); err != nil {
			return nil, err
		}
	}
	if m.examples < 0 {
		if len(row) == 0 {
			return nil, fmt.Errorf("m2n2: candidate %s has no fitness examples", short(c.ID))
		}
		m.examples = len(row)
		if m.cfg.Capacity != nil && len(m.cfg.Capacity) != len(row) {
			return nil, fmt.Errorf("m2n2: %d capacities for %d fitness examples: give one per example", len(m.cfg.Capacity), len(row))
		}
	}
	if len(row) != m.examples {
		return nil, fmt.Errorf("m2n2: candidate %s was scored on %d examples, the archive on %d: every model must be scored on the same fixed examples", short(c.ID), len(row), m.examples)
	}
	return row, nil
}

// correctness concatenates the Correct bitsets of tasks (all when empty) as
// 0/1 scores.
func correctness(c *population.Candidate, tasks []string) ([]float64, error) {
	if len(c.Correct) == 0 {
		return nil, fmt.Errorf("m2n2: candidate %s has no per-example correctness: use an evaluator that fills Correct (native, lineage) or give Config.Scores", short(c.ID))
	}
	var sets []population.Bitset
	if len(tasks) == 0 {
		for _, tc := range c.Correct {
			sets = append(sets, tc.Bits)
		}
	} else {
		for _, name := range tasks {
			i := slices.IndexFunc(c.Correct, func(tc population.TaskCorrectness) bool { return tc.Task == name })
			if i < 0 {
				have := make([]string, len(c.Correct))
				for k, tc := range c.Correct {
					have[k] = tc.Task
				}
				return nil, fmt.Errorf("m2n2: candidate %s has no correctness for task %q (it has %v): fix m2n2 tasks", short(c.ID), name, have)
			}
			sets = append(sets, c.Correct[i].Bits)
		}
	}
	n := 0
	for _, b := range sets {
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("m2n2: candidate %s: %w", short(c.ID), err)
		}
		n += b.Len()
	}
	row := make([]float64, 0, n)
	for _, b := range sets {
		for j := range b.Len() {
			if b.Words[j>>6]&(1<<(uint(j)&63)) != 0 {
				row = append(row, 1)
			} else {
				row = append(row, 0)
			}
		}
	}
	return row, nil
}

// insert applies the replacement rule and reports whether c entered.
func (m *Method) insert(c *population.Candidate, row []float64) (bool, error) {
	if len(m.archive) < m.cfg.ArchiveSize {
		m.archive = append(m.archive, member{cand: c, scores: row})
		return true, nil
	}
	m.rows = m.rows[:0]
	for i := range m.archive {
		m.rows = append(m.rows, m.archive[i].scores)
	}
	m.rows = append(m.rows, row)
	w, err := m.comp.Worst(m.rows)
	if err != nil {
		return false, fmt.Errorf("m2n2: %w", err)
	}
	if w == len(m.archive) {
		return false, nil
	}
	m.archive[w] = member{cand: c, scores: row}
	return true, nil
}

// IDs returns the archive's candidate ids in slot order.
func (m *Method) IDs() []string {
	ids := make([]string, len(m.archive))
	for i, a := range m.archive {
		ids[i] = a.cand.ID
	}
	return ids
}

// Archive returns the archive in slot order with every member's fitness.
func (m *Method) Archive() ([]Member, error) {
	if len(m.archive) == 0 {
		return nil, nil
	}
	rows := make([][]float64, len(m.archive))
	for i := range m.archive {
		rows[i] = m.archive[i].scores
	}
	comp := fitness.Competition{Alpha: m.cfg.Alpha, Capacity: m.cfg.Capacity}
	fit, err := comp.FitnessTo(nil, rows)
	if err != nil {
		return nil, fmt.Errorf("m2n2: %w", err)
	}
	out := make([]Member, len(m.archive))
	for i, a := range m.archive {
		out[i] = Member{Candidate: a.cand, Scores: a.scores, Fitness: fit[i]}
	}
	return out, nil
}

// Best returns the archive member with the highest mean per-example score
// (the lowest slot among ties), as the reference code reports; nil when the
// archive is empty.
func (m *Method) Best() *population.Candidate {
	best, bestMean := -1, math.Inf(-1)
	for i, a := range m.archive {
		sum := 0.0
		for _, s := range a.scores {
			sum += s
		}
		if mean := sum / float64(len(a.scores)); mean > bestMean {
			best, bestMean = i, mean
		}
	}
	if best < 0 {
		return nil
	}
	return m.archive[best].cand
}

// Coverage is the fraction of fitness examples that at least one archive
// member solves (score > 0); 0 when the archive is empty.
func (m *Method) Coverage() float64 {
	if len(m.archive) == 0 || m.examples <= 0 {
		return 0
	}
	covered := 0
	for j := range m.examples {
		for _, a := range m.archive {
			if a.scores[j] > 0 {
				covered++
				break
			}
		}
	}
	return float64(covered) / float64(m.examples)
}

// Stats returns the counts of told children.
func (m *Method) Stats() Stats { return m.stats }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
