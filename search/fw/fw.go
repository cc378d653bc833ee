package fw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/evomerge/evomerge/search"
)

// Granularities of the LMO.
const (
	GranularityLayer = "layer"
	GranularityTask  = "task"
)

// Variants.
const (
	VariantHard = "hard"
	VariantSoft = "soft"
)

// Options configure Merge. Zero values take the defaults.
type Options struct {
	// Iterations is T; 0 means 10.
	Iterations int
	// StepSize is η in γt = η·2/(t+2); 0 means 0.1.
	StepSize float64
	// Scale is λ: a hard step moves by λ·γt; 0 means 1 (the classic
	// Frank-Wolfe step).
	Scale float64
	// Granularity is "layer" (default) or "task".
	Granularity string
	// Variant is "hard" (default) or "soft".
	Variant string
	// Ada configures the inner AdaMerging of the soft variant
	// (search.OptimizeAdam, the optimiser of search/adamerging; its Init,
	// InitValues and Names are set by Merge).
	Ada search.AdamOptions
	// AdaInit is the initial coefficient of soft iterations after the first
	// (the first starts at 0.3); 0 means 1e-8, the reference default.
	AdaInit float64
	// Observe, when set, is called after every iteration.
	Observe func(Iteration) error
}

func (o Options) withDefaults() Options {
	if o.Iterations == 0 {
		o.Iterations = DefaultIterations
	}
	if o.StepSize == 0 {
		o.StepSize = DefaultStepSize
	}
	if o.Scale == 0 {
		o.Scale = DefaultScale
	}
	if o.Granularity == "" {
		o.Granularity = DefaultGranularity
	}
	if o.Variant == "" {
		o.Variant = DefaultVariant
	}
	if o.AdaInit == 0 {
		o.AdaInit = DefaultAdaInit
	}
	return o
}

// Validate checks the options.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
	if o.Iterations < 1 {
		errs = append(errs, fmt.Errorf("fw: iterations = %d: use a positive count (default %d)", o.Iterations, DefaultIterations))
	}
	if !(o.StepSize > 0) || bad(o.StepSize) {
		errs = append(errs, fmt.Errorf("fw: step size η = %v: use a positive number (default %g)", o.StepSize, DefaultStepSize))
	}
	if !(o.Scale > 0) || bad(o.Scale) {
		errs = append(errs, fmt.Errorf("fw: scale λ = %v: use a positive number (default %g)", o.Scale, DefaultScale))
	}
	if o.Granularity != GranularityLayer && o.Granularity != GranularityTask {
		errs = append(errs, fmt.Errorf("fw: granularity %q: use %q or %q", o.Granularity, GranularityLayer, GranularityTask))
	}
	if o.Variant != VariantHard && o.Variant != VariantSoft {
		errs = append(errs, fmt.Errorf("fw: variant %q: use %q or %q", o.Variant, VariantHard, VariantSoft))
	}
	if !(o.AdaInit >= 0) || bad(o.AdaInit) {
		errs = append(errs, fmt.Errorf("fw: soft initial coefficient %v: use a small non-negative number", o.AdaInit))
	}
	return errors.Join(errs...)
}

// StepSize returns γt = η·2/(t+2).
func StepSize(eta float64, t int) float64 { return eta * 2 / float64(t+2) }

// Iteration records one Frank-Wolfe iteration.
type Iteration struct {
	T     int     `json:"t"`
	Loss  float64 `json:"loss"`
	Gamma float64 `json:"gamma"`
	// Vertex is the vertex chosen per tensor (hard): a pool member, or
	// search.VertexBase / search.VertexStay.
	Vertex []int `json:"vertex,omitempty"`
	// Alignment is the chosen vertex's alignment per tensor (hard).
	Alignment []float64 `json:"alignment,omitempty"`
	// Selected are the pool members chosen by the tasks (soft), and
	// Coefficients what AdaMerging learned for them (member-major, one per
	// tensor).
	Selected     []int     `json:"selected,omitempty"`
	Coefficients []float64 `json:"coefficients,omitempty"`
}

