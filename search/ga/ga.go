package ga

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sort"

	"github.com/MaxHalford/eaopt"

	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Operator names in candidate lineages.
const (
	OpSample = "sample"
	OpBreed  = "blx+gauss"
)

// Options configure the GA. The zero value gives the defaults below.
type Options struct {
	// PopulationSize is eaopt's PopSize; 0 means 40. At least 4.
	PopulationSize int
	// Tournament is the number of contestants of eaopt's SelTournament;
	// 0 means 3. At most PopulationSize-1.
	Tournament int
	// CrossoverRate is the probability that a selected pair is recombined
	// (eaopt's CrossRate); 0 means 0.8, negative means never.
	CrossoverRate float64
	// BlendAlpha is α of the blend crossover BLX-α: each gene of the child
	// is drawn uniformly from the parents' interval widened by α times its
	// length on both sides; 0 means 0.5, negative means 0.
	BlendAlpha float64
	// MutationRate is the probability that an offspring is mutated
	// (eaopt's MutRate); 0 means 0.3, negative means never.
	MutationRate float64
	// MutationSigma is the standard deviation of the Gaussian mutation in
	// unit-cube coordinates (absolute, so genes at 0 move too); 0 means 0.1.
	MutationSigma float64
	// GeneMutationProb is the probability that each gene of a mutated
	// offspring is perturbed; 0 means 1/n for n dimensions, negative means
	// none beyond the one gene that is always perturbed.
	GeneMutationProb float64
	// Elite is the number of best individuals copied unchanged into the
	// next generation, replacing its worst; 0 means 1, negative means none.
	Elite int
	// Scalarization turns the scores into the cost eaopt minimises.
	Scalarization search.Scalarization
	// Initial lists points (in space units) that start the first
	// population; the rest is sampled uniformly.
	Initial [][]float64
}

func (o Options) withDefaults() Options {
	def := func(v *float64, d float64) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	if o.PopulationSize == 0 {
		o.PopulationSize = DefaultPopulation
	}
	if o.Tournament == 0 {
		o.Tournament = DefaultTournament
	}
	def(&o.CrossoverRate, DefaultCrossoverRate)
	def(&o.BlendAlpha, DefaultBlendAlpha)
	def(&o.MutationRate, DefaultMutationRate)
	if o.MutationSigma == 0 {
		o.MutationSigma = DefaultMutationSigma
	}
	switch {
	case o.Elite == 0:
		o.Elite = DefaultElite
	case o.Elite < 0:
		o.Elite = 0
	}
	return o
}

// Validate checks the options.
func (o Options) Validate() error {
	var errs []error
	d := o.withDefaults()
	if d.PopulationSize < 4 {
		errs = append(errs, fmt.Errorf("ga: population size %d is too small: use at least 4", o.PopulationSize))
	}
	if d.Tournament < 1 || d.Tournament >= d.PopulationSize {
		errs = append(errs, fmt.Errorf("ga: tournament size %d must be between 1 and the population size minus 1 (%d)", d.Tournament, d.PopulationSize-1))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"crossover rate", d.CrossoverRate}, {"mutation rate", d.MutationRate}, {"gene mutation probability", max(d.GeneMutationProb, 0)}} {
		if math.IsNaN(p.v) || p.v > 1 || p.v < 0 {
			errs = append(errs, fmt.Errorf("ga: %s %v must be in [0, 1]", p.name, p.v))
		}
	}
	if d.CrossoverRate == 0 && d.MutationRate == 0 {
		errs = append(errs, errors.New("ga: crossover and mutation are both off: nothing would ever change"))
	}
	if !(d.MutationSigma > 0) || math.IsInf(d.MutationSigma, 0) {
		errs = append(errs, fmt.Errorf("ga: mutation sigma %v must be a positive number", o.MutationSigma))
	}
	if math.IsNaN(d.BlendAlpha) || math.IsInf(d.BlendAlpha, 0) {
		errs = append(errs, fmt.Errorf("ga: blend alpha %v must be finite", o.BlendAlpha))
	}
	if d.Elite >= d.PopulationSize {
		errs = append(errs, fmt.Errorf("ga: elite %d must be below the population size %d", d.Elite, d.PopulationSize))
	}
	if len(o.Initial) > d.PopulationSize {
		errs = append(errs, fmt.Errorf("ga: %d initial points for a population of %d", len(o.Initial), d.PopulationSize))
	}
	return errors.Join(errs...)
}

// errAborted ends eaopt's loop when the run is over.
var errAborted = errors.New("ga: run ended")

// genome is our eaopt.Genome: a unit-cube point and the cost the search was
// told for it. Evaluate never computes anything: it returns the told cost,
// and errors if there is none (a genome changed since it was told), so a
// stale cached fitness cannot go unnoticed.
type genome struct {
	unit  []float64
	cost  float64
	known bool
	cand  *population.Candidate
	cfg   *Options
}

