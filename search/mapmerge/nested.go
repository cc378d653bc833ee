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

// Lineage operators of nested MAP.
const (
	OpNestedSingle = "nested-single"
	OpNestedDesign = "nested-design"
	OpNestedChoice = "nested-choice"
)

// NestedConfig configures nested MAP for many tasks.
type NestedConfig struct {
	// Preferences has one weight per task (objective); nil means equal.
	Preferences []float64
	// PointsPerMerge is the design size of each 2-task merge (default 20).
	PointsPerMerge int
	// Isotropic is the fraction of the design on the diagonal c_a = c_b
	// (default 0.2).
	Isotropic float64
	// GridPoints per axis of the 2-D surrogate front (default 201).
	GridPoints int
}

// NestedMerge records one pairwise merge.
type NestedMerge struct {
	// A and B are the task indexes of the two groups.
	A, B []int
	// Ca and Cb are the chosen coefficients of the groups' task vectors.
	Ca, Cb float64
	// Values is the merged group's coefficient vector over all tasks.
	Values []float64
	// Predicted are the surrogates' group metrics at the choice; Real the
	// evaluated preference-weighted group metrics of A and B there.
	Predicted, Real []float64
	// CrossValidated is the held-out quality of the two group surrogates.
	CrossValidated []Quality
}

// group is a set of tasks merged into one model.
type group struct {
	tasks  []int
	values []float64 // coefficient vector over all tasks
	metric float64   // preference-weighted metric of its own tasks
}

// Nested is nested MAP (search-algorithms §2.8) as an ask/tell method over
// the coefficient vector c ∈ [0, 1]^N of N task vectors (objective k is the
// metric of task k; every objective has the same direction). A group G's
// model is θ_pre + Σ_n v_G[n] τ_n, so merging groups a and b with
// coefficients (c_a, c_b) is the coefficient vector c_a v_a + c_b v_b: every
// merge of the tree is evaluated by the same evaluator as plain MAP.
//
// Steps: evaluate the N one-hot points (each task's model alone); then, while
// more than one group is left, pair the two groups whose metrics are
// closest, sample PointsPerMerge points (c_a, c_b) ∈ [0,1]² (the two
// one-hots, Isotropic of them on the diagonal, a Latin hypercube for the
// rest), fit one surrogate per side of its preference-weighted group metric
// Σ_{t∈G} p_t/Σ_G p · M_t, take the dense-grid front, choose the point with
// preference (Σ_{G_a} p, Σ_{G_b} p) and evaluate it for real; the merged
// group replaces the pair. N − 1 merges cost (N − 1)(PointsPerMerge + 1) + N
// evaluations.
type Nested struct {
	cfg     NestedConfig
	p       search.Problem
	r       *rand.Rand
	groups  []group
	merges  []NestedMerge
	pending []*population.Candidate
	stage   int // 0: singles, 1: design of a pair, 2: choice of a pair, 3: done
	a, b    int // groups being merged
	ab      [][2]float64
	act     Activation
}

var _ search.Method = (*Nested)(nil)

// NewNested returns nested MAP.
func NewNested(cfg NestedConfig) (*Nested, error) {
	if cfg.PointsPerMerge == 0 {
		cfg.PointsPerMerge = DefaultPointsPerMerge
	}
	if cfg.Isotropic == 0 {
		cfg.Isotropic = DefaultIsotropic
	}
	if cfg.GridPoints == 0 {
		cfg.GridPoints = 201
	}
	if cfg.PointsPerMerge < NumTerms(2)+1 {
		return nil, fmt.Errorf("mapmerge: %d points per merge: a 2-D quadratic needs at least %d (and one more to cross-validate)", cfg.PointsPerMerge, NumTerms(2)+1)
	}
	if !(cfg.Isotropic >= 0 && cfg.Isotropic < 1) {
		return nil, fmt.Errorf("mapmerge: isotropic fraction %v: give a value in [0, 1)", cfg.Isotropic)
	}
	cfg.Preferences = slices.Clone(cfg.Preferences)
	return &Nested{cfg: cfg}, nil
}

