package nsga2

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Operator is the lineage operator name of offspring.
const Operator = "sbx+pm"

// Options configure NSGA-II. The zero value uses the defaults of Deb et al.
// (2002): population 100, crossover probability 0.9 with η_c = 20, mutation
// probability 1/n per variable with η_m = 20.
type Options struct {
	// PopulationSize is μ = λ; 0 means 100. It must be at least 4.
	PopulationSize int
	// CrossoverProb is the probability that a pair of parents is recombined
	// by SBX; 0 means 0.9. Use a negative value for no crossover.
	CrossoverProb float64
	// CrossoverEta is the SBX distribution index η_c (larger: children
	// closer to their parents); 0 means 20.
	CrossoverEta float64
	// MutationProb is the per-variable probability of polynomial mutation;
	// 0 means 1/n for n dimensions. Use a negative value for no mutation.
	MutationProb float64
	// MutationEta is the polynomial mutation distribution index η_m; 0
	// means 20.
	MutationEta float64
	// Initial lists points (in space units) that start the first
	// population, e.g. the operator defaults; the rest is sampled uniformly.
	Initial [][]float64
}

// Validate checks the options.
func (o Options) Validate() error {
	var errs []error
	if o.PopulationSize != 0 && o.PopulationSize < 4 {
		errs = append(errs, fmt.Errorf("nsga2: population size %d is too small: use at least 4", o.PopulationSize))
	}
	if o.CrossoverProb > 1 || math.IsNaN(o.CrossoverProb) {
		errs = append(errs, fmt.Errorf("nsga2: crossover probability %v is above 1", o.CrossoverProb))
	}
	if o.MutationProb > 1 || math.IsNaN(o.MutationProb) {
		errs = append(errs, fmt.Errorf("nsga2: mutation probability %v is above 1", o.MutationProb))
	}
	if o.CrossoverEta < 0 || math.IsNaN(o.CrossoverEta) || math.IsInf(o.CrossoverEta, 0) {
		errs = append(errs, fmt.Errorf("nsga2: crossover eta %v must be a finite non-negative number", o.CrossoverEta))
	}
	if o.MutationEta < 0 || math.IsNaN(o.MutationEta) || math.IsInf(o.MutationEta, 0) {
		errs = append(errs, fmt.Errorf("nsga2: mutation eta %v must be a finite non-negative number", o.MutationEta))
	}
	size := o.PopulationSize
	if size == 0 {
		size = 100
	}
	if len(o.Initial) > size {
		errs = append(errs, fmt.Errorf("nsga2: %d initial points for a population of %d: give at most one population", len(o.Initial), size))
	}
	return errors.Join(errs...)
}

// member is one individual: its unit-cube point and evaluated candidate, with
// the rank and crowding distance of the last survival.
type member struct {
	unit  []float64
	cand  *population.Candidate
	rank  int
	crowd float64
	kept  int // survival round that last kept the member
}

// Method is NSGA-II.
type Method struct {
	opts  Options
	prob  search.Problem
	dim   int
	pm    float64
	gen   int
	init  bool // the initial population has been told
	pop   []*member
	asked []*member

	// Survival buffers, reused across generations.
	pool   []*member
	points [][]float64
	okIdx  []int
	sorter fitness.Sorter
	crowd  []float64
	order  []int
	next   []*member
	spare  [][]float64 // unit slices of discarded members, for reuse
	round  int
	x      []float64 // decoding buffer
}

var _ search.Method = (*Method)(nil)

// New returns NSGA-II with the given options.
func New(opts Options) (*Method, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.PopulationSize == 0 {
		opts.PopulationSize = DefaultPopulation
	}
	if opts.CrossoverProb == 0 {
		opts.CrossoverProb = DefaultCrossoverProb
	}
	if opts.CrossoverEta == 0 {
		opts.CrossoverEta = DefaultEta
	}
	if opts.MutationEta == 0 {
		opts.MutationEta = DefaultEta
	}
	return &Method{opts: opts}, nil
}

// Init resets the method for p.
func (m *Method) Init(p search.Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i, x := range m.opts.Initial {
		if err := p.Space.Validate(x); err != nil {
			return fmt.Errorf("nsga2: initial point %d: %w", i, err)
		}
	}
	m.prob, m.dim = p, p.Space.Len()
	m.pm = m.opts.MutationProb
	if m.pm == 0 {
		m.pm = 1 / float64(m.dim)
	}
	m.x = make([]float64, m.dim)
	m.gen, m.init = 0, false
	m.pop, m.asked = nil, nil
	return nil
}

