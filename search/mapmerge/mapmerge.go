package mapmerge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Operator names in candidates' lineage.
const (
	OpDesign   = "map-design"
	OpAdaptive = "map-adaptive"
	OpFront    = "map-front"
)

// Config are MAP's settings. The zero value is the reference setting: a
// budget of (N+1)(N+2) design points (the N one-hots, the rest a Latin
// hypercube), sigmoid surrogates for maximised and softplus for minimised
// objectives, the surrogate front on a dense grid (≤ 3 coefficients) or by
// NSGA-II, and 8 front points plus one per preference re-evaluated.
type Config struct {
	// Budget is the number of design evaluations; 0 means (N+1)(N+2).
	// Ignored when Schedule is set.
	Budget int
	// NoOneHots leaves the one-hot points out of the design.
	NoOneHots bool
	// Schedule turns on Bayesian MAP's adaptive sampling: Schedule[0]
	// design points, then one round of Schedule[r] error-driven points for
	// every further entry.
	Schedule []int
	// Sampler configures adaptive sampling; zero means
	// DefaultAdaptiveSampler.
	Sampler AdaptiveSampler
	// Activations has one activation per objective; nil means sigmoid for
	// maximised and softplus for minimised objectives.
	Activations []Activation
	// Front configures the search of the surrogate front.
	Front FrontOptions
	// Preferences are the users' weight vectors (one weight per objective)
	// whose chosen points are re-evaluated; nil means one equal-weight
	// vector.
	Preferences [][]float64
	// Reevaluate is the number of predicted-front points, evenly spread
	// along it, evaluated for real besides the preferences' choices (0
	// means 8; negative means none).
	Reevaluate int
}

// Sample is one evaluated design point.
type Sample struct {
	Values []float64 `json:"values"`
	Scores []float64 `json:"scores"`
	ID     string    `json:"id"`
	// Round is 0 for the initial design, r for the r-th adaptive round.
	Round int `json:"round"`
}

// Outcome is what MAP found.
type Outcome struct {
	// Design lists the successful design evaluations.
	Design []Sample `json:"design"`
	// Surrogates has one fitted surrogate per objective.
	Surrogates []*Surrogate `json:"surrogates"`
	// InSample is each surrogate's quality on the points it was fitted on;
	// CrossValidated its leave-one-out (held-out) quality.
	InSample       []Quality `json:"in_sample"`
	CrossValidated []Quality `json:"cross_validated"`
	// Lower and Upper bound the sampled box the front was searched in.
	Lower, Upper []float64
	// Front is the surrogates' predicted Pareto front.
	Front []FrontPoint `json:"front"`
	// Chosen are the re-evaluated points (preferences' choices first).
	Chosen []FrontPoint `json:"chosen"`
	// Picks[i] indexes Chosen: the point of preference i.
	Picks []int `json:"picks"`
}

type phase int

const (
	phaseDesign phase = iota
	phaseChosen
	phaseDone
)

// Method is MAP (Li et al., ICLR 2025) behind search's ask/tell protocol.
type Method struct {
	cfg   Config
	p     search.Problem
	r     *rand.Rand
	phase phase
	round int
	acts  []Activation

	pending []*population.Candidate
	units   [][]float64 // unit-cube coordinates of pending design points
	samples []Sample
	sunits  [][]float64
	out     *Outcome
}

var _ search.Method = (*Method)(nil)

// New returns the method.
func New(cfg Config) (*Method, error) {
	if cfg.Budget < 0 {
		return nil, fmt.Errorf("mapmerge: budget %d: give a positive count (0 means (N+1)(N+2))", cfg.Budget)
	}
	for i, n := range cfg.Schedule {
		if n < 1 {
			return nil, fmt.Errorf("mapmerge: schedule entry %d is %d: every round needs at least one point", i, n)
		}
	}
	for _, a := range cfg.Activations {
		if !a.valid() {
			return nil, fmt.Errorf("mapmerge: unknown activation %q: use %q, %q or %q", a, Sigmoid, Softplus, Identity)
		}
	}
	cfg.Schedule = slices.Clone(cfg.Schedule)
	cfg.Activations = slices.Clone(cfg.Activations)
	return &Method{cfg: cfg}, nil
}