// Init implements search.Method.
func (m *Nested) Init(p search.Problem) error {
	n := p.Space.Len()
	if len(p.Directions) != n {
		return fmt.Errorf("mapmerge: nested MAP needs one objective per task vector: %d objectives for %d coefficients", len(p.Directions), n)
	}
	if n < 2 {
		return errors.New("mapmerge: nested MAP needs at least two tasks")
	}
	for i, d := range p.Space.Dims() {
		if d.Kind != population.KindFloat || d.Lower > 0 || d.Upper < 1 {
			return fmt.Errorf("mapmerge: nested MAP: coefficient %d (%s) must be a real dimension spanning [0, 1]", i, d.Name)
		}
		if p.Directions[i] != p.Directions[0] {
			return errors.New("mapmerge: nested MAP averages task metrics within a group: every objective needs the same direction")
		}
	}
	if m.cfg.Preferences == nil {
		m.cfg.Preferences = make([]float64, n)
		for i := range m.cfg.Preferences {
			m.cfg.Preferences[i] = 1
		}
	}
	if err := fitness.ValidateWeights(m.cfg.Preferences, n); err != nil {
		return fmt.Errorf("mapmerge: nested preferences: %w", err)
	}
	for t, v := range m.cfg.Preferences {
		if v <= 0 {
			return fmt.Errorf("mapmerge: nested preference of task %d is %v: every task needs a positive weight", t, v)
		}
	}
	m.act = Sigmoid
	if p.Directions[0] == fitness.Minimize {
		m.act = Softplus
	}
	m.p = p
	m.r = rng.New(p.Seed, "search/mapmerge", "nested")
	m.groups, m.merges, m.pending, m.stage = nil, nil, nil, 0
	return nil
}

// Ask implements search.Method.
func (m *Nested) Ask() ([]*population.Candidate, error) {
	if m.r == nil {
		return nil, errors.New("mapmerge: Ask before Init")
	}
	n := m.p.Space.Len()
	switch m.stage {
	case 0:
		m.pending = nil
		for _, e := range OneHots(n) {
			m.pending = append(m.pending, &population.Candidate{Genome: population.VectorGenome(e), Lineage: population.Lineage{Operator: OpNestedSingle}})
		}
	case 1:
		m.pairClosest()
		k := m.cfg.PointsPerMerge
		iso := int(math.Round(m.cfg.Isotropic * float64(k)))
		m.ab = [][2]float64{{1, 0}, {0, 1}}
		for range min(iso, k-2) {
			u := m.r.Float64()
			m.ab = append(m.ab, [2]float64{u, u})
		}
		for _, pt := range LatinHypercube(k-len(m.ab), 2, m.r) {
			m.ab = append(m.ab, [2]float64{pt[0], pt[1]})
		}
		m.pending = make([]*population.Candidate, len(m.ab))
		for i, c := range m.ab {
			m.pending[i] = &population.Candidate{Genome: population.Genome{Values: m.combine(c[0], c[1])}, Lineage: population.Lineage{Operator: OpNestedDesign}}
		}
	case 2:
		last := m.merges[len(m.merges)-1]
		m.pending = []*population.Candidate{{Genome: population.VectorGenome(last.Values), Lineage: population.Lineage{Operator: OpNestedChoice}}}
	default:
		m.pending = nil
	}
	return m.pending, nil
}

// combine is the coefficient vector c_a v_a + c_b v_b.
func (m *Nested) combine(ca, cb float64) []float64 {
	va, vb := m.groups[m.a].values, m.groups[m.b].values
	out := make([]float64, len(va))
	for i := range out {
		out[i] = ca*va[i] + cb*vb[i]
	}
	return out
}

// pairClosest picks the two groups with the closest metrics (ties: lowest
// indexes).
func (m *Nested) pairClosest() {
	best := math.Inf(1)
	for i := range m.groups {
		for j := i + 1; j < len(m.groups); j++ {
			if d := math.Abs(m.groups[i].metric - m.groups[j].metric); d < best {
				best, m.a, m.b = d, i, j
			}
		}
	}
}

// groupMetric is Σ_{t∈G} p_t/Σ_G p · scores_t.
func (m *Nested) groupMetric(tasks []int, scores []float64) float64 {
	var sum, w float64
	for _, t := range tasks {
		sum += m.cfg.Preferences[t] * scores[t]
		w += m.cfg.Preferences[t]
	}
	return sum / w
}

