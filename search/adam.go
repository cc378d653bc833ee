package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Defaults of AdaMerging's reference code (Yang et al., ICLR 2024), used by
// OptimizeAdam for zero AdamOptions: by search/adamerging and by the inner
// AdaMerging of FW-Soft (search/fw).
const (
	DefaultAdamInit  = 0.3
	DefaultAdamLR    = 1e-3
	DefaultAdamSteps = 500
	DefaultAdamBeta1 = 0.9
	DefaultAdamBeta2 = 0.999
	DefaultAdamEps   = 1e-8
)

// AdamOptions configure OptimizeAdam. Zero values take the defaults.
type AdamOptions struct {
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
	// nil), for the result and error messages.
	Names []string
	// Observe, when set, is called after every step with the step's record
	// (its slices are owned by the result; do not modify them). An error
	// stops the optimisation.
	Observe func(AdamStep) error
}

// AdamStep is one Adam update: the loss at the effective coefficients given
// to the evaluator, and those coefficients.
type AdamStep struct {
	Iteration    int       `json:"iteration"`
	Loss         float64   `json:"loss"`
	Coefficients []float64 `json:"coefficients"`
}

// AdamResult is what OptimizeAdam learned.
type AdamResult struct {
	// Coefficients are the effective (clamped) coefficients after the last
	// update; Raw are the unclamped values Adam holds.
	Coefficients []float64
	Raw          []float64
	// Names are AdamOptions.Names.
	Names []string
	// Trajectory has one record per step, in order.
	Trajectory []AdamStep
}

func (o AdamOptions) withDefaults() AdamOptions {
	if o.Steps == 0 {
		o.Steps = DefaultAdamSteps
	}
	if o.LR == 0 {
		o.LR = DefaultAdamLR
	}
	if o.Beta1 == 0 {
		o.Beta1 = DefaultAdamBeta1
	}
	if o.Beta2 == 0 {
		o.Beta2 = DefaultAdamBeta2
	}
	if o.Eps == 0 {
		o.Eps = DefaultAdamEps
	}
	if o.Lower == 0 && o.Upper == 0 {
		o.Upper = 1
	}
	return o
}

// Validate checks the options for n coefficients.
func (o AdamOptions) Validate(n int) error {
	o = o.withDefaults()
	var errs []error
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
	if n < 1 {
		errs = append(errs, fmt.Errorf("adamerging: %d coefficients: merge at least one task vector", n))
	}
	if o.Steps < 1 {
		errs = append(errs, fmt.Errorf("adamerging: steps = %d: use a positive count (default %d)", o.Steps, DefaultAdamSteps))
	}
	if !(o.LR > 0) || bad(o.LR) {
		errs = append(errs, fmt.Errorf("adamerging: learning rate %v: use a positive number (default %g)", o.LR, DefaultAdamLR))
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
		panic("search: Adam.Step: lengths differ")
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

// OptimizeAdam learns n coefficients with Adam on ev's loss: every step
// clamps the coefficients to [Lower, Upper], asks ev for the loss and
// gradient there, masks the gradient of clamped coefficients and updates.
func OptimizeAdam(ctx context.Context, ev GradientEvaluator, n int, opt AdamOptions) (*AdamResult, error) {
	if ev == nil {
		return nil, errors.New("adamerging: Optimize needs a gradient evaluator")
	}
	run, err := NewAdamRun(n, opt)
	if err != nil {
		return nil, err
	}
	for !run.Done() {
		if err := run.Step(ctx, ev); err != nil {
			return nil, err
		}
	}
	return run.Result(), nil
}

// AdamRun is an Adam optimisation taken one step at a time, whose state
// can be saved between steps (Snapshot) and continued from (Restore):
// OptimizeAdam is NewAdamRun then Step until Done. A restored run takes the
// same steps an uninterrupted one would, provided the evaluator answers
// the same coefficients with the same gradients (see StepResumer).
type AdamRun struct {
	o          AdamOptions
	raw, eff   []float64
	grad       []float64
	adam       *Adam
	trajectory []AdamStep
}

// AdamSnapshot is the state of an AdamRun after Step steps: everything a
// later session needs to go on from there.
type AdamSnapshot struct {
	Step       int        `json:"step"`
	Raw        []float64  `json:"raw"`
	M          []float64  `json:"m"`
	V          []float64  `json:"v"`
	Trajectory []AdamStep `json:"trajectory"`
}

// NewAdamRun starts an optimisation of n coefficients.
func NewAdamRun(n int, opt AdamOptions) (*AdamRun, error) {
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
			raw[i] = DefaultAdamInit
		}
	}
	return &AdamRun{o: o, raw: raw, eff: make([]float64, n), grad: make([]float64, n),
		adam: NewAdam(n, o.LR, o.Beta1, o.Beta2, o.Eps), trajectory: make([]AdamStep, 0, o.Steps)}, nil
}

