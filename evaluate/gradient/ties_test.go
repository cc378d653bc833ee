package gradient

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tensor"
	"github.com/evomerge/evomerge/operators"
)

// TIES's AdaMerging++ vectors equal the operators kernels' result, and both
// equal a hand computation: two tensors of 3, three task vectors, keep 0.5.
func TestTIESEqualsOperatorsKernelsHandComputed(t *testing.T) {
	tv := &TaskVectors{
		Names:  []string{"a", "b"},
		Shapes: [][]int{{3}, {3}},
		Base:   [][]float32{{0, 0, 0}, {0, 0, 0}},
		Tau: [][][]float32{
			{{4, -1, 2}, {-3, 0.5, 3}},
			{{-2, 3, -0.5}, {1, -5, -3}},
			{{1, -2, -6}, {2, 0.1, -2}},
		},
	}
	cases := []struct {
		scope   string
		trimmed [][][]float32
		want    [][][]float32
	}{{
		// Model-wide: ⌈0.5·6⌉ = 3 per vector; ties at the threshold in
		// tensor order (τ1: −3 before 3 at |3|; τ3: −2, 2 kept, the last −2 not).
		scope: TrimModel,
		trimmed: [][][]float32{
			{{4, 0, 0}, {-3, 0, 3}},
			{{0, 3, 0}, {0, -5, -3}},
			{{0, -2, -6}, {2, 0, 0}},
		},
		// Sums (4, 1, −6 | −1, −5, 0): signs + + − | − − and, for the zero
		// sum of b[2], the sign of the total mass 4+1−6−1−5+0 < 0.
		want: [][][]float32{
			{{4, 0, 0}, {-3, 0, 0}},
			{{0, 3, 0}, {0, -5, -3}},
			{{0, 0, -6}, {0, 0, 0}},
		},
	}, {
		// Per tensor: ⌈0.5·3⌉ = 2 per tensor.
		scope: TrimTensor,
		trimmed: [][][]float32{
			{{4, 0, 2}, {-3, 0, 3}},
			{{-2, 3, 0}, {0, -5, -3}},
			{{0, -2, -6}, {2, 0, -2}},
		},
		// Sums (2, 1, −4 | −1, −5, −2): + + − | − − −.
		want: [][][]float32{
			{{4, 0, 0}, {-3, 0, 0}},
			{{0, 3, 0}, {0, -5, -3}},
			{{0, 0, -6}, {0, 0, -2}},
		},
	}}
	for _, c := range cases {
		got, err := tv.TIES(0.5, c.scope)
		if err != nil {
			t.Fatal(err)
		}
		// The operators kernels, called directly.
		var scratch []float32
		kern := make([][][]float32, len(tv.Tau))
		for k, vecs := range tv.Tau {
			kern[k] = [][]float32{make([]float32, 3), make([]float32, 3)}
			scratch = operators.Trim(kern[k], vecs, 0.5, c.scope, true, scratch)
			for l := range vecs {
				if !slices.Equal(kern[k][l], c.trimmed[k][l]) {
					t.Errorf("%s: trimmed τ%d[%s] = %v, want %v", c.scope, k+1, tv.Names[l], kern[k][l], c.trimmed[k][l])
				}
			}
		}
		zero := operators.MassSign(kern)
		if zero != -1 {
			t.Errorf("%s: mass sign %v, want -1", c.scope, zero)
		}
		sign := make([]float32, 3)
		for l := range tv.Names {
			xs := [][]float32{kern[0][l], kern[1][l], kern[2][l]}
			operators.ElectSign(sign, nil, xs, zero)
			operators.DropDisagreeing(xs, nil, sign)
		}
		for k := range c.want {
			for l := range c.want[k] {
				if !slices.Equal(got.Tau[k][l], c.want[k][l]) {
					t.Errorf("%s: TIES τ'%d[%s] = %v, want %v", c.scope, k+1, tv.Names[l], got.Tau[k][l], c.want[k][l])
				}
				if !slices.Equal(got.Tau[k][l], kern[k][l]) {
					t.Errorf("%s: TIES τ'%d[%s] = %v, the kernels give %v", c.scope, k+1, tv.Names[l], got.Tau[k][l], kern[k][l])
				}
			}
		}
	}
	if tv.Tau[0][1][2] != 3 || tv.Tau[2][1][2] != -2 {
		t.Error("TIES modified its input")
	}
}