func (m *Nested) prefSum(tasks []int) float64 {
	s := 0.0
	for _, t := range tasks {
		s += m.cfg.Preferences[t]
	}
	return s
}

// Tell implements search.Method.
func (m *Nested) Tell(batch []*population.Candidate) error {
	if len(batch) != len(m.pending) {
		return fmt.Errorf("mapmerge: told %d candidates, asked %d: tell the whole last batch", len(batch), len(m.pending))
	}
	switch m.stage {
	case 0:
		for i, c := range batch {
			if !c.OK() {
				return fmt.Errorf("mapmerge: nested MAP: the model of task %d alone failed to evaluate: %s", i, c.Error)
			}
			g := group{tasks: []int{i}, values: slices.Clone(c.Genome.Values)}
			g.metric = m.groupMetric(g.tasks, c.Scores)
			m.groups = append(m.groups, g)
		}
		m.stage = 1
	case 1:
		return m.fitPair(batch)
	case 2:
		c := batch[0]
		last := &m.merges[len(m.merges)-1]
		if !c.OK() {
			return fmt.Errorf("mapmerge: nested MAP: the chosen merge of tasks %v and %v failed to evaluate: %s", last.A, last.B, c.Error)
		}
		last.Real = []float64{m.groupMetric(last.A, c.Scores), m.groupMetric(last.B, c.Scores)}
		tasks := slices.Concat(last.A, last.B)
		slices.Sort(tasks)
		merged := group{tasks: tasks, values: slices.Clone(last.Values), metric: m.groupMetric(tasks, c.Scores)}
		groups := make([]group, 0, len(m.groups)-1)
		for i, g := range m.groups {
			if i != m.a && i != m.b {
				groups = append(groups, g)
			}
		}
		m.groups = append(groups, merged)
		m.stage = 1
		if len(m.groups) == 1 {
			m.stage = 3
		}
	}
	return nil
}

// fitPair fits the two group surrogates and chooses the merge.
func (m *Nested) fitPair(batch []*population.Candidate) error {
	ga, gb := m.groups[m.a], m.groups[m.b]
	var xs [][]float64
	var ya, yb []float64
	for i, c := range batch {
		if !c.OK() {
			continue
		}
		xs = append(xs, []float64{m.ab[i][0], m.ab[i][1]})
		ya = append(ya, m.groupMetric(ga.tasks, c.Scores))
		yb = append(yb, m.groupMetric(gb.tasks, c.Scores))
	}
	sa, err := Fit(xs, ya, m.act)
	if err != nil {
		return fmt.Errorf("mapmerge: nested merge of tasks %v and %v: %w", ga.tasks, gb.tasks, err)
	}
	sb, err := Fit(xs, yb, m.act)
	if err != nil {
		return fmt.Errorf("mapmerge: nested merge of tasks %v and %v: %w", ga.tasks, gb.tasks, err)
	}
	dirs := []fitness.Direction{m.p.Directions[0], m.p.Directions[0]}
	front, err := PredictedFront(context.Background(), []*Surrogate{sa, sb}, dirs, []float64{0, 0}, []float64{1, 1},
		FrontOptions{Method: FrontGrid, GridPoints: m.cfg.GridPoints})
	if err != nil {
		return err
	}
	i, err := Choose(front, []float64{m.prefSum(ga.tasks), m.prefSum(gb.tasks)}, dirs)
	if err != nil {
		return err
	}
	ca, cb := front[i].Values[0], front[i].Values[1]
	merge := NestedMerge{A: slices.Clone(ga.tasks), B: slices.Clone(gb.tasks), Ca: ca, Cb: cb, Values: m.combine(ca, cb), Predicted: front[i].Predicted}
	for _, pair := range []struct {
		y []float64
	}{{ya}, {yb}} {
		q, err := CrossValidate(xs, pair.y, m.act)
		if err != nil {
			q = Quality{R2: math.NaN(), RMSE: math.NaN(), Points: len(xs)}
		}
		merge.CrossValidated = append(merge.CrossValidated, q)
	}
	m.merges = append(m.merges, merge)
	m.stage = 2
	return nil
}

// Merges returns the pairwise merges done so far, in order; the last one's
// Values is the final coefficient vector once Ask returns an empty batch.
func (m *Nested) Merges() []NestedMerge { return slices.Clone(m.merges) }