func (m *Method) newUnit() []float64 {
	if n := len(m.spare); n > 0 {
		u := m.spare[n-1]
		m.spare = m.spare[:n-1]
		return u
	}
	return make([]float64, m.dim)
}

// Ask returns the initial population first, then μ offspring per
// generation made by binary tournament on (rank, crowding), SBX and
// polynomial mutation.
func (m *Method) Ask() ([]*population.Candidate, error) {
	n := m.opts.PopulationSize
	m.asked = m.asked[:0]
	if !m.init {
		r := rng.New(m.prob.Seed, "search/nsga2", "init")
		for i := 0; i < n; i++ {
			u := m.newUnit()
			if i < len(m.opts.Initial) {
				m.prob.Space.EncodeTo(u, m.opts.Initial[i])
			} else {
				for j := range u {
					u[j] = r.Float64()
				}
			}
			m.asked = append(m.asked, &member{unit: u, cand: search.NewCandidate(m.prob.Space.DecodeTo(m.x, u), "sample")})
		}
		return m.candidates(), nil
	}
	r := rng.New(m.prob.Seed, "search/nsga2", "generation", strconv.Itoa(m.gen))
	for len(m.asked) < n {
		a, b := m.tournament(r), m.tournament(r)
		c1, c2 := m.newUnit(), m.newUnit()
		copy(c1, a.unit)
		copy(c2, b.unit)
		if r.Float64() < m.opts.CrossoverProb {
			sbx(c1, c2, m.opts.CrossoverEta, r)
		}
		polyMutate(c1, m.pm, m.opts.MutationEta, r)
		polyMutate(c2, m.pm, m.opts.MutationEta, r)
		parents := []string{a.cand.ID, b.cand.ID}
		m.asked = append(m.asked, &member{unit: c1, cand: search.NewCandidate(m.prob.Space.DecodeTo(m.x, c1), Operator, parents...)})
		if len(m.asked) < n {
			m.asked = append(m.asked, &member{unit: c2, cand: search.NewCandidate(m.prob.Space.DecodeTo(m.x, c2), Operator, parents...)})
		} else {
			m.spare = append(m.spare, c2)
		}
	}
	return m.candidates(), nil
}

func (m *Method) candidates() []*population.Candidate {
	out := make([]*population.Candidate, len(m.asked))
	for i, mb := range m.asked {
		out[i] = mb.cand
	}
	return out
}

// tournament picks two members uniformly (with replacement) and returns the
// better: lower rank, then larger crowding distance, then the first drawn.
func (m *Method) tournament(r *rand.Rand) *member {
	a, b := m.pop[r.IntN(len(m.pop))], m.pop[r.IntN(len(m.pop))]
	if b.rank < a.rank || (b.rank == a.rank && b.crowd > a.crowd) {
		return b
	}
	return a
}

// Tell takes the evaluated batch and performs (μ+λ) survival: parents and
// offspring are sorted into non-dominated fronts (failed candidates form a
// last front of their own), whole fronts are kept while they fit, and the
// front that does not fit is cut by descending crowding distance.
func (m *Method) Tell(batch []*population.Candidate) error {
	if len(batch) != len(m.asked) {
		return fmt.Errorf("nsga2: told %d candidates, asked %d", len(batch), len(m.asked))
	}
	for i, c := range batch {
		if c != m.asked[i].cand {
			return fmt.Errorf("nsga2: told candidate %d is not the one asked", i)
		}
	}
	m.pool = append(append(m.pool[:0], m.pop...), m.asked...)
	m.survive(m.opts.PopulationSize)
	m.asked = m.asked[:0]
	if m.init {
		m.gen++
	}
	m.init = true
	return nil
}