// Steps is the number of steps taken so far, and Done reports whether all
// of them have been.
func (r *AdamRun) Steps() int { return r.adam.t }

// Done reports whether the run has taken every step.
func (r *AdamRun) Done() bool { return r.adam.t >= r.o.Steps }

// Step takes one Adam step: the loss and gradient at the clamped
// coefficients, then the update of the unclamped ones (gradients of
// clamped coefficients masked).
func (r *AdamRun) Step(ctx context.Context, ev GradientEvaluator) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it := r.adam.t
	o := r.o
	Clamp(r.eff, r.raw, o.Lower, o.Upper)
	clear(r.grad)
	loss, err := ev.LossGrad(ctx, r.eff, r.grad)
	if err != nil {
		return fmt.Errorf("adamerging: step %d: %w", it, err)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("adamerging: step %d: the loss is %v: lower the learning rate or check the inputs", it, loss)
	}
	for i, g := range r.grad {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return fmt.Errorf("adamerging: step %d: dL/dλ of coefficient %s is %v", it, coefName(o.Names, i), g)
		}
	}
	r.trajectory = append(r.trajectory, AdamStep{Iteration: it, Loss: loss, Coefficients: slices.Clone(r.eff)})
	MaskClampedGrad(r.grad, r.raw, o.Lower, o.Upper)
	r.adam.Step(r.raw, r.grad)
	if o.Observe != nil {
		if err := o.Observe(r.trajectory[it]); err != nil {
			return fmt.Errorf("adamerging: step %d: observer: %w", it, err)
		}
	}
	return nil
}

// Result is what the run has learned so far: the clamped coefficients of
// the last update.
func (r *AdamRun) Result() *AdamResult {
	res := &AdamResult{Raw: slices.Clone(r.raw), Names: slices.Clone(r.o.Names), Trajectory: slices.Clone(r.trajectory),
		Coefficients: make([]float64, len(r.raw))}
	Clamp(res.Coefficients, r.raw, r.o.Lower, r.o.Upper)
	return res
}

// Snapshot returns the run's state.
func (r *AdamRun) Snapshot() AdamSnapshot {
	return AdamSnapshot{Step: r.adam.t, Raw: slices.Clone(r.raw), M: slices.Clone(r.adam.m), V: slices.Clone(r.adam.v),
		Trajectory: slices.Clone(r.trajectory)}
}

// Restore continues the run from a snapshot of the same optimisation.
func (r *AdamRun) Restore(s AdamSnapshot) error {
	n := len(r.raw)
	if len(s.Raw) != n || len(s.M) != n || len(s.V) != n || s.Step < 0 || s.Step > r.o.Steps || len(s.Trajectory) != s.Step {
		return fmt.Errorf("adamerging: the saved state (step %d of %d coefficients) does not fit this optimisation (%d steps of %d coefficients)", s.Step, len(s.Raw), r.o.Steps, n)
	}
	copy(r.raw, s.Raw)
	copy(r.adam.m, s.M)
	copy(r.adam.v, s.V)
	r.adam.t = s.Step
	r.trajectory = append(r.trajectory[:0], s.Trajectory...)
	return nil
}

func coefName(names []string, i int) string {
	if i < len(names) {
		return fmt.Sprintf("%d (%s)", i, names[i])
	}
	return fmt.Sprint(i)
}