// Result is a finished run.
type Result struct {
	Iterations []Iteration `json:"iterations"`
	// Chosen counts, per pool member, the tensors (hard, layer), models
	// (hard, task) or selections (soft) that went to it over all
	// iterations; ChosenBase and Stayed count the base and no-move choices.
	Chosen     []int `json:"chosen"`
	ChosenBase int   `json:"chosen_base"`
	Stayed     int   `json:"stayed"`
}

// LMO picks a vertex per tensor from align (PoolSize()+1 rows: pool
// members, then the base) into vertex and writes the chosen alignments
// into chosen.
func LMO(vertex []int, chosen []float64, align [][]float64, granularity string) {
	members := len(align) - 1
	idx := func(v int) int {
		if v == members {
			return search.VertexBase
		}
		return v
	}
	switch granularity {
	case GranularityTask:
		best, bestSum := -1, math.Inf(1)
		for v, row := range align {
			var s float64
			for _, a := range row {
				s += a
			}
			if s < bestSum {
				best, bestSum = v, s
			}
		}
		for l := range vertex {
			if best < 0 || bestSum >= 0 {
				vertex[l], chosen[l] = search.VertexStay, 0
				continue
			}
			vertex[l], chosen[l] = idx(best), align[best][l]
		}
	default:
		for l := range vertex {
			best, bestA := -1, math.Inf(1)
			for v, row := range align {
				if row[l] < bestA {
					best, bestA = v, row[l]
				}
			}
			if best < 0 || bestA >= 0 {
				vertex[l], chosen[l] = search.VertexStay, 0
				continue
			}
			vertex[l], chosen[l] = idx(best), bestA
		}
	}
}

