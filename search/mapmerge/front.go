package mapmerge

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Front methods.
const (
	FrontAuto  = ""
	FrontGrid  = "grid"
	FrontNSGA2 = "nsga2"
)

// FrontOptions say how the surrogate front is searched inside the sampled
// box.
type FrontOptions struct {
	// Method is FrontGrid (a dense grid, default for ≤ 3 coefficients),
	// FrontNSGA2 (search/nsga2 on the surrogates, default above 3) or "".
	Method string
	// GridPoints per axis (default 201 for 1–2 coefficients, 41 for 3).
	GridPoints int
	// Population and Generations of NSGA-II (defaults 100 and 100).
	Population, Generations int
	// Seed of NSGA-II's streams.
	Seed uint64
	// Inner builds the multi-objective method of FrontNSGA2 (search/nsga2
	// with the given population; the composition root supplies it).
	Inner func(population int) (search.Method, error)
}

// FrontPoint is one point of a MAP front.
type FrontPoint struct {
	// Values is the coefficient vector (space units).
	Values []float64 `json:"values"`
	// Predicted holds the surrogates' values, one per objective.
	Predicted []float64 `json:"predicted"`
	// Real holds the evaluated scores once re-evaluated (nil before, or
	// when the re-evaluation failed).
	Real []float64 `json:"real,omitempty"`
	// ID is the candidate id of the re-evaluation.
	ID string `json:"id,omitempty"`
}

// surrogateSet predicts every objective.
type surrogateSet []*Surrogate

func (s surrogateSet) predict(c []float64) []float64 {
	out := make([]float64, len(s))
	for k, m := range s {
		out[k] = m.Predict(c)
	}
	return out
}

// PredictedFront returns the non-dominated points of the surrogates inside
// the box [lo, hi] (the sampled region: the surrogates are not trusted
// outside it), sorted by the first objective.
func PredictedFront(ctx context.Context, surr []*Surrogate, dirs []fitness.Direction, lo, hi []float64, opt FrontOptions) ([]FrontPoint, error) {
	if len(surr) != len(dirs) || len(surr) == 0 {
		return nil, fmt.Errorf("mapmerge: %d surrogates for %d objectives", len(surr), len(dirs))
	}
	d := len(lo)
	if len(hi) != d || d == 0 {
		return nil, errors.New("mapmerge: the box needs one bound pair per coefficient")
	}
	set := make(surrogateSet, len(surr))
	for k, s := range surr {
		set[k] = s.Clone()
	}
	method := opt.Method
	if method == FrontAuto {
		method = FrontGrid
		if d > 3 {
			method = FrontNSGA2
		}
	}
	var pts []FrontPoint
	switch method {
	case FrontGrid:
		g := opt.GridPoints
		if g == 0 {
			g = 201
			if d == 3 {
				g = 41
			}
		}
		if g < 2 {
			return nil, fmt.Errorf("mapmerge: %d grid points per axis: give at least 2", g)
		}
		if total := math.Pow(float64(g), float64(d)); total > 2e6 {
			return nil, fmt.Errorf("mapmerge: a grid of %d points per axis over %d coefficients has %.0f points: use fewer points or method %q", g, d, total, FrontNSGA2)
		}
		idx := make([]int, d)
		for {
			c := make([]float64, d)
			for i := range d {
				c[i] = lo[i] + (hi[i]-lo[i])*float64(idx[i])/float64(g-1)
			}
			pts = append(pts, FrontPoint{Values: c, Predicted: set.predict(c)})
			i := 0
			for ; i < d; i++ {
				idx[i]++
				if idx[i] < g {
					break
				}
				idx[i] = 0
			}
			if i == d {
				break
			}
		}
	case FrontNSGA2:
		var err error
		if pts, err = nsgaFront(ctx, set, dirs, lo, hi, opt); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("mapmerge: unknown front method %q: use %q or %q", method, FrontGrid, FrontNSGA2)
	}
	scores := make([][]float64, len(pts))
	for i, p := range pts {
		scores[i] = p.Predicted
	}
	front := fitness.ParetoFront(scores, dirs)
	out := make([]FrontPoint, len(front))
	for i, k := range front {
		out[i] = pts[k]
	}
	sortByFirst(out)
	return out, nil
}

