package fw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// MethodConfig configures FW-Merging as a search method.
type MethodConfig struct {
	// Options configure the iterations (Observe is told each new one).
	Options Options
}

// Genomer is implemented by the alignment evaluator the method runs on
// (Problem.Alignment): Genome expresses the merged model it has stepped to,
// after the iterations of res, as a point of the run's space (the
// evaluator knows how the space names the merge's coefficients).
type Genomer interface {
	Genome(ctx context.Context, res *Result) ([]float64, error)
}

// Method is FW-Merging as a search method that runs inside search.Run: it
// needs the alignment of the pool members with the loss gradient
// (Problem.Alignment; with a search.SoftAlignmentEvaluator for the soft
// variant). Its first ask runs the iterations, saving its state through
// Problem.Checkpoint after each, and asks the merged model's genome as one
// candidate. It is Stateful: a resumed run replays the saved iterations'
// moves on the evaluator's merged model (no gradient is computed again)
// and continues with the next iteration, ending like an uninterrupted run.
type Method struct {
	cfg   MethodConfig
	o     Options
	p     search.Problem
	res   *Result
	align [][]float64
	asked bool
}

var (
	_ search.Method       = (*Method)(nil)
	_ search.ContextAsker = (*Method)(nil)
	_ search.Stateful     = (*Method)(nil)
	_ search.Needer       = (*Method)(nil)
)

type methodState struct {
	V      int     `json:"v"`
	Result *Result `json:"result"`
}

// NewMethod returns FW-Merging for the search loop.
func NewMethod(cfg MethodConfig) (*Method, error) {
	if err := cfg.Options.Validate(); err != nil {
		return nil, err
	}
	return &Method{cfg: cfg, o: cfg.Options.withDefaults()}, nil
}

// Needs implements search.Needer.
func (m *Method) Needs() []search.Need { return []search.Need{search.NeedAlignment} }

// Init starts with no iteration done.
func (m *Method) Init(p search.Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Alignment == nil {
		return errors.New("fw: the problem offers no alignment evaluator")
	}
	if _, ok := p.Alignment.(Genomer); !ok {
		return errors.New("fw: the alignment evaluator cannot express its merge as a point of the run's space (fw.Genomer)")
	}
	K, L := p.Alignment.PoolSize(), p.Alignment.NumTensors()
	if K < 1 || L < 1 {
		return fmt.Errorf("fw: the evaluator has %d pool members and %d tensors: give at least one of each", K, L)
	}
	if m.o.Variant == VariantSoft {
		if _, ok := p.Alignment.(search.SoftAlignmentEvaluator); !ok {
			return errors.New("fw: the soft variant needs an evaluator that learns coefficients (search.SoftAlignmentEvaluator)")
		}
	}
	m.p, m.asked = p, false
	m.res = &Result{Chosen: make([]int, K)}
	m.align = make([][]float64, K+1)
	for v := range m.align {
		m.align[v] = make([]float64, L)
	}
	return nil
}

// Restore replays the saved iterations on the evaluator's merged model.
func (m *Method) Restore(state []byte) error {
	var st methodState
	if err := json.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("fw: saved state: %w", err)
	}
	if st.V != 1 || st.Result == nil {
		return fmt.Errorf("fw: saved state version %d: this build reads version 1", st.V)
	}
	r := st.Result
	if len(r.Chosen) != len(m.res.Chosen) || len(r.Iterations) > m.o.Iterations {
		return fmt.Errorf("fw: the saved state (%d iterations over a pool of %d) does not fit this run (%d iterations over %d)", len(r.Iterations), len(r.Chosen), m.o.Iterations, len(m.res.Chosen))
	}
	for i, it := range r.Iterations {
		if it.T != i {
			return fmt.Errorf("fw: saved iteration %d is numbered %d", i, it.T)
		}
		if err := replay(context.Background(), m.p.Alignment, m.o, it); err != nil {
			return fmt.Errorf("fw: replaying saved iteration %d: %w", i, err)
		}
	}
	m.res = r
	return nil
}

// ResultState is the saved state of a finished merge res (an earlier
// session's result file).
func ResultState(res *Result) ([]byte, error) {
	return json.Marshal(methodState{V: 1, Result: res})
}

func (m *Method) checkpoint() error {
	if m.p.Checkpoint == nil {
		return nil
	}
	b, err := json.Marshal(methodState{V: 1, Result: m.res})
	if err != nil {
		return err
	}
	return m.p.Checkpoint(b)
}

// Ask is AskContext without cancellation.
func (m *Method) Ask() ([]*population.Candidate, error) { return m.AskContext(context.Background()) }

// AskContext runs the remaining iterations and asks the merged model.
func (m *Method) AskContext(ctx context.Context) ([]*population.Candidate, error) {
	if m.asked {
		return nil, nil
	}
	ev := m.p.Alignment
	soft, _ := ev.(search.SoftAlignmentEvaluator)
	if m.o.Variant != VariantSoft {
		soft = nil
	}
	for t := len(m.res.Iterations); t < m.o.Iterations; t++ {
		it, err := iterate(ctx, ev, soft, m.o, m.align, t, m.res)
		if err != nil {
			return nil, err
		}
		if err := m.checkpoint(); err != nil {
			return nil, fmt.Errorf("fw: saving the state after iteration %d: %w", t, err)
		}
		if m.o.Observe != nil {
			if err := m.o.Observe(it); err != nil {
				return nil, fmt.Errorf("fw: iteration %d: observer: %w", t, err)
			}
		}
	}
	x, err := m.p.Alignment.(Genomer).Genome(ctx, m.res)
	if err != nil {
		return nil, err
	}
	m.asked = true
	return []*population.Candidate{{Genome: population.VectorGenome(slices.Clone(x)), Lineage: population.Lineage{Operator: Name}}}, nil
}

// Tell has nothing to learn: the merge is one candidate.
func (m *Method) Tell([]*population.Candidate) error { return nil }

// Done reports whether every iteration has run.
func (m *Method) Done() bool { return m.res != nil && len(m.res.Iterations) == m.o.Iterations }

// Result is the iterations so far.
func (m *Method) Result() *Result { return m.res }