// Merge runs Frank-Wolfe merging against ev. The merged model is the
// evaluator's state when Merge returns.
func Merge(ctx context.Context, ev search.AlignmentEvaluator, opt Options) (*Result, error) {
	if ev == nil {
		return nil, errors.New("fw: Merge needs an alignment evaluator")
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	o := opt.withDefaults()
	K, L := ev.PoolSize(), ev.NumTensors()
	if K < 1 || L < 1 {
		return nil, fmt.Errorf("fw: the evaluator has %d pool members and %d tensors: give at least one of each", K, L)
	}
	align := make([][]float64, K+1)
	for v := range align {
		align[v] = make([]float64, L)
	}
	res := &Result{Chosen: make([]int, K)}
	var soft search.SoftAlignmentEvaluator
	if o.Variant == VariantSoft {
		s, ok := ev.(search.SoftAlignmentEvaluator)
		if !ok {
			return nil, errors.New("fw: the soft variant needs an evaluator that learns coefficients (search.SoftAlignmentEvaluator)")
		}
		soft = s
	}
	for t := range o.Iterations {
		it, err := iterate(ctx, ev, soft, o, align, t, res)
		if err != nil {
			return nil, err
		}
		if o.Observe != nil {
			if err := o.Observe(it); err != nil {
				return nil, fmt.Errorf("fw: iteration %d: observer: %w", t, err)
			}
		}
	}
	return res, nil
}

// iterate runs iteration t against ev (soft: ev as a
// SoftAlignmentEvaluator), appends it to res and counts its choices.
func iterate(ctx context.Context, ev search.AlignmentEvaluator, soft search.SoftAlignmentEvaluator, o Options, align [][]float64, t int, res *Result) (Iteration, error) {
	if err := ctx.Err(); err != nil {
		return Iteration{}, err
	}
	L := ev.NumTensors()
	it := Iteration{T: t, Gamma: StepSize(o.StepSize, t)}
	if soft != nil {
		if err := softIteration(ctx, soft, o, align, &it, res); err != nil {
			return Iteration{}, fmt.Errorf("fw: iteration %d: %w", t, err)
		}
	} else {
		loss, err := ev.Align(ctx, -1, align)
		if err != nil {
			return Iteration{}, fmt.Errorf("fw: iteration %d: %w", t, err)
		}
		it.Loss = loss
		it.Vertex = make([]int, L)
		it.Alignment = make([]float64, L)
		LMO(it.Vertex, it.Alignment, align, o.Granularity)
		if err := ev.Step(ctx, it.Vertex, o.Scale*it.Gamma); err != nil {
			return Iteration{}, fmt.Errorf("fw: iteration %d: %w", t, err)
		}
		counted := map[int]bool{}
		for _, v := range it.Vertex {
			if o.Granularity == GranularityTask && counted[v] {
				continue
			}
			counted[v] = true
			switch {
			case v == search.VertexBase:
				res.ChosenBase++
			case v == search.VertexStay:
				res.Stayed++
			default:
				res.Chosen[v]++
			}
		}
	}
	res.Iterations = append(res.Iterations, it)
	return it, nil
}

// replay moves ev's merged model as a recorded iteration did, without
// computing any gradient: the step toward the chosen vertices (hard), or
// the adaptation of the selected members with the learned coefficients
// (soft). Replaying a run's iterations in order rebuilds its merged model.
func replay(ctx context.Context, ev search.AlignmentEvaluator, o Options, it Iteration) error {
	if o.Variant == VariantSoft {
		if len(it.Selected) == 0 {
			return nil
		}
		soft, ok := ev.(search.SoftAlignmentEvaluator)
		if !ok {
			return errors.New("fw: the soft variant needs an evaluator that learns coefficients (search.SoftAlignmentEvaluator)")
		}
		if _, err := soft.Adapt(ctx, it.Selected); err != nil {
			return err
		}
		return soft.Apply(ctx, it.Selected, it.Coefficients)
	}
	return ev.Step(ctx, it.Vertex, o.Scale*it.Gamma)
}

// softIteration is one FW-Soft iteration: per-task selection, then
// AdaMerging over the selected members' directions.
func softIteration(ctx context.Context, ev search.SoftAlignmentEvaluator, o Options, align [][]float64, it *Iteration, res *Result) error {
	K, L := ev.PoolSize(), ev.NumTensors()
	tasks := max(ev.NumTasks(), 1)
	var selected []int
	for task := range tasks {
		loss, err := ev.Align(ctx, task, align)
		if err != nil {
			return err
		}
		it.Loss += loss
		best, bestSum := -1, math.Inf(1)
		for k := range K {
			if slices.Contains(selected, k) {
				continue
			}
			var s float64
			for _, a := range align[k] {
				s += a
			}
			if s < bestSum {
				best, bestSum = k, s
			}
		}
		if best >= 0 {
			selected = append(selected, best)
			res.Chosen[best]++
		}
	}
	it.Selected = selected
	if len(selected) == 0 {
		return nil
	}
	gev, err := ev.Adapt(ctx, selected)
	if err != nil {
		return err
	}
	ada := o.Ada
	init := search.DefaultAdamInit
	if it.T > 0 {
		init = o.AdaInit
	}
	ada.Init, ada.InitValues, ada.Names = &init, nil, nil
	ar, err := search.OptimizeAdam(ctx, gev, len(selected)*L, ada)
	if err != nil {
		return err
	}
	it.Coefficients = ar.Coefficients
	return ev.Apply(ctx, selected, ar.Coefficients)
}

// SelectedNames names the iteration's choices for reports: the member
// chosen for each tensor (hard) or each selected member (soft), with
// "base" for the null vertex and "stay" for a tensor that did not move.
// names[k] names pool member k.
func (it Iteration) SelectedNames(names []string) []string {
	name := func(v int) string {
		switch {
		case v == search.VertexBase:
			return "base"
		case v == search.VertexStay:
			return "stay"
		case v >= 0 && v < len(names):
			return names[v]
		}
		return fmt.Sprintf("member %d", v)
	}
	src := it.Vertex
	if len(it.Selected) > 0 {
		src = it.Selected
	}
	out := make([]string, len(src))
	for i, v := range src {
		out[i] = name(v)
	}
	return out
}