// Init implements search.Method.
func (m *Method) Init(p search.Problem) error {
	n, k := p.Space.Len(), len(p.Directions)
	for i, d := range p.Space.Dims() {
		if d.Kind != population.KindFloat {
			return fmt.Errorf("mapmerge: dimension %d (%s) is %s: MAP searches real coefficients only", i, d.Name, d.Kind)
		}
	}
	m.acts = m.cfg.Activations
	if m.acts == nil {
		m.acts = make([]Activation, k)
		for i, d := range p.Directions {
			m.acts[i] = Sigmoid
			if d == fitness.Minimize {
				m.acts[i] = Softplus
			}
		}
	}
	if len(m.acts) != k {
		return fmt.Errorf("mapmerge: %d activations for %d objectives: give one per objective", len(m.acts), k)
	}
	if m.cfg.Preferences == nil {
		eq := make([]float64, k)
		for i := range eq {
			eq[i] = 1
		}
		m.cfg.Preferences = [][]float64{eq}
	}
	for i, pref := range m.cfg.Preferences {
		if err := fitness.ValidateWeights(pref, k); err != nil {
			return fmt.Errorf("mapmerge: preference %d: %w", i, err)
		}
	}
	total := m.cfg.Budget
	if total == 0 {
		total = (n + 1) * (n + 2)
	}
	if len(m.cfg.Schedule) > 0 {
		total = 0
		for _, s := range m.cfg.Schedule {
			total += s
		}
		if n < 2 {
			return errors.New("mapmerge: adaptive sampling bins directions of the coefficient vector: it needs at least 2 coefficients")
		}
	}
	if total < NumTerms(n) {
		return fmt.Errorf("mapmerge: a budget of %d points cannot fit a quadratic in %d coefficients (%d terms): give at least %d", total, n, NumTerms(n), NumTerms(n))
	}
	if m.cfg.Sampler == (AdaptiveSampler{}) {
		m.cfg.Sampler = DefaultAdaptiveSampler(n)
	}
	if s := m.cfg.Sampler; s.Bins < 1 || s.Temperature <= 0 || s.MinRadius < 0 || s.MinRadius >= 1 || s.Lambda < 0 || s.Bootstraps < 0 {
		return fmt.Errorf("mapmerge: adaptive sampler %+v: bins ≥ 1, temperature > 0, 0 ≤ min radius < 1, λ ≥ 0", s)
	}
	m.p = p
	m.r = rng.New(p.Seed, "search/mapmerge")
	m.phase, m.round = phaseDesign, 0
	m.samples, m.sunits, m.out, m.pending = nil, nil, nil, nil
	return nil
}

// Ask implements search.Method.
func (m *Method) Ask() ([]*population.Candidate, error) {
	if m.r == nil {
		return nil, errors.New("mapmerge: Ask before Init")
	}
	switch m.phase {
	case phaseDesign:
		units, op, err := m.designUnits()
		if err != nil {
			return nil, err
		}
		m.units = units
		m.pending = make([]*population.Candidate, len(units))
		for i, u := range units {
			m.pending[i] = &population.Candidate{Genome: population.Genome{Values: m.p.Space.Decode(u)}, Lineage: population.Lineage{Operator: op}}
		}
	case phaseChosen:
		m.pending = make([]*population.Candidate, len(m.out.Chosen))
		for i, f := range m.out.Chosen {
			m.pending[i] = &population.Candidate{Genome: population.VectorGenome(f.Values), Lineage: population.Lineage{Operator: OpFront}}
		}
	default:
		m.pending = nil
	}
	return m.pending, nil
}

// designUnits returns the unit-cube points of the current design round.
func (m *Method) designUnits() ([][]float64, string, error) {
	n := m.p.Space.Len()
	if m.round == 0 {
		total := m.cfg.Budget
		if total == 0 {
			total = (n + 1) * (n + 2)
		}
		if len(m.cfg.Schedule) > 0 {
			total = m.cfg.Schedule[0]
		}
		var pts [][]float64
		if !m.cfg.NoOneHots {
			pts = OneHots(n)
			if len(pts) > total {
				pts = pts[:total]
			}
		}
		pts = append(pts, LatinHypercube(total-len(pts), n, m.r)...)
		return pts, OpDesign, nil
	}
	// An adaptive round: residuals of the current surrogates.
	surr, err := m.fit()
	if err != nil {
		return nil, "", err
	}
	sq := make([]float64, len(m.samples))
	for k := range m.p.Directions {
		ys := make([]float64, len(m.samples))
		for i, s := range m.samples {
			ys[i] = s.Scores[k]
		}
		scale := variance(ys)
		if scale <= 0 {
			scale = 1
		}
		for i, s := range m.samples {
			d := surr[k].Predict(s.Values) - s.Scores[k]
			sq[i] += d * d / scale
		}
	}
	probs := m.cfg.Sampler.Probabilities(m.sunits, sq, m.r)
	pts := make([][]float64, m.cfg.Schedule[m.round])
	for i := range pts {
		pts[i] = m.cfg.Sampler.Sample(probs, n, m.r)
	}
	return pts, OpAdaptive, nil
}

func variance(x []float64) float64 {
	mu := mean(x)
	v := 0.0
	for _, a := range x {
		v += (a - mu) * (a - mu)
	}
	return v / float64(len(x))
}

