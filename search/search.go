package search

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// Problem is what a method is initialised with.
type Problem struct {
	// Space is the searched space. Methods that work in the unit cube decode
	// their points with Space.DecodeTo into genome values.
	Space *population.Space
	// Directions has one entry per objective, in score order.
	Directions []fitness.Direction
	// Seed is the master seed; methods derive their streams from it with
	// internal/rng under their own name.
	Seed uint64
	// Gradients and Alignment are what the evaluator offers methods that
	// state NeedLossGradients or NeedAlignment (nil when it cannot); Run
	// refuses a method whose needs the problem does not meet.
	Gradients GradientEvaluator
	Alignment AlignmentEvaluator
	// Recipes is the evaluator of recipe genomes for methods that state
	// NeedRecipes (nil when the evaluator is not one).
	Recipes RecipeEvaluator
	// Checkpoint saves the state of a Stateful method mid-way (between the
	// steps of a long Ask); nil when nothing is saved.
	Checkpoint func(state []byte) error
}

// Validate checks the problem.
func (p Problem) Validate() error {
	if p.Space == nil || p.Space.Len() == 0 {
		return errors.New("search: the problem has no search space")
	}
	if len(p.Directions) == 0 {
		return errors.New("search: the problem has no objectives: give at least one objective with a direction")
	}
	for i, d := range p.Directions {
		if !d.Valid() {
			return fmt.Errorf("search: objective %d has no valid direction: set it to maximize or minimize", i)
		}
	}
	return nil
}

// Method is an ask/tell search method. The Run loop calls Init once, then
// alternates Ask and Tell. A method never evaluates anything itself and never
// enforces budgets: Run stops asking when a limit is reached.
//
// Ask returns the next batch of pending candidates with Genome and Lineage
// set (Run sets ID and Lineage.Generation). An empty batch means the method
// has nothing more to propose. Tell receives the same candidates, in the same
// order, evaluated: each has Status ok with Scores (one per objective) or
// failed with Error. Every method must handle failed candidates (they rank
// below every successful one). When Run stops in the middle of a round (a
// budget truncated the batch, or the context was cancelled), the last batch
// is not told.
//
// A method is deterministic: given the same Problem (seed included) and the
// same told results, it asks the same genomes.
type Method interface {
	Init(p Problem) error
	Ask() ([]*population.Candidate, error)
	Tell(batch []*population.Candidate) error
}

// Closer is implemented by methods that hold resources (goroutines) which
// must be released when the run ends. Run calls Close once at the end.
type Closer interface {
	Close() error
}

// Evaluator scores candidates. Evaluate fills Scores (one per objective, in
// objective order) and Status ok, or Status failed and Error, of every
// candidate of the batch in place, matched by index; it may also fill
// Correct. It may evaluate candidates concurrently and in any order. A
// candidate whose evaluation fails is marked failed and the others go on; the
// returned error is for problems that stop the whole run (the context was
// cancelled, the evaluator is broken), and candidates left pending are then
// treated as not evaluated.
type Evaluator interface {
	Evaluate(ctx context.Context, batch []*population.Candidate) error
}

// GradientEvaluator gives gradient-based methods (AdaMerging) the loss of a
// coefficient vector and its gradient with respect to each coefficient.
type GradientEvaluator interface {
	// LossGrad writes dL/dλ for the coefficient vector values (a point of the
	// search space, in space units) into grad (len(grad) = len(values)) and
	// returns the loss L.
	LossGrad(ctx context.Context, values, grad []float64) (loss float64, err error)
}

// CoefficientNamer is implemented by gradient evaluators whose
// coefficients are points of their own layout rather than of the run's
// space: CoefficientNames names each coefficient by the dimension of the
// run's space it sets, in the order LossGrad takes them.
type CoefficientNamer interface {
	CoefficientNames() []string
}

// EventKind says what a recorder is told about.
type EventKind string

// Event kinds.
const (
	// EventBatch: a batch was evaluated (and told to the method unless the
	// run stopped in the middle of the round).
	EventBatch EventKind = "batch"
	// EventFinal: the run ended; Result is set.
	EventFinal EventKind = "final"
)

// Stats are running counts of a search.
type Stats struct {
	// Evaluations counts evaluated candidates, failed ones included.
	Evaluations int
	// Failed counts failed candidates.
	Failed int
	// Generations counts completed Ask/Tell rounds.
	Generations int
	// Elapsed is the wall time since the run started, by the run's clock.
	Elapsed time.Duration
	// Best holds the best score of each objective over successful
	// candidates so far (NaN while there is none).
	Best []float64
}

// Event is what a recorder observes. Batch and Result are shared with the
// run: a recorder must not modify them or keep them past the call.
type Event struct {
	Kind       EventKind
	Generation int
	Batch      []*population.Candidate
	Stats      Stats
	// Result is set for EventFinal.
	Result *Result
}

// RunInfo is given to recorders before the first batch.
type RunInfo struct {
	Problem  Problem
	Settings Settings
}

// Recorder observes a run. It must not modify anything it is given. An error
// from a recorder stops the run with StatusFailure and names the recorder.
type Recorder interface {
	Init(info RunInfo) error
	Record(ev Event) error
}

// RecorderFunc adapts a function to a Recorder whose Init does nothing.
type RecorderFunc func(Event) error

// Init does nothing.
func (RecorderFunc) Init(RunInfo) error { return nil }

// Record calls f.
func (f RecorderFunc) Record(ev Event) error { return f(ev) }

var _ Recorder = RecorderFunc(nil)
