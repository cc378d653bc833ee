package adamerging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// MethodConfig configures AdaMerging as a search method.
type MethodConfig struct {
	// Adam configures the optimisation. Names match the coefficients to
	// the dimensions of the run's space by name; when empty, Init takes
	// them from the gradient evaluator (search.CoefficientNamer).
	Adam Options
	// CheckpointEvery is the number of steps between saved states
	// (default: a tenth of the steps, at least 1).
	CheckpointEvery int
	// Continue, when set, builds the search that goes on from the learned
	// coefficients (a point of the run's space) once they are scored.
	Continue func(x []float64) (search.Method, error)
	// Progress, when set, is told every CheckpointEvery steps.
	Progress func(step, steps int, loss float64)
}

// Method is AdaMerging as a search method that runs inside search.Run: it
// needs the loss gradients of the merge coefficients (Problem.Gradients).
// Its first ask takes the Adam steps, saving its state through
// Problem.Checkpoint every CheckpointEvery steps, and asks the learned
// coefficients as one candidate; then it ends, or hands over to the
// continuing search. It is Stateful: a run interrupted mid-way continues
// from the last saved step and learns what an uninterrupted run learns.
type Method struct {
	cfg   MethodConfig
	p     search.Problem
	run   *search.AdamRun
	x     []float64
	asked bool
	next  search.Method
}

var (
	_ search.Method       = (*Method)(nil)
	_ search.ContextAsker = (*Method)(nil)
	_ search.Stateful     = (*Method)(nil)
	_ search.Needer       = (*Method)(nil)
)

// methodState is what Checkpoint saves.
type methodState struct {
	V    int                 `json:"v"`
	Adam search.AdamSnapshot `json:"adam"`
}

// NewMethod returns AdaMerging for the search loop.
func NewMethod(cfg MethodConfig) (*Method, error) {
	if len(cfg.Adam.Names) > 0 {
		if err := cfg.Adam.Validate(len(cfg.Adam.Names)); err != nil {
			return nil, err
		}
	}
	if cfg.CheckpointEvery < 0 {
		return nil, fmt.Errorf("adamerging: checkpoint every %d steps: use a positive count", cfg.CheckpointEvery)
	}
	return &Method{cfg: cfg}, nil
}

// Needs implements search.Needer.
func (m *Method) Needs() []search.Need { return []search.Need{search.NeedLossGradients} }

// Init starts a fresh optimisation.
func (m *Method) Init(p search.Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(m.cfg.Adam.Names) == 0 {
		// The coefficients are named by the evaluator that takes them.
		n, ok := p.Gradients.(search.CoefficientNamer)
		if !ok {
			return errors.New("adamerging: name the coefficients (MethodConfig.Adam.Names, or a gradient evaluator that is a search.CoefficientNamer) so they match the run's dimensions")
		}
		m.cfg.Adam.Names = n.CoefficientNames()
		if err := m.cfg.Adam.Validate(len(m.cfg.Adam.Names)); err != nil {
			return err
		}
	}
	run, err := search.NewAdamRun(len(m.cfg.Adam.Names), m.cfg.Adam)
	if err != nil {
		return err
	}
	m.p, m.run, m.x, m.asked, m.next = p, run, nil, false, nil
	return nil
}

// Restore continues from a saved state.
func (m *Method) Restore(state []byte) error {
	var st methodState
	if err := json.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("adamerging: saved state: %w", err)
	}
	if st.V != 1 {
		return fmt.Errorf("adamerging: saved state version %d: this build reads version 1", st.V)
	}
	if err := m.run.Restore(st.Adam); err != nil {
		return err
	}
	if st.Adam.Step > 0 {
		if r, ok := m.p.Gradients.(search.StepResumer); ok {
			return r.ResumeAt(st.Adam.Step)
		}
	}
	return nil
}

