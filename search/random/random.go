package random

import (
	"fmt"
	"strconv"

	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Sampling names.
const (
	Uniform = "uniform"
	LHS     = "lhs"
)

// Options configure random search. The zero value samples batches of 16
// uniformly.
type Options struct {
	// BatchSize is the number of candidates per batch; 0 means 16.
	BatchSize int
	// Sampling is Uniform (default when empty) or LHS: each batch is a
	// Latin hypercube, one sample in each of BatchSize equal slices of
	// every dimension.
	Sampling string
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.BatchSize < 0 {
		return fmt.Errorf("random: batch size is %d: use a positive size or 0 for the default", o.BatchSize)
	}
	switch o.Sampling {
	case "", Uniform, LHS:
	default:
		return fmt.Errorf("random: unknown sampling %q: use %q or %q", o.Sampling, Uniform, LHS)
	}
	return nil
}

// Method is random search.
type Method struct {
	opts  Options
	space *population.Space
	seed  uint64
	batch int
	unit  []float64
}

var _ search.Method = (*Method)(nil)

// New returns random search with the given options.
func New(opts Options) (*Method, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Sampling == "" {
		opts.Sampling = Uniform
	}
	return &Method{opts: opts}, nil
}

// Init resets the method for p.
func (m *Method) Init(p search.Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	m.space, m.seed, m.batch = p.Space, p.Seed, 0
	m.unit = make([]float64, p.Space.Len()*m.opts.BatchSize)
	return nil
}

// Ask samples the next batch.
func (m *Method) Ask() ([]*population.Candidate, error) {
	r := rng.New(m.seed, "search/random", strconv.Itoa(m.batch))
	m.batch++
	n, d := m.opts.BatchSize, m.space.Len()
	if m.opts.Sampling == LHS {
		// Dimension by dimension: a random permutation of the n slices,
		// and a uniform point inside each slice.
		for j := 0; j < d; j++ {
			perm := r.Perm(n)
			for i := 0; i < n; i++ {
				m.unit[i*d+j] = (float64(perm[i]) + r.Float64()) / float64(n)
			}
		}
	} else {
		for i := range m.unit {
			m.unit[i] = r.Float64()
		}
	}
	out := make([]*population.Candidate, n)
	x := make([]float64, d)
	for i := range out {
		m.space.DecodeTo(x, m.unit[i*d:(i+1)*d])
		out[i] = search.NewCandidate(x, "sample-"+m.opts.Sampling)
	}
	return out, nil
}

// Tell does nothing: random search does not learn.
func (m *Method) Tell([]*population.Candidate) error { return nil }