// survive keeps n members of m.pool in m.pop and sets their rank and
// crowding distance. Ties are broken by pool position, so the result
// depends only on the pool.
func (m *Method) survive(n int) {
	m.points, m.okIdx = m.points[:0], m.okIdx[:0]
	for i, mb := range m.pool {
		if mb.cand.OK() {
			m.points = append(m.points, mb.cand.Scores)
			m.okIdx = append(m.okIdx, i)
		}
	}
	fronts := m.sorter.Sort(m.points, m.prob.Directions)
	m.next = m.next[:0]
	for rank, front := range fronts {
		if len(m.next) >= n {
			break
		}
		m.crowd = slices.Grow(m.crowd[:0], len(front))[:len(front)]
		fitness.CrowdingDistanceTo(m.crowd, m.points, front)
		for k, i := range front {
			mb := m.pool[m.okIdx[i]]
			mb.rank, mb.crowd = rank, m.crowd[k]
		}
		if len(m.next)+len(front) <= n {
			for _, i := range front {
				m.next = append(m.next, m.pool[m.okIdx[i]])
			}
			continue
		}
		m.order = append(m.order[:0], front...)
		slices.SortStableFunc(m.order, func(a, b int) int {
			ca, cb := m.pool[m.okIdx[a]].crowd, m.pool[m.okIdx[b]].crowd
			switch {
			case ca > cb:
				return -1
			case ca < cb:
				return 1
			}
			return 0
		})
		for _, i := range m.order[:n-len(m.next)] {
			m.next = append(m.next, m.pool[m.okIdx[i]])
		}
	}
	// Failed candidates rank below every successful one and are kept only
	// while the population is not full, in pool order.
	for _, mb := range m.pool {
		if len(m.next) >= n {
			break
		}
		if !mb.cand.OK() {
			mb.rank, mb.crowd = len(fronts), 0
			m.next = append(m.next, mb)
		}
	}
	// Recycle the unit vectors of the members that did not survive.
	m.round++
	for _, mb := range m.next {
		mb.kept = m.round
	}
	for _, mb := range m.pool {
		if mb.kept != m.round {
			m.spare = append(m.spare, mb.unit)
		}
	}
	m.pop = append(m.pop[:0], m.next...)
}

// Population returns the current parent population (after the last Tell),
// best fronts first.
func (m *Method) Population() []*population.Candidate {
	out := make([]*population.Candidate, len(m.pop))
	for i, mb := range m.pop {
		out[i] = mb.cand
	}
	return out
}

// sbx applies simulated binary crossover (Deb & Agrawal 1995) to c1 and c2 in
// place within [0, 1], in the bounded form of Deb's NSGA-II reference code:
// each variable is recombined with probability 0.5, and the children are
// swapped with probability 0.5.
func sbx(c1, c2 []float64, eta float64, r *rand.Rand) {
	const eps = 1e-14 // parents closer than this are left alone
	for j := range c1 {
		if r.Float64() > 0.5 {
			continue
		}
		x1, x2 := c1[j], c2[j]
		if math.Abs(x1-x2) <= eps {
			continue
		}
		a, b := sbxPair(min(x1, x2), max(x1, x2), r.Float64(), eta)
		if r.Float64() <= 0.5 {
			a, b = b, a
		}
		c1[j], c2[j] = a, b
	}
}

// sbxPair recombines one variable with y1 < y2 in [0, 1] for the uniform
// number u.
func sbxPair(y1, y2, u, eta float64) (float64, float64) {
	exp := 1 / (eta + 1)
	spread := func(beta float64) float64 {
		alpha := 2 - math.Pow(beta, -(eta+1))
		if u <= 1/alpha {
			return math.Pow(u*alpha, exp)
		}
		return math.Pow(1/(2-u*alpha), exp)
	}
	bq1 := spread(1 + 2*y1/(y2-y1))
	bq2 := spread(1 + 2*(1-y2)/(y2-y1))
	a := 0.5 * ((y1 + y2) - bq1*(y2-y1))
	b := 0.5 * ((y1 + y2) + bq2*(y2-y1))
	return min(max(a, 0), 1), min(max(b, 0), 1)
}

// polyMutate applies bounded polynomial mutation (Deb & Goyal 1996, in the
// form of Deb's NSGA-II reference code) to each variable of x with
// probability p, within [0, 1].
func polyMutate(x []float64, p, eta float64, r *rand.Rand) {
	if p <= 0 {
		return
	}
	for j, y := range x {
		if r.Float64() >= p {
			continue
		}
		x[j] = polyValue(y, r.Float64(), eta)
	}
}

// polyValue mutates one variable y in [0, 1] for the uniform number u.
func polyValue(y, u, eta float64) float64 {
	exp := 1 / (eta + 1)
	var dq float64
	if u <= 0.5 {
		val := 2*u + (1-2*u)*math.Pow(1-y, eta+1)
		dq = math.Pow(val, exp) - 1
	} else {
		val := 2*(1-u) + 2*(u-0.5)*math.Pow(y, eta+1)
		dq = 1 - math.Pow(val, exp)
	}
	return min(max(y+dq, 0), 1)
}