// Where keep·n is whole (so ⌈·⌉ = ⌊·⌋) and no elected sum is zero, the sum of
// AdaMerging++'s vectors is the ties operator's merge with merge = sum and
// λ = 1 (zero base: the merge is the disjoint sum itself), bit for bit.
func TestTIESVectorsSumToTheTIESOperator(t *testing.T) {
	r := rng.New(21, "ties-operator")
	sizes := map[string]int{"layers.0.weight": 40, "layers.0.bias": 8, "layers.1.weight": 32}
	var base []checkpoint.Tensor
	models := make([][]checkpoint.Tensor, 3)
	for _, name := range []string{"layers.0.bias", "layers.0.weight", "layers.1.weight"} {
		n := sizes[name]
		base = append(base, checkpoint.Tensor{Name: name, Shape: []int{n}, Data: make([]float32, n)})
		for k := range models {
			d := make([]float32, n)
			for i := range d {
				d[i] = float32(r.NormFloat64())
			}
			models[k] = append(models[k], checkpoint.Tensor{Name: name, Shape: []int{n}, Data: d})
		}
	}
	src, err := operators.NewMemSource(base, models...)
	if err != nil {
		t.Fatal(err)
	}
	tv, err := NewTaskVectors(src, operators.TaskTensors{})
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{TrimTensor, TrimModel} {
		pp, err := tv.TIES(0.25, scope)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := operators.NewPlan(operators.TIES(), src, operators.Settings{Default: operators.Values{Global: map[string]operators.Value{
			"density": operators.F(0.25), "trim_scope": operators.C(scope), "merge": operators.C("sum"), "lambda": operators.F(1)}}}, operators.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		merged := map[string][]float32{}
		err = operators.MergeAll(context.Background(), plan, src, func(m operators.TensorMeta) []float32 {
			merged[m.Name] = make([]float32, m.NumElements())
			return merged[m.Name]
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for l, name := range tv.Names {
			for e := range tv.Base[l] {
				var s float32
				for k := range pp.Tau {
					s += pp.Tau[k][l][e]
				}
				if s != merged[name][e] {
					t.Fatalf("%s: %s[%d]: Σ τ' = %v, the ties operator gives %v", scope, name, e, s, merged[name][e])
				}
			}
		}
	}
}

// FW's TIES step is θ + scale·Trim(s − θ) with the operators kernel.
func TestFrankWolfeTIESStepIsTheOperatorsTrim(t *testing.T) {
	f := newFixture(t, 1, []int{5})
	tv := f.taskVectors(t)
	pool := writePool(t, f, 1)
	ev, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{Rule: RuleTIES, TIESKeep: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Step(context.Background(), make([]int, tv.NumTensors()), 0.5); err != nil {
		t.Fatal(err)
	}
	delta := make([][]float32, tv.NumTensors())
	for l := range delta {
		delta[l] = slices.Clone(tv.Tau[0][l])
	}
	operators.Trim(delta, delta, 0.3, operators.TrimModel, true, nil)
	for l := range delta {
		want := slices.Clone(tv.Base[l])
		tensor.Axpy(want, 0.5, delta[l])
		if !slices.Equal(ev.Theta()[l], want) {
			t.Fatalf("tensor %s: θ differs from θ0 + 0.5·Trim(τ)", tv.Names[l])
		}
	}
	total, kept := 0, 0
	for _, d := range delta {
		total += len(d)
		for _, v := range d {
			if v != 0 {
				kept++
			}
		}
	}
	if want := int(math.Ceil(0.3 * float64(total))); kept != want {
		t.Fatalf("kept %d of %d, want %d", kept, total, want)
	}
}
