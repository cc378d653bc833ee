package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// Settings are the limits and observers of a run. The zero value of every
// field means "no limit" or "default".
type Settings struct {
	// MaxEvaluations stops the run after this many evaluated candidates;
	// the last batch is truncated to fit. 0: no limit.
	MaxEvaluations int
	// MaxGenerations stops the run after this many Ask/Tell rounds. 0: no
	// limit.
	MaxGenerations int
	// Runtime stops asking once this much time has passed by Clock; the
	// batch in flight is finished. 0: no limit.
	Runtime time.Duration
	// Clock returns the current time; nil means time.Now. Tests inject a
	// fake clock.
	Clock func() time.Time
	// Recorders observe the run in order.
	Recorders []Recorder
	// EvalSpec and Version enter every candidate id (population.ID): the
	// evaluation spec (tasks, splits, metrics) and the evaluator and
	// benchmark version.
	EvalSpec, Version string
	// MethodState is the last state a Stateful method saved in an earlier
	// session (through Problem.Checkpoint); Run restores it after Init.
	MethodState []byte
}

// Validate checks the settings.
func (s Settings) Validate() error {
	var errs []error
	if s.MaxEvaluations < 0 {
		errs = append(errs, fmt.Errorf("search: max evaluations is %d: use 0 for no limit or a positive count", s.MaxEvaluations))
	}
	if s.MaxGenerations < 0 {
		errs = append(errs, fmt.Errorf("search: max generations is %d: use 0 for no limit or a positive count", s.MaxGenerations))
	}
	if s.Runtime < 0 {
		errs = append(errs, fmt.Errorf("search: runtime is %v: use 0 for no limit or a positive duration", s.Runtime))
	}
	for i, r := range s.Recorders {
		if r == nil {
			errs = append(errs, fmt.Errorf("search: recorder %d is nil", i))
		}
	}
	return errors.Join(errs...)
}

// Status says why a run ended.
type Status string

// Run outcomes.
const (
	// StatusEvaluationLimit: Settings.MaxEvaluations was reached.
	StatusEvaluationLimit Status = "evaluation-limit"
	// StatusGenerationLimit: Settings.MaxGenerations was reached.
	StatusGenerationLimit Status = "generation-limit"
	// StatusRuntimeLimit: Settings.Runtime has passed.
	StatusRuntimeLimit Status = "runtime-limit"
	// StatusMethodDone: the method proposed an empty batch.
	StatusMethodDone Status = "method-done"
	// StatusCancelled: the context was cancelled.
	StatusCancelled Status = "cancelled"
	// StatusFailure: the method, the evaluator or a recorder returned an
	// error; Result.Err holds it.
	StatusFailure Status = "failure"
)

// Result is what a run found.
type Result struct {
	// Candidates lists every evaluated candidate in proposal order (failed
	// ones included; candidates of an interrupted batch that were never
	// evaluated are left out).
	Candidates []*population.Candidate
	// Front indexes Candidates: the successful candidates that no other
	// successful candidate dominates (front 0 of fitness.NonDominatedSort),
	// ascending.
	Front  []int
	Status Status
	// Err is the error that ended a StatusFailure or StatusCancelled run.
	Err         error
	Evaluations int
	Failed      int
	Generations int
	Elapsed     time.Duration
}

// FrontCandidates returns the candidates of the front.
func (r *Result) FrontCandidates() []*population.Candidate {
	out := make([]*population.Candidate, len(r.Front))
	for i, k := range r.Front {
		out[i] = r.Candidates[k]
	}
	return out
}