// ResultState is the saved state of a finished optimisation that learned
// r (an earlier session's result file): a method restored from it asks
// the learned coefficients at once.
func ResultState(r *Result) ([]byte, error) {
	n := len(r.Raw)
	if n == 0 || len(r.Trajectory) == 0 {
		return nil, errors.New("adamerging: the saved result has no coefficients or no steps")
	}
	return json.Marshal(methodState{V: 1, Adam: search.AdamSnapshot{Step: len(r.Trajectory), Raw: r.Raw,
		M: make([]float64, n), V: make([]float64, n), Trajectory: r.Trajectory}})
}

func (m *Method) steps() int {
	if m.cfg.Adam.Steps == 0 {
		return search.DefaultAdamSteps
	}
	return m.cfg.Adam.Steps
}

func (m *Method) checkpoint() error {
	if m.p.Checkpoint == nil {
		return nil
	}
	b, err := json.Marshal(methodState{V: 1, Adam: m.run.Snapshot()})
	if err != nil {
		return err
	}
	return m.p.Checkpoint(b)
}

// Ask is AskContext without cancellation.
func (m *Method) Ask() ([]*population.Candidate, error) { return m.AskContext(context.Background()) }

// AskContext takes the remaining Adam steps and asks the learned
// coefficients; afterwards it asks what the continuing search asks.
func (m *Method) AskContext(ctx context.Context) ([]*population.Candidate, error) {
	if m.next != nil {
		if ca, ok := m.next.(search.ContextAsker); ok {
			return ca.AskContext(ctx)
		}
		return m.next.Ask()
	}
	if m.asked {
		return nil, nil
	}
	if m.p.Gradients == nil {
		return nil, errors.New("adamerging: the problem offers no loss gradients")
	}
	steps := m.steps()
	every := m.cfg.CheckpointEvery
	if every == 0 {
		every = max(steps/10, 1)
	}
	for !m.run.Done() {
		if err := m.run.Step(ctx, m.p.Gradients); err != nil {
			if ctx.Err() != nil {
				// Interrupted: the steps taken so far are kept (a step
				// changes the state only once it completes).
				if cerr := m.checkpoint(); cerr != nil {
					return nil, errors.Join(err, cerr)
				}
			}
			return nil, err
		}
		if n := m.run.Steps(); n%every == 0 || m.run.Done() {
			if err := m.checkpoint(); err != nil {
				return nil, fmt.Errorf("adamerging: saving the state at step %d: %w", n, err)
			}
			if m.cfg.Progress != nil {
				tr := m.run.Result().Trajectory
				m.cfg.Progress(n, steps, tr[len(tr)-1].Loss)
			}
		}
	}
	x, err := m.Result().Seed(m.p.Space)
	if err != nil {
		return nil, err
	}
	m.x, m.asked = x, true
	return []*population.Candidate{{Genome: population.VectorGenome(x), Lineage: population.Lineage{Operator: Name}}}, nil
}

// Tell hands over to the continuing search once the learned coefficients
// are scored.
func (m *Method) Tell(batch []*population.Candidate) error {
	if m.next != nil {
		return m.next.Tell(batch)
	}
	if !m.asked || m.cfg.Continue == nil {
		return nil
	}
	next, err := m.cfg.Continue(m.x)
	if err != nil {
		return err
	}
	if err := next.Init(m.p); err != nil {
		return err
	}
	m.next = next
	return nil
}

// Close releases the continuing search's resources.
func (m *Method) Close() error {
	if c, ok := m.next.(search.Closer); ok {
		return c.Close()
	}
	return nil
}

// Done reports whether every step has been taken.
func (m *Method) Done() bool { return m.run != nil && m.run.Done() }

// Result is what has been learned so far, with the test-time adaptation
// note (clear it when the inputs were not the test split's).
func (m *Method) Result() *Result {
	r := m.run.Result()
	return &Result{Coefficients: r.Coefficients, Raw: r.Raw, Names: r.Names, Trajectory: r.Trajectory, Note: Note}
}
