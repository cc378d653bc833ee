package fw

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/search"
)

func TestStepSizeSchedule(t *testing.T) {
	want := []float64{0.1, 0.2 / 3, 0.05, 0.04}
	for i, w := range want {
		if got := StepSize(0.1, i); math.Abs(got-w) > 1e-15 {
			t.Errorf("γ_%d = %v, want %v", i, got, w)
		}
	}
	if StepSize(1, 0) != 1 {
		t.Error("γ_0 with η = 1 must be 1 (the classic first FW step)")
	}
}

func TestLMO(t *testing.T) {
	// Three members, then the base; two tensors.
	align := [][]float64{
		{-0.2, 0.5},
		{-0.9, 0.1},
		{0.3, 0.2},
		{-0.1, 0.4}, // base
	}
	vertex := make([]int, 2)
	chosen := make([]float64, 2)
	LMO(vertex, chosen, align, GranularityLayer)
	// Tensor 0: member 1 (−0.9). Tensor 1: every alignment ≥ 0: stay.
	if vertex[0] != 1 || chosen[0] != -0.9 || vertex[1] != search.VertexStay {
		t.Fatalf("layer LMO = %v %v", vertex, chosen)
	}
	LMO(vertex, chosen, align, GranularityTask)
	// Sums: 0.3, −0.8, 0.5, 0.3: member 1 for every tensor.
	if vertex[0] != 1 || vertex[1] != 1 || chosen[1] != 0.1 {
		t.Fatalf("task LMO = %v %v", vertex, chosen)
	}
	// The base wins when it is the most aligned.
	align[3][1] = -0.5
	LMO(vertex, chosen, align, GranularityLayer)
	if vertex[1] != search.VertexBase {
		t.Fatalf("layer LMO with a descending base = %v", vertex)
	}
	// Ties go to the lowest index.
	tie := [][]float64{{-0.5}, {-0.5}, {0}}
	LMO(vertex[:1], chosen[:1], tie, GranularityLayer)
	if vertex[0] != 0 {
		t.Fatalf("tie went to %d, want 0", vertex[0])
	}
	// All sums ≥ 0 in task mode: no move.
	pos := [][]float64{{0.1, 0.2}, {0.3, -0.1}, {0, 0}}
	LMO(vertex, chosen, pos, GranularityTask)
	if vertex[0] != search.VertexStay || vertex[1] != search.VertexStay {
		t.Fatalf("task LMO without descent = %v", vertex)
	}
}

// plane is a synthetic FW problem: each tensor is a point of R², the loss
// is ½‖θ − target‖² summed over tensors, vertices are fixed points.
type plane struct {
	members [][][2]float64 // [k][l]
	base    [][2]float64
	theta   [][2]float64
	target  [][2]float64
	steps   int
}

func (p *plane) PoolSize() int   { return len(p.members) }
func (p *plane) NumTensors() int { return len(p.base) }
func (p *plane) NumTasks() int   { return 1 }

func (p *plane) vertex(v, l int) [2]float64 {
	if v == search.VertexBase {
		return p.base[l]
	}
	return p.members[v][l]
}

func (p *plane) Align(_ context.Context, _ int, align [][]float64) (float64, error) {
	var loss float64
	for l := range p.base {
		g := [2]float64{p.theta[l][0] - p.target[l][0], p.theta[l][1] - p.target[l][1]}
		loss += 0.5 * (g[0]*g[0] + g[1]*g[1])
		for v := range align {
			idx := v
			if v == len(p.members) {
				idx = search.VertexBase
			}
			s := p.vertex(idx, l)
			d := [2]float64{s[0] - p.theta[l][0], s[1] - p.theta[l][1]}
			n := math.Hypot(d[0], d[1]) * math.Hypot(g[0], g[1])
			align[v][l] = 0
			if n > 0 {
				align[v][l] = (g[0]*d[0] + g[1]*d[1]) / n
			}
		}
	}
	return loss, nil
}

func (p *plane) Step(_ context.Context, vertex []int, scale float64) error {
	p.steps++
	for l, v := range vertex {
		if v == search.VertexStay {
			continue
		}
		s := p.vertex(v, l)
		p.theta[l][0] += scale * (s[0] - p.theta[l][0])
		p.theta[l][1] += scale * (s[1] - p.theta[l][1])
	}
	return nil
}

func newPlane() *plane {
	return &plane{
		// Member 0 and 1 span the target; member 2 points away from it.
		members: [][][2]float64{
			{{1, 0}, {0, 1}},
			{{0, 1}, {1, 0}},
			{{-3, -3}, {-3, -3}},
		},
		base:   [][2]float64{{0, 0}, {0, 0}},
		theta:  [][2]float64{{0, 0}, {0, 0}},
		target: [][2]float64{{0.5, 0.5}, {0.3, 0.3}},
	}
}