// Run drives method m against evaluator ev until a limit of s is reached, the
// method is done, ctx is cancelled, or something fails. It returns the
// Result in every case where the run started; the error is non-nil only for
// invalid arguments. Failed candidates never stop a run.
//
// Each round: Ask a batch, give every candidate its id and generation,
// truncate the batch to the remaining evaluation budget, Evaluate it, check
// scores (a wrong count or a NaN marks the candidate failed), record it,
// then Tell it unless the batch was truncated or interrupted.
func Run(ctx context.Context, m Method, ev Evaluator, p Problem, s Settings) (*Result, error) {
	if m == nil || ev == nil {
		return nil, errors.New("search: Run needs a method and an evaluator")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	clock := s.Clock
	if clock == nil {
		clock = time.Now
	}
	start := clock()
	r := &runner{p: p, s: s, res: &Result{}, clock: clock, start: start}
	r.stats.Best = make([]float64, len(p.Directions))
	for i := range r.stats.Best {
		r.stats.Best[i] = math.NaN()
	}
	r.loop(ctx, m, ev)
	if c, ok := m.(Closer); ok {
		if err := c.Close(); err != nil && r.res.Status != StatusFailure {
			r.fail(fmt.Errorf("search: closing the method: %w", err))
		}
	}
	r.finish()
	return r.res, nil
}

type runner struct {
	p     Problem
	s     Settings
	res   *Result
	stats Stats
	clock func() time.Time
	start time.Time
}

func (r *runner) fail(err error) {
	r.res.Status = StatusFailure
	r.res.Err = err
}

func (r *runner) loop(ctx context.Context, m Method, ev Evaluator) {
	for i, rec := range r.s.Recorders {
		if err := rec.Init(RunInfo{Problem: r.p, Settings: r.s}); err != nil {
			r.fail(fmt.Errorf("search: recorder %d (%T): init: %w", i, rec, err))
			return
		}
	}
	if err := checkNeeds(m, r.p); err != nil {
		r.fail(err)
		return
	}
	if err := m.Init(r.p); err != nil {
		r.fail(fmt.Errorf("search: initialising the method: %w", err))
		return
	}
	if len(r.s.MethodState) > 0 {
		st, ok := m.(Stateful)
		if !ok {
			r.fail(fmt.Errorf("search: a method state was saved, but the method (%T) cannot restore one", m))
			return
		}
		if err := st.Restore(r.s.MethodState); err != nil {
			r.fail(fmt.Errorf("search: restoring the method's saved state: %w", err))
			return
		}
	}
	for {
		if st, stop := r.limitReached(ctx); stop {
			r.res.Status = st
			if st == StatusCancelled {
				r.res.Err = ctx.Err()
			}
			return
		}
		batch, err := r.ask(ctx, m)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				r.res.Status, r.res.Err = StatusCancelled, ctx.Err()
			case errors.Is(err, errRuntime):
				r.res.Status = StatusRuntimeLimit
			default:
				r.fail(fmt.Errorf("search: generation %d: ask: %w", r.stats.Generations, err))
			}
			return
		}
		if len(batch) == 0 {
			r.res.Status = StatusMethodDone
			return
		}
		if err := r.prepare(batch); err != nil {
			r.fail(err)
			return
		}
		truncated := false
		if r.s.MaxEvaluations > 0 {
			if left := r.s.MaxEvaluations - r.stats.Evaluations; len(batch) > left {
				batch, truncated = batch[:left], true
			}
		}
		evalErr := ev.Evaluate(ctx, batch)
		done := r.collect(batch)
		if err := r.record(Event{Kind: EventBatch, Generation: r.stats.Generations, Batch: done, Stats: r.snapshot()}); err != nil {
			r.fail(err)
			return
		}
		if evalErr != nil || len(done) < len(batch) {
			if ctx.Err() != nil {
				r.res.Status, r.res.Err = StatusCancelled, ctx.Err()
				return
			}
			if evalErr == nil {
				evalErr = fmt.Errorf("%d of %d candidates were left pending", len(batch)-len(done), len(batch))
			}
			r.fail(fmt.Errorf("search: generation %d: evaluator: %w", r.stats.Generations, evalErr))
			return
		}
		if truncated {
			r.res.Status = StatusEvaluationLimit
			return
		}
		if err := m.Tell(batch); err != nil {
			r.fail(fmt.Errorf("search: generation %d: tell: %w", r.stats.Generations, err))
			return
		}
		r.stats.Generations++
	}
}

// errRuntime is the cause of an ask cut at the run's time limit.
var errRuntime = errors.New("search: the run's time limit was reached")

// ask asks the method for a batch: with the run's context, cut at the time
// limit, when the method does long work itself (ContextAsker).
func (r *runner) ask(ctx context.Context, m Method) ([]*population.Candidate, error) {
	ca, ok := m.(ContextAsker)
	if !ok {
		return m.Ask()
	}
	if r.s.Runtime <= 0 {
		return ca.AskContext(ctx)
	}
	left := r.s.Runtime - r.clock().Sub(r.start)
	actx, cancel := context.WithTimeoutCause(ctx, left, errRuntime)
	defer cancel()
	batch, err := ca.AskContext(actx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errRuntime) {
		return nil, errRuntime
	}
	return batch, err
}