var _ eaopt.Genome = (*genome)(nil)

var errUntold = errors.New("ga: genome evaluated before its cost was told (an engine invariant was broken)")

func (g *genome) Evaluate() (float64, error) {
	if !g.known {
		return 0, errUntold
	}
	return g.cost, nil
}

// Mutate adds N(0, σ²) to each gene with the gene mutation probability (at
// least one gene), clamping to [0, 1].
func (g *genome) Mutate(r *rand.Rand) {
	p := g.cfg.GeneMutationProb
	switch {
	case p == 0:
		p = 1 / float64(len(g.unit))
	case p < 0:
		p = 0
	}
	forced := r.Intn(len(g.unit))
	for j := range g.unit {
		if j == forced || r.Float64() < p {
			g.unit[j] = min(max(g.unit[j]+r.NormFloat64()*g.cfg.MutationSigma, 0), 1)
		}
	}
	g.invalidate()
}

// Crossover is BLX-α: it writes the child into the receiver only and reads
// the mate, which stays unchanged (eaopt's own crossovers write into both,
// leaving the mate's cached fitness stale).
func (g *genome) Crossover(mate eaopt.Genome, r *rand.Rand) {
	other := mate.(*genome).unit
	a := g.cfg.BlendAlpha
	for j, x := range g.unit {
		lo, hi := min(x, other[j]), max(x, other[j])
		span := hi - lo
		v := lo - a*span + r.Float64()*(1+2*a)*span
		g.unit[j] = min(max(v, 0), 1)
	}
	g.invalidate()
}

func (g *genome) invalidate() {
	g.known, g.cost, g.cand = false, 0, nil
}

func (g *genome) Clone() eaopt.Genome {
	c := *g
	c.unit = append([]float64(nil), g.unit...)
	return &c
}

// Method is a single-objective GA on eaopt (see the package doc).
type Method struct {
	opts  Options
	prob  search.Problem
	scal  search.Scalarization
	seed  uint64
	x     []float64
	phase int // 0: initial population not asked; 1: asked; 2: engine running

	initial []*genome
	next    int // next initial genome handed to eaopt
	pending []*genome

	requests chan []*genome
	replies  chan struct{}
	abort    chan struct{}
	done     chan struct{}
	engErr   error

	// afterGeneration, when set (by tests), is called from eaopt's callback
	// after every generation, on the engine goroutine.
	afterGeneration func(*eaopt.GA)
}

var (
	_ search.Method = (*Method)(nil)
	_ search.Closer = (*Method)(nil)
)

// New returns a GA with the given options.
func New(opts Options) (*Method, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Method{opts: opts.withDefaults()}, nil
}

// Scalarization is the scalarization the GA was configured with (its
// weights as given: nil means equal weights).
func (m *Method) Scalarization() search.Scalarization { return m.opts.Scalarization }

// Init resets the method for p. A running engine from an earlier run is
// stopped first.
func (m *Method) Init(p search.Problem) error {
	if err := m.Close(); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := m.opts.Scalarization.Validate(len(p.Directions)); err != nil {
		return err
	}
	for i, x := range m.opts.Initial {
		if err := p.Space.Validate(x); err != nil {
			return fmt.Errorf("ga: initial point %d: %w", i, err)
		}
	}
	m.prob, m.seed = p, p.Seed
	m.scal = m.opts.Scalarization.Resolved(len(p.Directions))
	m.x = make([]float64, p.Space.Len())
	m.phase, m.next, m.initial, m.pending = 0, 0, nil, nil
	m.engErr = nil
	return nil
}

func (m *Method) candidateFor(g *genome, op string, parents ...string) *population.Candidate {
	g.cand = search.NewCandidate(m.prob.Space.DecodeTo(m.x, g.unit), op, parents...)
	return g.cand
}

// Ask returns the initial population first, then the offspring of each
// eaopt generation that need evaluating.
func (m *Method) Ask() ([]*population.Candidate, error) {
	switch m.phase {
	case 0:
		r := rng.New(m.seed, "search/ga", "init")
		out := make([]*population.Candidate, m.opts.PopulationSize)
		m.initial = make([]*genome, m.opts.PopulationSize)
		for i := range m.initial {
			g := &genome{unit: make([]float64, m.prob.Space.Len()), cfg: &m.opts}
			if i < len(m.opts.Initial) {
				m.prob.Space.EncodeTo(g.unit, m.opts.Initial[i])
			} else {
				for j := range g.unit {
					g.unit[j] = r.Float64()
				}
			}
			m.initial[i] = g
			out[i] = m.candidateFor(g, OpSample)
		}
		m.pending = m.initial
		m.phase = 1
		return out, nil
	case 1:
		return nil, errors.New("ga: Ask called twice without Tell")
	}
	select {
	case batch := <-m.requests:
		m.pending = batch
		out := make([]*population.Candidate, len(batch))
		for i, g := range batch {
			out[i] = m.candidateFor(g, OpBreed)
		}
		return out, nil
	case <-m.done:
		if m.engErr != nil {
			return nil, fmt.Errorf("ga: eaopt stopped: %w", m.engErr)
		}
		return nil, nil
	}
}