func TestMergeDescendsAndIgnoresIrrelevantMember(t *testing.T) {
	p := newPlane()
	var observed int
	res, err := Merge(context.Background(), p, Options{Iterations: 30, StepSize: 1, Observe: func(Iteration) error { observed++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if observed != 30 || len(res.Iterations) != 30 || p.steps != 30 {
		t.Fatalf("observed %d, %d iterations, %d steps", observed, len(res.Iterations), p.steps)
	}
	if res.Chosen[2] != 0 {
		t.Errorf("the irrelevant member was chosen %d times", res.Chosen[2])
	}
	first, last := res.Iterations[0].Loss, res.Iterations[29].Loss
	if !(last < first/10) {
		t.Errorf("loss %v → %v: FW did not descend", first, last)
	}
	for l := range p.theta {
		for i := range 2 {
			if math.Abs(p.theta[l][i]-p.target[l][i]) > 0.08 {
				t.Errorf("θ[%d] = %v, target %v", l, p.theta[l], p.target[l])
			}
		}
	}
	if res.Iterations[0].Gamma != 1 || res.Iterations[2].Gamma != 0.5 {
		t.Errorf("γ = %v, %v", res.Iterations[0].Gamma, res.Iterations[2].Gamma)
	}
}

func TestMergeDeterministic(t *testing.T) {
	a, _ := Merge(context.Background(), newPlane(), Options{Iterations: 7, StepSize: 0.5, Granularity: GranularityTask})
	b, _ := Merge(context.Background(), newPlane(), Options{Iterations: 7, StepSize: 0.5, Granularity: GranularityTask})
	for i := range a.Iterations {
		if a.Iterations[i].Loss != b.Iterations[i].Loss || a.Iterations[i].Vertex[0] != b.Iterations[i].Vertex[0] {
			t.Fatalf("iteration %d differs", i)
		}
	}
}

func TestMergeOptionErrors(t *testing.T) {
	cases := []struct {
		opt  Options
		want string
	}{
		{Options{Iterations: -1}, "iterations"},
		{Options{StepSize: -1}, "step size"},
		{Options{Granularity: "block"}, "granularity"},
		{Options{Variant: "medium"}, "variant"},
		{Options{Variant: VariantSoft}, "SoftAlignmentEvaluator"},
	}
	for _, c := range cases {
		_, err := Merge(context.Background(), newPlane(), c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt, err, c.want)
		}
	}
}

func TestSelectedNames(t *testing.T) {
	hard := Iteration{Vertex: []int{1, search.VertexBase, search.VertexStay, 0}}
	got := hard.SelectedNames([]string{"a", "b"})
	want := []string{"b", "base", "stay", "a"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("hard names %v, want %v", got, want)
		}
	}
	soft := Iteration{Selected: []int{2, 0}}
	if got := soft.SelectedNames([]string{"a", "b", "c"}); got[0] != "c" || got[1] != "a" {
		t.Fatalf("soft names %v", got)
	}
}

// softPlane is a SoftAlignmentEvaluator whose two tasks both prefer member
// 0 by summed alignment; it records what the soft loop asks of it.
type softPlane struct {
	*plane
	adapted  [][]int
	firstSaw []float64
	applied  [][]float64
}

func (p *softPlane) NumTasks() int { return 2 }

func (p *softPlane) Align(_ context.Context, task int, align [][]float64) (float64, error) {
	for v := range align {
		for l := range align[v] {
			align[v][l] = float64(v) - 3 // member 0 best, then 1, then 2
		}
	}
	return float64(task + 1), nil
}

func (p *softPlane) Adapt(_ context.Context, selected []int) (search.GradientEvaluator, error) {
	p.adapted = append(p.adapted, append([]int(nil), selected...))
	p.firstSaw = nil
	return gradFunc(func(values, grad []float64) float64 {
		if p.firstSaw == nil {
			p.firstSaw = append([]float64(nil), values...)
		}
		for i := range grad {
			grad[i] = 0
		}
		return 0
	}), nil
}

func (p *softPlane) Apply(_ context.Context, selected []int, c []float64) error {
	p.applied = append(p.applied, append([]float64(nil), c...))
	return nil
}

type gradFunc func(values, grad []float64) float64

func (f gradFunc) LossGrad(_ context.Context, values, grad []float64) (float64, error) {
	return f(values, grad), nil
}

func TestSoftSelectsDistinctMembersAndAdapts(t *testing.T) {
	p := &softPlane{plane: newPlane()}
	res, err := Merge(context.Background(), p, Options{Variant: VariantSoft, Iterations: 2, AdaInit: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	// Both tasks prefer member 0; the second task must take the next best.
	for _, sel := range p.adapted {
		if len(sel) != 2 || sel[0] != 0 || sel[1] != 1 {
			t.Fatalf("selections %v, want [0 1] per iteration", p.adapted)
		}
	}
	if len(p.applied) != 2 || len(p.applied[0]) != 2*2 {
		t.Fatalf("applied %v: want one coefficient per selected member and tensor, per iteration", p.applied)
	}
	// The last iteration's AdaMerging started at AdaInit (the first at 0.3).
	if p.firstSaw[0] != 0.01 || res.Iterations[0].Coefficients[0] != 0.3 {
		t.Fatalf("starts %v / %v", p.firstSaw, res.Iterations[0].Coefficients)
	}
	if res.Iterations[1].Loss != 3 || res.Chosen[0] != 2 || res.Chosen[1] != 2 {
		t.Fatalf("loss %v, chosen %v", res.Iterations[1].Loss, res.Chosen)
	}
}
