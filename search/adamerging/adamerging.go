package adamerging

import (
	"context"
	"errors"
	"fmt"

	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Note is the line every output of AdaMerging carries: its objective reads
// the unlabelled test inputs of every task.
const Note = "AdaMerging is test-time adaptation: its entropy objective reads the unlabelled inputs of every task's test split (labels are never read; task identity picks the head)"

// Defaults of the paper's reference code (the optimiser's, shared with
// FW-Soft through search.OptimizeAdam).
const (
	DefaultInit  = search.DefaultAdamInit
	DefaultLR    = search.DefaultAdamLR
	DefaultSteps = search.DefaultAdamSteps
	DefaultBeta1 = search.DefaultAdamBeta1
	DefaultBeta2 = search.DefaultAdamBeta2
	DefaultEps   = search.DefaultAdamEps
)

// Options configure Optimize (search.AdamOptions). Zero values take the
// defaults.
type Options = search.AdamOptions

// Step is one Adam update (search.AdamStep).
type Step = search.AdamStep

// Result is what Optimize learned.
type Result struct {
	// Coefficients are the effective (clamped) coefficients after the last
	// update; Raw are the unclamped values Adam holds.
	Coefficients []float64 `json:"coefficients"`
	Raw          []float64 `json:"raw"`
	Names        []string  `json:"names,omitempty"`
	// Trajectory has one record per step, in order.
	Trajectory []Step `json:"trajectory"`
	// Note is the test-time adaptation notice (Note).
	Note string `json:"note"`
}

// Optimize learns n coefficients by Adam on the loss ev reports
// (search.OptimizeAdam). Each step calls ev.LossGrad once with the
// effective (clamped) coefficients.
func Optimize(ctx context.Context, ev search.GradientEvaluator, n int, opt Options) (*Result, error) {
	r, err := search.OptimizeAdam(ctx, ev, n, opt)
	if err != nil {
		return nil, err
	}
	return &Result{Coefficients: r.Coefficients, Raw: r.Raw, Names: r.Names, Trajectory: r.Trajectory, Note: Note}, nil
}

// Seed maps the learned coefficients onto a point of space by dimension
// name: a dimension named like a coefficient takes its value (clamped into
// the dimension's range), every other dimension its default. It fails when
// the result has no names or no dimension matches, so a seed that silently
// ignores the learned values cannot happen.
func (r *Result) Seed(space *population.Space) ([]float64, error) {
	if space == nil {
		return nil, errors.New("adamerging: Seed needs a search space")
	}
	if len(r.Names) != len(r.Coefficients) {
		return nil, errors.New("adamerging: the result has no coefficient names: set Options.Names to seed a search with it")
	}
	x := space.Defaults()
	matched := 0
	for i, name := range r.Names {
		j, ok := space.Index(name)
		if !ok {
			continue
		}
		d := space.Dim(j)
		if d.Kind != population.KindFloat {
			return nil, fmt.Errorf("adamerging: dimension %q is %s, not float: a coefficient cannot seed it", name, d.Kind)
		}
		x[j] = min(max(r.Coefficients[i], d.Lower), d.Upper)
		matched++
	}
	if matched == 0 {
		return nil, fmt.Errorf("adamerging: no dimension of the space is named like a coefficient (first coefficient %q): derive the space with the same names", r.Names[0])
	}
	return x, nil
}

// Space returns a search space with one float dimension per named
// coefficient over [lower, upper], defaulting to the learned value, for
// an evolutionary run that continues from AdaMerging.
func (r *Result) Space(lower, upper float64) (*population.Space, error) {
	if len(r.Names) != len(r.Coefficients) {
		return nil, errors.New("adamerging: the result has no coefficient names: set Options.Names to build a space from it")
	}
	dims := make([]population.Dim, len(r.Names))
	for i, name := range r.Names {
		dims[i] = population.Dim{Name: name, Kind: population.KindFloat, Lower: lower, Upper: upper,
			Default: min(max(r.Coefficients[i], lower), upper)}
	}
	return population.NewSpace(dims)
}