// fit fits one surrogate per objective on the successful samples.
func (m *Method) fit() ([]*Surrogate, error) {
	xs := make([][]float64, len(m.samples))
	for i, s := range m.samples {
		xs[i] = s.Values
	}
	out := make([]*Surrogate, len(m.p.Directions))
	for k := range out {
		ys := make([]float64, len(m.samples))
		for i, s := range m.samples {
			ys[i] = s.Scores[k]
		}
		s, err := Fit(xs, ys, m.acts[k])
		if err != nil {
			return nil, fmt.Errorf("mapmerge: objective %d: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// Tell implements search.Method.
func (m *Method) Tell(batch []*population.Candidate) error {
	if len(batch) != len(m.pending) {
		return fmt.Errorf("mapmerge: told %d candidates, asked %d: tell the whole last batch", len(batch), len(m.pending))
	}
	switch m.phase {
	case phaseDesign:
		for i, c := range batch {
			if !c.OK() {
				continue
			}
			m.samples = append(m.samples, Sample{Values: slices.Clone(c.Genome.Values), Scores: slices.Clone(c.Scores), ID: c.ID, Round: m.round})
			m.sunits = append(m.sunits, m.units[i])
		}
		m.round++
		if len(m.cfg.Schedule) > 0 && m.round < len(m.cfg.Schedule) {
			return nil
		}
		return m.finishDesign()
	case phaseChosen:
		for i, c := range batch {
			if c.OK() {
				m.out.Chosen[i].Real = slices.Clone(c.Scores)
				m.out.Chosen[i].ID = c.ID
			}
		}
		m.phase = phaseDone
	}
	m.pending = nil
	return nil
}

// finishDesign fits the surrogates, measures them, searches the front and
// picks the points to re-evaluate.
func (m *Method) finishDesign() error {
	surr, err := m.fit()
	if err != nil {
		return err
	}
	n := m.p.Space.Len()
	out := &Outcome{Design: m.samples, Surrogates: surr, Lower: make([]float64, n), Upper: make([]float64, n)}
	xs := make([][]float64, len(m.samples))
	for i, s := range m.samples {
		xs[i] = s.Values
	}
	for k := range surr {
		ys := make([]float64, len(m.samples))
		for i, s := range m.samples {
			ys[i] = s.Scores[k]
		}
		out.InSample = append(out.InSample, surr[k].Evaluate(xs, ys))
		q, err := CrossValidate(xs, ys, m.acts[k])
		if err != nil {
			q = Quality{R2: math.NaN(), RMSE: math.NaN(), Points: len(xs)}
		}
		out.CrossValidated = append(out.CrossValidated, q)
	}
	for i := range n {
		out.Lower[i], out.Upper[i] = math.Inf(1), math.Inf(-1)
		for _, s := range m.samples {
			out.Lower[i] = min(out.Lower[i], s.Values[i])
			out.Upper[i] = max(out.Upper[i], s.Values[i])
		}
	}
	fo := m.cfg.Front
	if fo.Seed == 0 {
		fo.Seed = rng.Derive(m.p.Seed, "search/mapmerge", "front")
	}
	front, err := PredictedFront(context.Background(), surr, m.p.Directions, out.Lower, out.Upper, fo)
	if err != nil {
		return err
	}
	out.Front = front
	chosen := map[int]int{} // front index → Chosen index
	add := func(i int) int {
		if j, ok := chosen[i]; ok {
			return j
		}
		chosen[i] = len(out.Chosen)
		f := front[i]
		out.Chosen = append(out.Chosen, FrontPoint{Values: slices.Clone(f.Values), Predicted: slices.Clone(f.Predicted)})
		return chosen[i]
	}
	for _, pref := range m.cfg.Preferences {
		i, err := Choose(front, pref, m.p.Directions)
		if err != nil {
			return err
		}
		out.Picks = append(out.Picks, add(i))
	}
	k := m.cfg.Reevaluate
	if k == 0 {
		k = DefaultReevaluate
	}
	if k > 0 {
		for _, i := range spreadIndexes(len(front), k) {
			add(i)
		}
	}
	m.out = out
	m.phase = phaseChosen
	return nil
}

// Outcome returns the result once the design is finished (nil before);
// Chosen points carry Real scores once re-evaluated.
func (m *Method) Outcome() *Outcome { return m.out }

// Comparison is a surrogate's prediction at an evaluated point next to the
// measured score, for reports (surrogate against true values).
type Comparison struct {
	ID        string
	Objective int
	Predicted float64
	Measured  float64
	// Design is true for design points (the surrogate was fitted on them)
	// and false for re-evaluated front points (held out).
	Design bool
}

// Comparisons lists the predictions of every surrogate at every design
// point and every re-evaluated front point, in that order.
func (o *Outcome) Comparisons() []Comparison {
	var out []Comparison
	for _, s := range o.Design {
		for k, sur := range o.Surrogates {
			out = append(out, Comparison{ID: s.ID, Objective: k, Predicted: sur.Clone().Predict(s.Values), Measured: s.Scores[k], Design: true})
		}
	}
	for _, f := range o.Chosen {
		if f.Real == nil {
			continue
		}
		for k := range o.Surrogates {
			out = append(out, Comparison{ID: f.ID, Objective: k, Predicted: f.Predicted[k], Measured: f.Real[k]})
		}
	}
	return out
}
