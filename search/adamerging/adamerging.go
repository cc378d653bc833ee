package adamerging

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Note is the line every output of AdaMerging carries: its objective reads
// the unlabelled test inputs of every task.
const Note = "AdaMerging is test-time adaptation: its entropy objective reads the unlabelled inputs of every task's test split (labels are never read; task identity picks the head)"

// Defaults of the paper's reference code.
const (
	DefaultInit  = 0.3
	DefaultLR    = 1e-3
	DefaultSteps = 500
	DefaultBeta1 = 0.9
	DefaultBeta2 = 0.999
	DefaultEps   = 1e-8
)

// Options configure Optimize. Zero values take the defaults.
type Options struct {
	// Steps is the number of Adam updates (one LossGrad call each); 0
	// means 500.
	Steps int
	// LR is Adam's learning rate; 0 means 1e-3.
	LR float64
	// Beta1, Beta2 and Eps are Adam's constants; 0 means 0.9, 0.999, 1e-8.
	Beta1, Beta2, Eps float64
	// Init is the initial value of every coefficient; nil means 0.3.
	Init *float64
	// InitValues, when set, gives every coefficient its own initial value
	// (len = the number of coefficients); it overrides Init.
	InitValues []float64
	// Lower and Upper bound the effective coefficients; both zero means
	// [0, 1].
	Lower, Upper float64
	// Names name the coefficients (len = the number of coefficients, or
	// nil), for Result.Seed and reports.
	Names []string
	// Observe, when set, is called after every step with the step's record
	// (its slices are owned by the result; do not modify them). An error
	// stops the optimisation.
	Observe func(Step) error
}

// Step is one Adam update: the loss at the effective coefficients given to
// the evaluator, and those coefficients.
type Step struct {
	Iteration    int       `json:"iteration"`
	Loss         float64   `json:"loss"`
	Coefficients []float64 `json:"coefficients"`
}

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

func (o Options) withDefaults() Options {
	if o.Steps == 0 {
		o.Steps = DefaultSteps
	}
	if o.LR == 0 {
		o.LR = DefaultLR
	}
	if o.Beta1 == 0 {
		o.Beta1 = DefaultBeta1
	}
	if o.Beta2 == 0 {
		o.Beta2 = DefaultBeta2
	}
	if o.Eps == 0 {
		o.Eps = DefaultEps
	}
	if o.Lower == 0 && o.Upper == 0 {
		o.Upper = 1
	}
	return o
}

// Validate checks the options for n coefficients.
func (o Options) Validate(n int) error {
	o = o.withDefaults()
	var errs []error
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
	if n < 1 {
		errs = append(errs, fmt.Errorf("adamerging: %d coefficients: merge at least one task vector", n))
	}
	if o.Steps < 1 {
		errs = append(errs, fmt.Errorf("adamerging: steps = %d: use a positive count (default %d)", o.Steps, DefaultSteps))
	}
	if !(o.LR > 0) || bad(o.LR) {
		errs = append(errs, fmt.Errorf("adamerging: learning rate %v: use a positive number (default %g)", o.LR, DefaultLR))
	}
	if !(o.Beta1 >= 0 && o.Beta1 < 1) || !(o.Beta2 >= 0 && o.Beta2 < 1) {
		errs = append(errs, fmt.Errorf("adamerging: Adam betas (%v, %v) must lie in [0, 1)", o.Beta1, o.Beta2))
	}
	if !(o.Eps > 0) || bad(o.Eps) {
		errs = append(errs, fmt.Errorf("adamerging: Adam epsilon %v: use a small positive number", o.Eps))
	}
	if bad(o.Lower) || bad(o.Upper) || !(o.Lower < o.Upper) {
		errs = append(errs, fmt.Errorf("adamerging: coefficient bounds [%v, %v]: lower must be below upper, both finite", o.Lower, o.Upper))
	}
	if o.Init != nil && bad(*o.Init) {
		errs = append(errs, fmt.Errorf("adamerging: initial coefficient %v is not finite", *o.Init))
	}
	if o.InitValues != nil && len(o.InitValues) != n {
		errs = append(errs, fmt.Errorf("adamerging: %d initial values for %d coefficients: give one per coefficient", len(o.InitValues), n))
	}
	for i, v := range o.InitValues {
		if bad(v) {
			errs = append(errs, fmt.Errorf("adamerging: initial value %d is %v: use a finite number", i, v))
		}
	}
	if o.Names != nil && len(o.Names) != n {
		errs = append(errs, fmt.Errorf("adamerging: %d names for %d coefficients: give one per coefficient", len(o.Names), n))
	}
	return errors.Join(errs...)
}