func sortByFirst(pts []FrontPoint) {
	for i := 1; i < len(pts); i++ {
		for j := i; j > 0 && less(pts[j], pts[j-1]); j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
}

func less(a, b FrontPoint) bool {
	for k := range a.Predicted {
		if a.Predicted[k] != b.Predicted[k] {
			return a.Predicted[k] < b.Predicted[k]
		}
	}
	for k := range a.Values {
		if a.Values[k] != b.Values[k] {
			return a.Values[k] < b.Values[k]
		}
	}
	return false
}

// surrogateEvaluator scores candidates with the surrogates (a synthetic
// evaluator for NSGA-II).
type surrogateEvaluator struct{ set surrogateSet }

func (e surrogateEvaluator) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	for _, c := range batch {
		c.Scores, c.Status = e.set.predict(c.Genome.Values), population.StatusOK
	}
	return ctx.Err()
}

func nsgaFront(ctx context.Context, set surrogateSet, dirs []fitness.Direction, lo, hi []float64, opt FrontOptions) ([]FrontPoint, error) {
	pop, gens := opt.Population, opt.Generations
	if pop == 0 {
		pop = 100
	}
	if gens == 0 {
		gens = 100
	}
	dims := make([]population.Dim, len(lo))
	for i := range dims {
		upper := hi[i]
		if upper <= lo[i] {
			upper = lo[i] + 1e-9
		}
		dims[i] = population.Dim{Name: fmt.Sprintf("c%d", i), Kind: population.KindFloat, Lower: lo[i], Upper: upper}
	}
	space, err := population.NewSpace(dims)
	if err != nil {
		return nil, fmt.Errorf("mapmerge: surrogate box: %w", err)
	}
	if opt.Inner == nil {
		return nil, fmt.Errorf("mapmerge: the NSGA-II front over %d coefficients needs FrontOptions.Inner, the multi-objective method to run on the surrogates", len(lo))
	}
	m, err := opt.Inner(pop)
	if err != nil {
		return nil, err
	}
	res, err := search.Run(ctx, m, surrogateEvaluator{set}, search.Problem{Space: space, Directions: dirs, Seed: opt.Seed},
		search.Settings{MaxEvaluations: pop * (gens + 1)})
	if err != nil {
		return nil, err
	}
	if res.Status == search.StatusFailure || res.Status == search.StatusCancelled {
		return nil, fmt.Errorf("mapmerge: NSGA-II on the surrogates: %w", res.Err)
	}
	out := make([]FrontPoint, 0, len(res.Front))
	for _, c := range res.FrontCandidates() {
		out = append(out, FrontPoint{Values: append([]float64(nil), c.Genome.Values...), Predicted: append([]float64(nil), c.Scores...)})
	}
	return out, nil
}

// Choose returns the index of the front point that maximises the
// preference-weighted predicted metrics p̂ · M̃(c) with p̂ = p/‖p‖ (a
// minimised objective enters with a minus sign); ties go to the lowest index.
func Choose(front []FrontPoint, pref []float64, dirs []fitness.Direction) (int, error) {
	if len(front) == 0 {
		return 0, errors.New("mapmerge: empty front")
	}
	if err := fitness.ValidateWeights(pref, len(dirs)); err != nil {
		return 0, fmt.Errorf("mapmerge: preference: %w", err)
	}
	norm := 0.0
	for _, p := range pref {
		norm += p * p
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		return 0, errors.New("mapmerge: preference vector is all zero: give at least one positive weight")
	}
	best, bestV := 0, math.Inf(-1)
	for i, f := range front {
		v := 0.0
		for k, p := range pref {
			s := f.Predicted[k]
			if dirs[k] == fitness.Minimize {
				s = -s
			}
			v += p / norm * s
		}
		if v > bestV {
			best, bestV = i, v
		}
	}
	return best, nil
}
