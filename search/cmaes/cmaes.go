package cmaes

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Variants.
const (
	// Auto picks Full up to Options.SeparableAbove dimensions (default
	// DefaultSeparableAbove), Separable above.
	Auto = "auto"
	// Full is gonum's optimize.CmaEsChol (full covariance, O(n²) memory).
	Full = "full"
	// Separable is the diagonal sep-CMA-ES of Ros & Hansen (2008).
	Separable = "separable"
)

// DefaultSeparableAbove is Auto's default switch to the separable variant:
// gonum's CmaEsChol only beats it on non-separable problems of at most four
// dimensions (measured; see the package doc).
const DefaultSeparableAbove = 4

// Lineage operator names.
const (
	OpFull      = "cma-es"
	OpSeparable = "sep-cma-es"
)

// Options configure CMA-ES. The zero value gives the defaults below.
type Options struct {
	// Variant is Auto (default when empty), Full or Separable.
	Variant string
	// SeparableAbove is the dimension above which Auto uses the separable
	// variant; 0 means DefaultSeparableAbove.
	SeparableAbove int
	// Population is λ; 0 means 4 + ⌊3 ln n⌋ for the separable variant and
	// max(4 + ⌊3 ln n⌋, 4n) for the full one (gonum's CmaEsChol converges
	// faster per evaluation with the larger population; see the package
	// doc). At least 2.
	Population int
	// StepSize is the initial σ in unit-cube coordinates; 0 means 0.3.
	StepSize float64
	// Initial is the initial mean in space units; nil means the space's
	// defaults. Restarts start from uniform random means.
	Initial []float64
	// Scalarization turns the scores into the minimised cost.
	Scalarization search.Scalarization
}

// Validate checks the options.
func (o Options) Validate() error {
	var errs []error
	switch o.Variant {
	case "", Auto, Full, Separable:
	default:
		errs = append(errs, fmt.Errorf("cmaes: unknown variant %q: use %q, %q or %q", o.Variant, Auto, Full, Separable))
	}
	if o.SeparableAbove < 0 {
		errs = append(errs, fmt.Errorf("cmaes: separable-above dimension %d must not be negative", o.SeparableAbove))
	}
	if o.Population < 0 || o.Population == 1 {
		errs = append(errs, fmt.Errorf("cmaes: population %d: use at least 2, or 0 for the default", o.Population))
	}
	if o.StepSize < 0 || math.IsNaN(o.StepSize) || math.IsInf(o.StepSize, 0) {
		errs = append(errs, fmt.Errorf("cmaes: step size %v must be a positive finite number (or 0 for the default)", o.StepSize))
	}
	return errors.Join(errs...)
}

// engine is one CMA-ES run between restarts. ask returns λ points of the
// unbounded search coordinates (owned by the engine); tell takes their costs
// by index and reports convergence.
type engine interface {
	popSize() int
	ask() [][]float64
	tell(costs []float64) bool
	close()
}

// Method is CMA-ES over the unit cube with restarts (see the package doc).
type Method struct {
	opts     Options
	prob     search.Problem
	scal     search.Scalarization
	variant  string
	eng      engine
	stall    *stagnation
	restarts int
	pending  []*population.Candidate
	costs    []float64
	u, x     []float64
}

var (
	_ search.Method = (*Method)(nil)
	_ search.Closer = (*Method)(nil)
)

// New returns CMA-ES with the given options.
func New(opts Options) (*Method, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Variant == "" {
		opts.Variant = Auto
	}
	if opts.SeparableAbove == 0 {
		opts.SeparableAbove = DefaultSeparableAbove
	}
	if opts.StepSize == 0 {
		opts.StepSize = DefaultStepSize
	}
	return &Method{opts: opts}, nil
}

// Variant is the variant in use after Init (Full or Separable).
func (m *Method) Variant() string { return m.variant }

// Restarts counts the restarts after convergence or stagnation so far.
func (m *Method) Restarts() int { return m.restarts }

// Scalarization is the scalarization CMA-ES was configured with (its
// weights as given: nil means equal weights).
func (m *Method) Scalarization() search.Scalarization { return m.opts.Scalarization }