// Adam is the Adam optimiser over a float64 vector, as PyTorch's
// (bias-corrected moments, no weight decay, no AMSGrad).
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	m, v                  []float64
	t                     int
}

// NewAdam returns an optimiser for n parameters.
func NewAdam(n int, lr, beta1, beta2, eps float64) *Adam {
	return &Adam{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, m: make([]float64, n), v: make([]float64, n)}
}

// Step applies one update x ← x − lr·m̂/(√v̂ + ε) for gradient g.
func (a *Adam) Step(x, g []float64) {
	if len(x) != len(a.m) || len(g) != len(a.m) {
		panic("adamerging: Adam.Step: lengths differ")
	}
	a.t++
	c1 := 1 - math.Pow(a.Beta1, float64(a.t))
	c2 := 1 - math.Pow(a.Beta2, float64(a.t))
	for i, gi := range g {
		a.m[i] = a.Beta1*a.m[i] + (1-a.Beta1)*gi
		a.v[i] = a.Beta2*a.v[i] + (1-a.Beta2)*gi*gi
		mh := a.m[i] / c1
		vh := a.v[i] / c2
		x[i] -= a.LR * mh / (math.Sqrt(vh) + a.Eps)
	}
}

// Clamp writes clamp(raw, lower, upper) into dst.
func Clamp(dst, raw []float64, lower, upper float64) {
	for i, v := range raw {
		dst[i] = min(max(v, lower), upper)
	}
}

// MaskClampedGrad zeroes grad where raw lies outside [lower, upper]: the
// derivative of clamp there is 0 (at the bounds themselves it is 1, as
// PyTorch's).
func MaskClampedGrad(grad, raw []float64, lower, upper float64) {
	for i, v := range raw {
		if v < lower || v > upper {
			grad[i] = 0
		}
	}
}

// Optimize learns n coefficients by Adam on the loss ev reports. Each step
// calls ev.LossGrad once with the effective (clamped) coefficients.
func Optimize(ctx context.Context, ev search.GradientEvaluator, n int, opt Options) (*Result, error) {
	if ev == nil {
		return nil, errors.New("adamerging: Optimize needs a gradient evaluator")
	}
	if err := opt.Validate(n); err != nil {
		return nil, err
	}
	o := opt.withDefaults()
	raw := make([]float64, n)
	switch {
	case o.InitValues != nil:
		copy(raw, o.InitValues)
	case o.Init != nil:
		for i := range raw {
			raw[i] = *o.Init
		}
	default:
		for i := range raw {
			raw[i] = DefaultInit
		}
	}
	res := &Result{Raw: raw, Names: slices.Clone(o.Names), Note: Note, Trajectory: make([]Step, 0, o.Steps)}
	eff := make([]float64, n)
	grad := make([]float64, n)
	adam := NewAdam(n, o.LR, o.Beta1, o.Beta2, o.Eps)
	for it := range o.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		Clamp(eff, raw, o.Lower, o.Upper)
		clear(grad)
		loss, err := ev.LossGrad(ctx, eff, grad)
		if err != nil {
			return nil, fmt.Errorf("adamerging: step %d: %w", it, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("adamerging: step %d: the loss is %v: lower the learning rate or check the inputs", it, loss)
		}
		for i, g := range grad {
			if math.IsNaN(g) || math.IsInf(g, 0) {
				return nil, fmt.Errorf("adamerging: step %d: dL/dλ of coefficient %s is %v", it, coefName(o.Names, i), g)
			}
		}
		res.Trajectory = append(res.Trajectory, Step{Iteration: it, Loss: loss, Coefficients: slices.Clone(eff)})
		MaskClampedGrad(grad, raw, o.Lower, o.Upper)
		adam.Step(raw, grad)
		if o.Observe != nil {
			if err := o.Observe(res.Trajectory[it]); err != nil {
				return nil, fmt.Errorf("adamerging: step %d: observer: %w", it, err)
			}
		}
	}
	res.Coefficients = make([]float64, n)
	Clamp(res.Coefficients, raw, o.Lower, o.Upper)
	return res, nil
}

func coefName(names []string, i int) string {
	if i < len(names) {
		return fmt.Sprintf("%d (%s)", i, names[i])
	}
	return fmt.Sprint(i)
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