// Tell stores each candidate's scalarised cost in its genome (+Inf for a
// failed candidate) and lets eaopt go on.
func (m *Method) Tell(batch []*population.Candidate) error {
	if len(batch) != len(m.pending) {
		return fmt.Errorf("ga: told %d candidates, asked %d", len(batch), len(m.pending))
	}
	for i, c := range batch {
		g := m.pending[i]
		if c != g.cand {
			return fmt.Errorf("ga: told candidate %d is not the one asked", i)
		}
		g.cost, g.known = m.scal.Cost(c, m.prob.Directions), true
	}
	m.pending = nil
	if m.phase == 1 {
		m.phase = 2
		return m.start()
	}
	m.replies <- struct{}{}
	return nil
}

// start runs eaopt.GA.Minimize on its own goroutine. The engine blocks in
// batchModel.Apply while a generation is being evaluated.
func (m *Method) start() error {
	m.requests = make(chan []*genome)
	m.replies = make(chan struct{})
	m.abort = make(chan struct{})
	m.done = make(chan struct{})
	cfg := eaopt.GAConfig{
		NPops:        1,
		PopSize:      uint(m.opts.PopulationSize),
		NGenerations: math.MaxInt32, // the Run loop's budget stops the run
		HofSize:      1,
		Model: batchModel{m: m, inner: eaopt.ModGenerational{
			Selector:  eaopt.SelTournament{NContestants: uint(m.opts.Tournament)},
			MutRate:   m.opts.MutationRate,
			CrossRate: m.opts.CrossoverRate,
		}},
		ParallelEval: false, // evaluation happened in the batch already
		RNG:          rng.V1(m.seed, "search/ga", "eaopt"),
		EarlyStop: func(*eaopt.GA) bool {
			select {
			case <-m.abort:
				return true
			default:
				return false
			}
		},
		Callback: func(ga *eaopt.GA) {
			if m.afterGeneration != nil {
				m.afterGeneration(ga)
			}
		},
	}
	ga, err := cfg.NewGA()
	if err != nil {
		return fmt.Errorf("ga: configuring eaopt: %w", err)
	}
	go func() {
		defer close(m.done)
		err := ga.Minimize(func(*rand.Rand) eaopt.Genome {
			g := m.initial[m.next]
			m.next++
			return g
		})
		if err != nil && !errors.Is(err, errAborted) {
			m.engErr = err
		}
	}()
	return nil
}

// Close stops the engine goroutine and waits for it. It is safe to call
// more than once.
func (m *Method) Close() error {
	if m.done == nil {
		return nil
	}
	select {
	case <-m.abort:
	default:
		close(m.abort)
	}
	<-m.done
	m.done = nil
	return nil
}

// batchModel wraps eaopt.ModGenerational: after the inner model has made
// the offspring, it hands every offspring that needs evaluating to Ask as one
// batch (in population order), waits for Tell, and then applies elitism.
type batchModel struct {
	m     *Method
	inner eaopt.ModGenerational
}

func (b batchModel) Validate() error { return b.inner.Validate() }

func (b batchModel) Apply(pop *eaopt.Population) error {
	m := b.m
	// The population is sorted by fitness after every generation, so the
	// elite are the first individuals.
	elite := make(eaopt.Individuals, min(m.opts.Elite, len(pop.Individuals)))
	for i := range elite {
		elite[i] = pop.Individuals[i]
		elite[i].Genome = pop.Individuals[i].Genome.Clone()
	}
	if err := b.inner.Apply(pop); err != nil {
		return err
	}
	var batch []*genome
	for i := range pop.Individuals {
		if !pop.Individuals[i].Evaluated {
			batch = append(batch, pop.Individuals[i].Genome.(*genome))
		}
	}
	if len(batch) > 0 {
		select {
		case m.requests <- batch:
		case <-m.abort:
			return errAborted
		}
		select {
		case <-m.replies:
		case <-m.abort:
			return errAborted
		}
	}
	// eaopt reads the told costs through genome.Evaluate after Apply; the
	// elite replace the worst offspring.
	if len(elite) > 0 {
		worst := make([]int, len(pop.Individuals))
		for i := range worst {
			worst[i] = i
		}
		cost := func(i int) float64 {
			in := &pop.Individuals[i]
			if in.Evaluated {
				return in.Fitness
			}
			return in.Genome.(*genome).cost
		}
		sort.SliceStable(worst, func(a, c int) bool { return cost(worst[a]) > cost(worst[c]) })
		for k, e := range elite {
			pop.Individuals[worst[k]] = e
		}
	}
	return nil
}