// Init resets the method for p.
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
	if m.opts.Initial != nil {
		if err := p.Space.Validate(m.opts.Initial); err != nil {
			return fmt.Errorf("cmaes: initial mean: %w", err)
		}
	}
	m.prob = p
	m.scal = m.opts.Scalarization.Resolved(len(p.Directions))
	n := p.Space.Len()
	m.variant = m.opts.Variant
	if m.variant == Auto {
		m.variant = Full
		if n > m.opts.SeparableAbove {
			m.variant = Separable
		}
	}
	m.restarts, m.pending = 0, nil
	m.u, m.x = make([]float64, n), make([]float64, n)
	return nil
}

func (m *Method) start() {
	n := m.prob.Space.Len()
	mean := make([]float64, n)
	if m.restarts == 0 {
		init := m.opts.Initial
		if init == nil {
			init = m.prob.Space.Defaults()
		}
		m.prob.Space.EncodeTo(mean, init)
	} else {
		r := rng.New(m.prob.Seed, "search/cmaes", "restart-mean", strconv.Itoa(m.restarts))
		for j := range mean {
			mean[j] = r.Float64()
		}
	}
	lambda := m.opts.Population
	if lambda == 0 {
		lambda = DefaultPopulation(m.variant, n)
	}
	stream := []string{"search/cmaes", m.variant, "restart", strconv.Itoa(m.restarts)}
	if m.variant == Full {
		m.eng = newFullEngine(mean, m.opts.StepSize, lambda, rng.NewSource(m.prob.Seed, stream...))
	} else {
		m.eng = newSepEngine(mean, m.opts.StepSize, lambda, rng.New(m.prob.Seed, stream...))
	}
	m.costs = make([]float64, lambda)
	m.stall = newStagnation(n, lambda)
}

// DefaultPopulation is λ when Options.Population is 0: Hansen's 4 + ⌊3 ln n⌋,
// raised to 4n for the Full variant.
func DefaultPopulation(variant string, n int) int {
	lambda := 4 + int(3*math.Log(float64(n)))
	if variant == Full {
		lambda = max(lambda, 4*n)
	}
	return lambda
}

// Ask samples one generation. Points are mirrored into the unit cube and
// decoded into the space.
func (m *Method) Ask() ([]*population.Candidate, error) {
	if m.pending != nil {
		return nil, errors.New("cmaes: Ask called twice without Tell")
	}
	if m.eng == nil {
		m.start()
	}
	op := OpFull
	if m.variant == Separable {
		op = OpSeparable
	}
	pts := m.eng.ask()
	out := make([]*population.Candidate, len(pts))
	for i, p := range pts {
		for j, v := range p {
			m.u[j] = Reflect(v)
		}
		out[i] = search.NewCandidate(m.prob.Space.DecodeTo(m.x, m.u), op)
	}
	m.pending = out
	return out, nil
}

// Tell passes the scalarised costs (+Inf for failed candidates) to the
// engine; on convergence or stagnation (see the package doc) the next Ask
// restarts from a random mean.
func (m *Method) Tell(batch []*population.Candidate) error {
	if len(batch) != len(m.pending) {
		return fmt.Errorf("cmaes: told %d candidates, asked %d", len(batch), len(m.pending))
	}
	for i, c := range batch {
		if c != m.pending[i] {
			return fmt.Errorf("cmaes: told candidate %d is not the one asked", i)
		}
		m.costs[i] = m.scal.Cost(c, m.prob.Directions)
	}
	m.pending = nil
	converged := m.eng.tell(m.costs)
	if m.stall.tell(m.costs) || converged {
		m.eng.close()
		m.eng = nil
		m.restarts++
	}
	return nil
}

// Close stops the engine (gonum's CmaEsChol runs on a goroutine).
func (m *Method) Close() error {
	if m.eng != nil {
		m.eng.close()
		m.eng = nil
	}
	m.pending = nil
	return nil
}

// Reflect mirrors v into [0, 1] (period 2: 1.2 → 0.8, −0.3 → 0.3).
func Reflect(v float64) float64 {
	if v >= 0 && v <= 1 {
		return v
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0.5
	}
	t := math.Mod(math.Abs(v), 2)
	if t > 1 {
		t = 2 - t
	}
	return t
}