// limitReached checks cancellation and limits before asking.
func (r *runner) limitReached(ctx context.Context) (Status, bool) {
	switch {
	case ctx.Err() != nil:
		return StatusCancelled, true
	case r.s.MaxEvaluations > 0 && r.stats.Evaluations >= r.s.MaxEvaluations:
		return StatusEvaluationLimit, true
	case r.s.MaxGenerations > 0 && r.stats.Generations >= r.s.MaxGenerations:
		return StatusGenerationLimit, true
	case r.s.Runtime > 0 && r.clock().Sub(r.start) >= r.s.Runtime:
		return StatusRuntimeLimit, true
	}
	return "", false
}

// prepare sets ids and generation and resets results.
func (r *runner) prepare(batch []*population.Candidate) error {
	for i, c := range batch {
		if c == nil {
			return fmt.Errorf("search: generation %d: the method proposed a nil candidate at index %d", r.stats.Generations, i)
		}
		if c.Genome.Values != nil {
			if err := r.p.Space.Validate(c.Genome.Values); err != nil {
				return fmt.Errorf("search: generation %d: candidate %d is outside the space: %w", r.stats.Generations, i, err)
			}
		}
		id, err := population.ID(c.Genome, r.s.EvalSpec, r.s.Version)
		if err != nil {
			return fmt.Errorf("search: generation %d: candidate %d: %w", r.stats.Generations, i, err)
		}
		c.ID = id
		c.Lineage.Generation = r.stats.Generations
		c.Status = population.StatusPending
		c.Scores, c.Error, c.Correct = nil, "", nil
	}
	return nil
}

// collect checks the evaluated batch, updates the counts and returns the
// prefix-preserving list of candidates that were evaluated (in batch order).
func (r *runner) collect(batch []*population.Candidate) []*population.Candidate {
	done := make([]*population.Candidate, 0, len(batch))
	for _, c := range batch {
		switch c.Status {
		case population.StatusOK:
			if err := r.checkScores(c.Scores); err != nil {
				c.Fail(err)
			}
		case population.StatusFailed:
			if c.Error == "" {
				c.Error = "the evaluator gave no reason"
			}
			c.Scores = nil
		default:
			continue
		}
		done = append(done, c)
		r.res.Candidates = append(r.res.Candidates, c)
		r.stats.Evaluations++
		if c.Status == population.StatusFailed {
			r.stats.Failed++
			continue
		}
		for j, v := range c.Scores {
			if b := r.stats.Best[j]; math.IsNaN(b) || r.p.Directions[j].Better(v, b) {
				r.stats.Best[j] = v
			}
		}
	}
	return done
}

func (r *runner) checkScores(scores []float64) error {
	if len(scores) != len(r.p.Directions) {
		return fmt.Errorf("search: the evaluator returned %d scores, want one per objective (%d)", len(scores), len(r.p.Directions))
	}
	for j, v := range scores {
		if math.IsNaN(v) {
			return fmt.Errorf("search: the evaluator returned NaN for objective %d", j)
		}
	}
	return nil
}

func (r *runner) snapshot() Stats {
	st := r.stats
	st.Elapsed = r.clock().Sub(r.start)
	st.Best = append([]float64(nil), r.stats.Best...)
	return st
}

func (r *runner) record(ev Event) error {
	for i, rec := range r.s.Recorders {
		if err := rec.Record(ev); err != nil {
			return fmt.Errorf("search: recorder %d (%T): %w", i, rec, err)
		}
	}
	return nil
}

func (r *runner) finish() {
	res := r.res
	res.Evaluations = r.stats.Evaluations
	res.Failed = r.stats.Failed
	res.Generations = r.stats.Generations
	res.Elapsed = r.clock().Sub(r.start)
	res.Front = Front(res.Candidates, r.p.Directions)
	if err := r.record(Event{Kind: EventFinal, Generation: r.stats.Generations, Stats: r.snapshot(), Result: res}); err != nil && res.Status != StatusFailure {
		r.fail(err)
	}
}

// Front returns the ascending indexes of the successful candidates that no
// other successful candidate dominates under dirs. A candidate proposed
// again (same id, answered from a cache or the journal) appears once, at its
// first occurrence.
func Front(cands []*population.Candidate, dirs []fitness.Direction) []int {
	var (
		points [][]float64
		index  []int
		seen   = make(map[string]bool, len(cands))
	)
	for i, c := range cands {
		if !c.OK() {
			continue
		}
		if c.ID != "" {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
		}
		points = append(points, c.Scores)
		index = append(index, i)
	}
	if len(points) == 0 {
		return nil
	}
	// fitness.ParetoFront is front 0 of fitness.NonDominatedSort, computed
	// with early exits (runs keep every candidate, so there are many).
	front := fitness.ParetoFront(points, dirs)
	out := make([]int, len(front))
	for k, i := range front {
		out[k] = index[i]
	}
	return out
}
