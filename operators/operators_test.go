package operators

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

func TestHandComputedCases(t *testing.T) {
	base := tensors(vec("w", 0, 0, 0, 0))
	m1 := tensors(vec("w", 1, -2, 3, 0.5))
	m2 := tensors(vec("w", -2, 1, 1, 0.1))
	cases := []struct {
		name string
		op   Operator
		s    Settings
		base []checkpoint.Tensor
		ms   [][]checkpoint.Tensor
		want []float32
	}{
		{"linear weighted", Linear(), Settings{Default: Values{Models: map[string][]Value{"weight": {F(1), F(3)}}}},
			nil, [][]checkpoint.Tensor{tensors(vec("w", 1, 2)), tensors(vec("w", 3, 6))}, []float32{2.5, 5}},
		{"linear unnormalised", Linear(), globals("normalize", false), nil,
			[][]checkpoint.Tensor{tensors(vec("w", 1, 2)), tensors(vec("w", 3, 6))}, []float32{4, 8}},
		{"task arithmetic", TaskArithmetic(), globals("lambda", 0.5), tensors(vec("w", 1, 1)),
			[][]checkpoint.Tensor{tensors(vec("w", 2, 3)), tensors(vec("w", 0, 1))}, []float32{1, 2}},
		// trim: τ1 -> [0,-2,3,0]; τ2 -> [-2,1,0,0] (tie |1| at index 1 kept first);
		// elect: Σ = [-2,-1,3,0] -> [-,-,+,+]; disjoint mean: [-2,-2,3,0].
		{"ties", TIES(), globals("density", 0.5), base, [][]checkpoint.Tensor{m1, m2}, []float32{-2, -2, 3, 0}},
		{"ties sum", TIES(), globals("density", 1.0, "merge", "sum"), base, [][]checkpoint.Tensor{m1, m2},
			// Σ = [-1,-1,4,0.6]: e0 agree τ2 -2; e1 agree τ1 -2; e2 both 4; e3 both 0.6
			[]float32{-2, -2, 4, 0.6}},
		// breadcrumbs, one model, n=10, density 0.5, gamma 0.1: drop the largest
		// (10), keep the next five (9..5).
		{"breadcrumbs", Breadcrumbs(), globals("density", 0.5, "gamma", 0.1), tensors(vec("w", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
			[][]checkpoint.Tensor{tensors(vec("w", 1, -10, 2, 9, -3, 8, 4, 7, 5, -6))}, []float32{0, 0, 0, 9, 0, 8, 0, 7, 5, -6}},
		// model stock: τ1 ⟂ τ2 -> cos 0 -> t 0 -> base.
		{"model stock orthogonal", ModelStock(), Settings{}, tensors(vec("w", 1, 1)),
			[][]checkpoint.Tensor{tensors(vec("w", 2, 1)), tensors(vec("w", 1, 2))}, []float32{1, 1}},
		// consensus, 3 tasks, λ_t = 0.5, k = 2. τ_MTL = [3, 1, 0.2]
		// e0: τ=[1,1,1], |τ|>0.5·|3−τ|=1 -> no (strict) for all -> count 0 -> 0
		// e1: τ=[1,0,0], task1: 1 > 0.5·0 yes; others 0 > 0.5 no -> count 1 -> 0
		// e2: τ=[0.1,0.1,0]: 0.1 > 0.5·0.1 yes, yes; 0 > 0.1 no -> count 2 -> 0.2
		{"consensus", Consensus(), Settings{Default: Values{Global: map[string]Value{"lambda_t": F(0.5)}}}, tensors(vec("w", 0, 0, 0)),
			[][]checkpoint.Tensor{tensors(vec("w", 1, 1, 0.1)), tensors(vec("w", 1, 0, 0.1)), tensors(vec("w", 1, 0, 0))}, []float32{0, 0, 0.2}},
		{"consensus k=0 is the sum", Consensus(), globals("k", 0), tensors(vec("w", 0, 0, 0)),
			[][]checkpoint.Tensor{tensors(vec("w", 1, 1, 0.1)), tensors(vec("w", 1, 0, 0.1))}, []float32{2, 1, 0.2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeAll(t, tc.op, mustSource(t, tc.base, tc.ms...), tc.s, PlanOptions{})
			assertClose(t, "w", got["w"], tc.want, 1e-6)
		})
	}
}

func TestSLERPEndpointsAndMidpoint(t *testing.T) {
	a := tensors(vec("w", 1, 0, 0))
	b := tensors(vec("w", 0, 1, 0))
	src := mustSource(t, nil, a, b)
	for _, tc := range []struct {
		t    float64
		want []float32
	}{
		{0, []float32{1, 0, 0}},
		{1, []float32{0, 1, 0}},
		{0.5, []float32{float32(1 / math.Sqrt2), float32(1 / math.Sqrt2), 0}},
	} {
		got := mergeAll(t, SLERP(), src, globals("t", tc.t), PlanOptions{})
		assertClose(t, "slerp", got["w"], tc.want, 1e-6)
	}
	// Colinear: linear fallback.
	got := mergeAll(t, SLERP(), mustSource(t, nil, tensors(vec("w", 1, 2)), tensors(vec("w", 2, 4))), globals("t", 0.25), PlanOptions{})
	assertClose(t, "colinear", got["w"], []float32{1.25, 2.5}, 1e-6)
	// Multi-model SLERP of two orthogonal unit vectors with equal weights is
	// the SLERP midpoint.
	got = mergeAll(t, MultiSLERP(), src, Settings{}, PlanOptions{})
	assertClose(t, "multislerp", got["w"], []float32{float32(1 / math.Sqrt2), float32(1 / math.Sqrt2), 0}, 1e-6)
	// All-zero tensors merge to zero; opposite directions with 3 models have
	// no mean direction and are an error naming the tensor.
	z := tensors(vec("w", 0, 0))
	got = mergeAll(t, MultiSLERP(), mustSource(t, nil, z, z, z), Settings{}, PlanOptions{})
	assertClose(t, "zeros", got["w"], []float32{0, 0}, 0)
	_, err := tryMerge(MultiSLERP(), mustSource(t, nil, tensors(vec("w", 1, 0)), tensors(vec("w", -1, 0)), tensors(vec("w", 0, 0))), Settings{}, PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Fatalf("cancelling directions: %v", err)
	}
}

func TestMultiSLERPMatchesGeodesicForTwoModels(t *testing.T) {
	// For two models with weights (1−t, t) the spherical weighted mean lies on
	// the geodesic at t, scaled by the weighted mean norm.
	a := []float32{3, 1, -2, 0.5}
	b := []float32{-1, 2, 1, 4}
	src := mustSource(t, nil, tensors(vec("w", a...)), tensors(vec("w", b...)))
	for _, tt := range []float64{0.2, 0.5, 0.7} {
		s := Settings{Default: Values{Models: map[string][]Value{"weight": {F(1 - tt), F(tt)}}}}
		got := mergeAll(t, MultiSLERP(), src, s, PlanOptions{})["w"]
		na, nb := norm(a), norm(b)
		var dot float64
		for i := range a {
			dot += float64(a[i]) * float64(b[i]) / (na * nb)
		}
		om := math.Acos(dot)
		want := make([]float32, len(a))
		for i := range a {
			u := (math.Sin((1-tt)*om)*float64(a[i])/na + math.Sin(tt*om)*float64(b[i])/nb) / math.Sin(om)
			want[i] = float32(((1-tt)*na + tt*nb) * u)
		}
		assertClose(t, "multislerp", got, want, 1e-5)
	}
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// Every operator returns the model when all inputs equal it.
func TestIdenticalModelsGiveThatModel(t *testing.T) {
	base := randomModel(1, "base", 1)
	ft := perturb(base, 2, "ft", 0.1)
	stats := fakeStats{fisher: map[int]map[string][]float32{}, gram: map[int]map[string][]float64{}}
	for m := range 3 {
		stats.fisher[m] = map[string][]float32{}
		stats.gram[m] = map[string][]float64{}
		for _, tn := range ft {
			f := make([]float32, len(tn.Data))
			for i := range f {
				f[i] = float32(m+1) * 0.3
			}
			stats.fisher[m][tn.Name] = f
			if len(tn.Shape) == 2 {
				in := tn.Shape[1]
				g := make([]float64, in*in)
				for i := range in {
					for j := range in {
						g[i*in+j] = 0.1 * float64(i+j+m)
					}
					g[i*in+i] += float64(in + m)
				}
				stats.gram[m][tn.Name] = g
			}
		}
	}
	reg := Builtin()
	for _, info := range reg.List() {
		t.Run(info.Name, func(t *testing.T) {
			op, _ := reg.Get(info.Name)
			n := 3
			if info.Requirements.MaxModels == 2 {
				n = 2
			}
			models := make([][]checkpoint.Tensor, n)
			for i := range models {
				models[i] = ft
			}
			s := Settings{Default: Values{Global: map[string]Value{}}}
			if info.Name == "consensus" {
				s = globals("k", 0) // every entry kept; τ_MTL = Σ τ = 3τ
				s.Default.Global["lambda"] = F(1.0 / 3)
			}
			if info.Name == "lines" {
				s = globals("beta", 0.0) // auto α = 1/T
			}
			if strings.HasPrefix(info.Name, "dare") || info.Name == "ties" || info.Name == "breadcrumbs" || info.Name == "della" {
				s = globals("density", 1.0)
			}
			if info.Name == "task_arithmetic" || info.Name == "dare" || info.Name == "breadcrumbs" {
				s.Default.Global["normalize"] = B(true)
			}
			if info.Name == "dare_ties" {
				s.Default.Global["merge"] = C(mergeMean)
			}
			if info.Name == "breadcrumbs" {
				s.Default.Global["gamma"] = F(0)
			}
			got := mergeAll(t, op, mustSource(t, base, models...), s, PlanOptions{Seed: 7, Stats: stats})
			if info.Name == "pcb" {
				// PCB keeps only the top-ratio entries: each is θ or θ0.
				b := byName(base)
				kept := 0
				for _, tn := range ft {
					for e, v := range got[tn.Name] {
						switch {
						case math.Abs(float64(v-tn.Data[e])) < 1e-6:
							kept++
						case math.Abs(float64(v-b[tn.Name][e])) > 1e-6:
							t.Fatalf("%s[%d] = %g is neither θ %g nor θ0 %g", tn.Name, e, v, tn.Data[e], b[tn.Name][e])
						}
					}
				}
				if kept == 0 {
					t.Fatal("pcb kept nothing")
				}
				return
			}
			for _, tn := range ft {
				assertClose(t, tn.Name, got[tn.Name], tn.Data, 2e-5)
			}
		})
	}
}

func TestOneHotWeightsGiveThatModel(t *testing.T) {
	base := randomModel(1, "base", 1)
	a, b := perturb(base, 2, "a", 0.1), perturb(base, 3, "b", 0.1)
	src := mustSource(t, base, a, b)
	oneHot := Settings{Default: Values{Models: map[string][]Value{"weight": {F(0), F(1)}}}}
	for _, op := range []Operator{Linear(), TaskArithmetic(), MultiSLERP()} {
		got := mergeAll(t, op, src, oneHot, PlanOptions{})
		for _, tn := range b {
			assertClose(t, op.Name()+" "+tn.Name, got[tn.Name], tn.Data, 1e-5)
		}
	}
	// TIES with density 1: weight 0 drops model 1 from election and mean.
	got := mergeAll(t, TIES(), src, Settings{Default: Values{Global: map[string]Value{"density": F(1)}, Models: oneHot.Default.Models}}, PlanOptions{})
	for _, tn := range b {
		assertClose(t, "ties "+tn.Name, got[tn.Name], tn.Data, 1e-5)
	}
}

func TestTIESDensityOneSingleModelIsTaskArithmetic(t *testing.T) {
	base := randomModel(1, "base", 1)
	a := perturb(base, 2, "a", 0.1)
	src := mustSource(t, base, a)
	for _, lam := range []float64{0.3, 1, 1.7} {
		ties := mergeAll(t, TIES(), src, globals("density", 1.0, "lambda", lam), PlanOptions{})
		ta := mergeAll(t, TaskArithmetic(), src, globals("lambda", lam), PlanOptions{})
		for _, tn := range a {
			assertClose(t, tn.Name, ties[tn.Name], ta[tn.Name], 1e-6)
		}
	}
}

func TestTIESModelScopeKeepsExactlyKOverTheModel(t *testing.T) {
	// Two tensors; one model; density 0.5 over 8 entries keeps the 4 largest
	// |τ| model-wide: 9, 8, 7 (tensor b) and one of the tied 5s (first in
	// canonical order: tensor a).
	base := tensors(vec("a", 0, 0, 0, 0), vec("b", 0, 0, 0, 0))
	m := tensors(vec("a", 5, 1, -2, 0.5), vec("b", 9, -8, 7, 5))
	src := mustSource(t, base, m)
	got := mergeAll(t, TIES(), src, globals("density", 0.5, "trim_scope", "model"), PlanOptions{})
	assertClose(t, "a", got["a"], []float32{5, 0, 0, 0}, 0)
	assertClose(t, "b", got["b"], []float32{9, -8, 7, 0}, 0)
	// Per tensor: two per tensor.
	got = mergeAll(t, TIES(), src, globals("density", 0.5), PlanOptions{})
	assertClose(t, "a", got["a"], []float32{5, 0, -2, 0}, 0)
	assertClose(t, "b", got["b"], []float32{9, -8, 0, 0}, 0)
	// A per-group density cannot combine with a model-wide trim.
	s := globals("density", 0.5, "trim_scope", "model")
	s.Tensors = map[string]Values{"a": {Global: map[string]Value{"density": F(0.2)}}}
	if _, err := tryMerge(TIES(), src, s, PlanOptions{}); err == nil || !strings.Contains(err.Error(), "one density per model") {
		t.Fatalf("err = %v", err)
	}
}

func TestDAREDeterministicAndUnbiased(t *testing.T) {
	base := randomModel(1, "base", 1)
	a, b := perturb(base, 2, "a", 0.5), perturb(base, 3, "b", 0.5)
	src := mustSource(t, base, a, b)
	ta := mergeAll(t, TaskArithmetic(), src, Settings{}, PlanOptions{})
	for _, op := range []Operator{DARE(), DELLA()} {
		s := globals("density", 0.5, "consensus", false)
		if op.Name() == "dare" {
			s = globals("density", 0.5)
		}
		first := mergeAll(t, op, src, s, PlanOptions{Seed: 42})
		again := mergeAll(t, op, src, s, PlanOptions{Seed: 42})
		other := mergeAll(t, op, src, s, PlanOptions{Seed: 43})
		assertClose(t, op.Name()+" same seed", first["layers.0.weight"], again["layers.0.weight"], 0)
		differs := false
		for i, v := range first["layers.0.weight"] {
			differs = differs || v != other["layers.0.weight"][i]
		}
		if !differs {
			t.Fatalf("%s: seeds 42 and 43 gave the same result", op.Name())
		}
		// The result of one tensor does not depend on the order tensors are
		// merged in: merge layers.1.weight alone through a fresh plan.
		plan, err := NewPlan(op, src, s, PlanOptions{Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Prepare(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		var in TensorInputs
		if err := src.Load("layers.1.weight", &in); err != nil {
			t.Fatal(err)
		}
		in.Shape = []int{4, 6}
		dst := make([]float32, 24)
		if err := plan.MergeTensor(dst, &in, &Scratch{}); err != nil {
			t.Fatal(err)
		}
		assertClose(t, op.Name()+" order", dst, first["layers.1.weight"], 0)
		// Unbiased: the mean over many seeds approaches task arithmetic.
		const seeds = 3000
		mean := make([]float64, len(ta["layers.0.weight"]))
		for seed := range seeds {
			got := mergeAll(t, op, src, s, PlanOptions{Seed: uint64(seed)})
			for i, v := range got["layers.0.weight"] {
				mean[i] += float64(v) / seeds
			}
		}
		for i, want := range ta["layers.0.weight"] {
			// Per element variance ≤ Σ τ²(1−d)/d ≈ 2·0.25·1 → sd of mean ≈ 0.013.
			if d := math.Abs(mean[i] - float64(want)); d > 0.08 {
				t.Fatalf("%s: E[merge][%d] = %g, task arithmetic %g", op.Name(), i, mean[i], want)
			}
		}
	}
}

func TestDARERescaleL1PreservesNorm(t *testing.T) {
	base := tensors(vec("w", make([]float32, 200)...))
	d := make([]float32, 200)
	for i := range d {
		d[i] = float32(i%7) - 3
	}
	src := mustSource(t, base, tensors(vec("w", d...)))
	got := mergeAll(t, DARE(), src, globals("density", 0.3, "rescale", "l1"), PlanOptions{Seed: 5})
	if a, b := l1(got["w"]), l1(d); math.Abs(a-b) > 1e-3*b {
		t.Fatalf("L1 after rescale %g, before %g", a, b)
	}
	none := mergeAll(t, DARE(), src, globals("density", 0.3, "rescale", "none"), PlanOptions{Seed: 5})
	inv := mergeAll(t, DARE(), src, globals("density", 0.3), PlanOptions{Seed: 5})
	for i := range d {
		if none["w"][i] != 0 && none["w"][i] != d[i] || math.Abs(float64(inv["w"][i]-none["w"][i]/0.3)) > 1e-5 {
			t.Fatalf("entry %d: none %g, inverse %g, τ %g", i, none["w"][i], inv["w"][i], d[i])
		}
	}
}

func TestModelStockAndFisherAndRegMean(t *testing.T) {
	// Model stock with equal task vectors: t = 1, result = θ1.
	got := mergeAll(t, ModelStock(), mustSource(t, tensors(vec("w", 1, 1)), tensors(vec("w", 2, 3)), tensors(vec("w", 2, 3)), tensors(vec("w", 2, 3))), Settings{}, PlanOptions{})
	assertClose(t, "model stock", got["w"], []float32{2, 3}, 1e-6)
	// N = 2, cos = 0.5: t = 2·0.5/1.5 = 2/3; τ1 = [1,0], τ2 = [0.5, √3/2].
	s3 := float32(math.Sqrt(3) / 2)
	got = mergeAll(t, ModelStock(), mustSource(t, tensors(vec("w", 0, 0)), tensors(vec("w", 1, 0)), tensors(vec("w", 0.5, s3))), Settings{}, PlanOptions{})
	assertClose(t, "model stock 60°", got["w"], []float32{2.0 / 3 * 0.75, 2.0 / 3 * s3 / 2}, 1e-6)

	// Fisher: F1 = [1, 3], F2 = [3, 1], ε = 0, no normalisation:
	// θ = [(1·2 + 3·6)/4, (3·2+1·6)/4] = [5, 3].
	stats := fakeStats{fisher: map[int]map[string][]float32{0: {"w": {1, 3}}, 1: {"w": {3, 1}}}}
	src := mustSource(t, nil, tensors(vec("w", 2, 2)), tensors(vec("w", 6, 6)))
	got = mergeAll(t, Fisher(), src, globals("epsilon", 0.0, "normalize_fisher", false), PlanOptions{Stats: stats})
	assertClose(t, "fisher", got["w"], []float32{5, 3}, 1e-6)
	// Equal Fishers: plain average.
	eq := fakeStats{fisher: map[int]map[string][]float32{0: {"w": {2, 7}}, 1: {"w": {2, 7}}}}
	got = mergeAll(t, Fisher(), src, Settings{}, PlanOptions{Stats: eq})
	assertClose(t, "fisher equal", got["w"], []float32{4, 4}, 1e-6)

	// RegMean with diagonal Grams: W*[o][k] = Σ g_i[k] W_i[o][k] / Σ g_i[k].
	w1 := tspec{"layers.0.weight", []int{2, 2}, []float32{1, 2, 3, 4}}
	w2 := tspec{"layers.0.weight", []int{2, 2}, []float32{5, 6, 7, 8}}
	gs := fakeStats{gram: map[int]map[string][]float64{0: {"layers.0.weight": {1, 0, 0, 3}}, 1: {"layers.0.weight": {3, 0, 0, 1}}}}
	src = mustSource(t, nil, tensors(w1, vec("layers.0.bias", 1, 1)), tensors(w2, vec("layers.0.bias", 3, 5)))
	got = mergeAll(t, RegMean(), src, Settings{}, PlanOptions{Stats: gs})
	assertClose(t, "regmean", got["layers.0.weight"], []float32{(1 + 15) / 4.0, (6 + 6) / 4.0, (3 + 21) / 4.0, (12 + 8) / 4.0}, 1e-6)
	assertClose(t, "regmean bias", got["layers.0.bias"], []float32{2, 3}, 1e-6)
	// Identical full Grams: the average.
	g := []float64{2, 0.5, 0.5, 1}
	same := fakeStats{gram: map[int]map[string][]float64{0: {"layers.0.weight": g}, 1: {"layers.0.weight": g}}}
	got = mergeAll(t, RegMean(), src, globals("alpha", 1.0), PlanOptions{Stats: same})
	assertClose(t, "regmean same", got["layers.0.weight"], []float32{3, 4, 5, 6}, 1e-6)
	// An input dimension no model activates (zero Gram row and column) is
	// singular for any α: its column is the plain average, the others are
	// the diagonal-Gram solution of the first case.
	dead := fakeStats{gram: map[int]map[string][]float64{0: {"layers.0.weight": {1, 0, 0, 0}}, 1: {"layers.0.weight": {3, 0, 0, 0}}}}
	got = mergeAll(t, RegMean(), src, globals("alpha", 0.5), PlanOptions{Stats: dead})
	assertClose(t, "regmean dead input", got["layers.0.weight"], []float32{(1 + 15) / 4.0, (2 + 6) / 2.0, (3 + 21) / 4.0, (4 + 8) / 2.0}, 1e-6)
}

func TestLiNeSScalesByBlock(t *testing.T) {
	base := tensors(vec("layers.0.w", 0), vec("layers.1.w", 0), vec("layers.2.w", 0), vec("norm.w", 0))
	m := tensors(vec("layers.0.w", 1), vec("layers.1.w", 1), vec("layers.2.w", 1), vec("norm.w", 1))
	src := mustSource(t, base, m, m)
	got := mergeAll(t, MustLiNeS(TaskArithmetic()), src, globals("alpha_mode", "fixed", "alpha", 0.2, "beta", 0.6), PlanOptions{})
	// τ_m = 2 per entry; λ(ℓ) = 0.2 + 0.6ℓ/2.
	want := map[string]float32{"layers.0.w": 0.4, "layers.1.w": 1.0, "layers.2.w": 1.6, "norm.w": 0.4}
	for name, w := range want {
		assertClose(t, name, got[name], []float32{w}, 1e-6)
	}
	// Auto α for task arithmetic is 1/T: with β = 0 the result is the mean.
	got = mergeAll(t, MustLiNeS(TaskArithmetic()), src, globals("beta", 0.0), PlanOptions{})
	assertClose(t, "auto", got["layers.1.w"], []float32{1}, 1e-6)
	// lines+ties resolves through the registry; lines over slerp does not.
	if _, err := Builtin().Get("lines+ties"); err != nil {
		t.Fatal(err)
	}
	if _, err := Builtin().Get("lines+slerp"); err == nil {
		t.Fatal("lines+slerp accepted")
	}
}

func TestM2N2SplitCrossover(t *testing.T) {
	a := tensors(vec("layers.0.w", 1, 2, 3), vec("layers.1.w", 4, 5))
	b := tensors(vec("layers.0.w", -1, 0, 2), vec("layers.1.w", 1, -3))
	src := mustSource(t, nil, a, b)
	flatA := []float64{1, 2, 3, 4, 5}
	flatB := []float64{-1, 0, 2, 1, -3}
	var aa, ab, bb float64
	for i := range flatA {
		aa += flatA[i] * flatA[i]
		ab += flatA[i] * flatB[i]
		bb += flatB[i] * flatB[i]
	}
	om := math.Acos(ab / math.Sqrt(aa*bb))
	for _, split := range []int{0, 2, 4, 5} {
		w := 0.3
		got := mergeAll(t, M2N2Crossover(), src, globals("split", split, "ratio", w), PlanOptions{})
		flat := append(append([]float32{}, got["layers.0.w"]...), got["layers.1.w"]...)
		for d := range flatA {
			tt := w
			if d >= split {
				tt = 1 - w
			}
			want := (math.Sin((1-tt)*om)*flatA[d] + math.Sin(tt*om)*flatB[d]) / math.Sin(om)
			if math.Abs(float64(flat[d])-want) > 1e-5 {
				t.Fatalf("split %d: child[%d] = %g, want %g", split, d, flat[d], want)
			}
		}
	}
	if _, err := tryMerge(M2N2Crossover(), src, globals("split", 6), PlanOptions{}); err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Fatalf("split beyond D: err = %v", err)
	}
}

func TestHeadsAreCopiedNotMerged(t *testing.T) {
	base := append(randomModel(1, "base", 1), checkpoint.Tensor{Name: "heads.base.weight", Shape: []int{2}, Data: []float32{9, 9}})
	a := append(perturb(randomModel(1, "base", 1), 2, "a", 0.1), checkpoint.Tensor{Name: "heads.a.weight", Shape: []int{2}, Data: []float32{1, 2}})
	b := append(perturb(randomModel(1, "base", 1), 3, "b", 0.1), checkpoint.Tensor{Name: "heads.b.weight", Shape: []int{2}, Data: []float32{3, 4}})
	for _, op := range []Operator{TaskArithmetic(), TIES(), Linear()} {
		got := mergeAll(t, op, mustSource(t, base, a, b), Settings{}, PlanOptions{})
		assertClose(t, "heads.a", got["heads.a.weight"], []float32{1, 2}, 0)
		assertClose(t, "heads.b", got["heads.b.weight"], []float32{3, 4}, 0)
		assertClose(t, "heads.base", got["heads.base.weight"], []float32{9, 9}, 0)
	}
	// A mergeable tensor missing from one model is an error naming it.
	c := randomModel(4, "c", 1)[:5]
	_, err := tryMerge(Linear(), mustSource(t, nil, a, c), Settings{}, PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "norm.weight") || !strings.Contains(err.Error(), "model 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestPerGroupAndPerTensorValuesApply(t *testing.T) {
	base := tensors(vec("layers.0.a", 0), vec("layers.0.b", 0), vec("layers.1.a", 0), vec("norm.w", 0))
	m := tensors(vec("layers.0.a", 1), vec("layers.0.b", 1), vec("layers.1.a", 1), vec("norm.w", 1))
	src := mustSource(t, base, m)
	s := globals("lambda", 0.5)
	s.Groups = map[string]Values{"layers.0": {Global: map[string]Value{"lambda": F(2)}}}
	s.Tensors = map[string]Values{"layers.0.b": {Global: map[string]Value{"lambda": F(3)}}}
	got := mergeAll(t, TaskArithmetic(), src, s, PlanOptions{})
	for name, want := range map[string]float32{"layers.0.a": 2, "layers.0.b": 3, "layers.1.a": 0.5, "norm.w": 0.5} {
		assertClose(t, name, got[name], []float32{want}, 0)
	}
	// Explicit grouping.
	s = Settings{Grouping: map[string][]string{"g": {"layers.1.a", "norm.w"}},
		Groups: map[string]Values{"g": {Models: map[string][]Value{"weight": {F(4)}}}}}
	got = mergeAll(t, TaskArithmetic(), src, s, PlanOptions{})
	for name, want := range map[string]float32{"layers.0.a": 1, "layers.0.b": 1, "layers.1.a": 4, "norm.w": 4} {
		assertClose(t, name, got[name], []float32{want}, 0)
	}
}

func TestParameterValidationErrors(t *testing.T) {
	base := tensors(vec("layers.0.a", 0), vec("norm.w", 0))
	m := tensors(vec("layers.0.a", 1), vec("norm.w", 1))
	src := mustSource(t, base, m, m)
	cases := []struct {
		name string
		op   Operator
		s    Settings
		want string
	}{
		{"out of range", TIES(), globals("density", 1.5), `"density" = 1.5 is out of range: want a float in [0, 1]`},
		{"unknown", TIES(), globals("densty", 0.5), `unknown parameter "densty"; this method takes weight, density`},
		{"bad choice", TIES(), globals("trim_scope", "layer"), `want one of "tensor", "model"`},
		{"per-model count", TaskArithmetic(), Settings{Default: Values{Models: map[string][]Value{"weight": {F(1)}}}}, "has 1 per-model values, want one per expert model (2)"},
		{"global given per model", TaskArithmetic(), Settings{Default: Values{Models: map[string][]Value{"lambda": {F(1), F(1)}}}}, `"lambda" is global, not per model`},
		{"not layered", TIES(), Settings{Groups: map[string]Values{"layers.0": {Global: map[string]Value{"trim_scope": C("model")}}}}, "cannot vary per layer group"},
		{"unknown group", TaskArithmetic(), Settings{Groups: map[string]Values{"layers.7": {Global: map[string]Value{"lambda": F(1)}}}}, `layer group "layers.7" does not exist`},
		{"unknown tensor", TaskArithmetic(), Settings{Tensors: map[string]Values{"nope": {}}}, `tensor "nope" has parameter overrides`},
		{"int kind", Consensus(), globals("k", 1.5), "is not an integer"},
		{"linear zero weights", Linear(), Settings{Default: Values{Models: map[string][]Value{"weight": {F(0), F(0)}}}}, "sum to 0"},
		{"slerp count", SLERP(), Settings{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tryMerge(tc.op, src, tc.s, PlanOptions{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// Requirements: base and statistics.
	if _, err := tryMerge(TaskArithmetic(), mustSource(t, nil, m, m), Settings{}, PlanOptions{}); err == nil || !strings.Contains(err.Error(), "needs a base") {
		t.Fatalf("no base: %v", err)
	}
	if _, err := tryMerge(Fisher(), src, Settings{}, PlanOptions{}); err == nil || !strings.Contains(err.Error(), "Fisher") {
		t.Fatalf("no stats: %v", err)
	}
	if _, err := tryMerge(SLERP(), mustSource(t, nil, m, m, m), Settings{}, PlanOptions{}); err == nil || !strings.Contains(err.Error(), "exactly 2") {
		t.Fatalf("slerp 3 models: %v", err)
	}
	// ParseValue converts decoded config values.
	spec := TIES().Params()[1]
	if v, err := spec.ParseValue(int64(1)); err != nil || v.Float != 1 {
		t.Fatalf("ParseValue(int64 1) = %v, %v", v, err)
	}
	if _, err := spec.ParseValue("high"); err == nil {
		t.Fatal("ParseValue accepted a string for a float")
	}
}

func TestRegistry(t *testing.T) {
	r := Builtin()
	want := []string{"linear", "task_arithmetic", "ties", "dare", "dare_ties", "slerp", "multislerp", "breadcrumbs", "della", "model_stock", "fisher", "regmean", "lines", "pcb", "consensus", "m2n2"}
	for _, name := range want {
		if _, err := r.Get(name); err != nil {
			t.Errorf("Get(%q): %v", name, err)
		}
	}
	if _, err := r.Get("tie"); err == nil || !strings.Contains(err.Error(), "known methods") {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := NewRegistry(Linear(), Linear()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate: %v", err)
	}
	for _, info := range r.List() {
		if info.Formula == "" {
			t.Errorf("%s has no formula", info.Name)
		}
	}
}

// Merging the tensors of a prepared plan concurrently, in any order, with one
// Scratch per goroutine gives the same bits as the sequential MergeAll.
func TestConcurrentMergeMatchesSequential(t *testing.T) {
	base := randomModel(1, "base", 1)
	models := [][]checkpoint.Tensor{perturb(base, 2, "a", 0.3), perturb(base, 3, "b", 0.3)}
	src := mustSource(t, base, models...)
	for _, tc := range []struct {
		op Operator
		s  Settings
	}{
		{DARE(), Settings{}},
		{DELLA(), Settings{}},
		{DARETIES(), Settings{}},
		{TIES(), globals("trim_scope", "model")},
		{PCB(), Settings{}},
		{M2N2Crossover(), globals("split", 40)},
		{MustLiNeS(TIES()), Settings{}},
	} {
		want := mergeAll(t, tc.op, src, tc.s, PlanOptions{Seed: 3})
		plan, err := NewPlan(tc.op, src, tc.s, PlanOptions{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Prepare(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		metas := src.Tensors()
		got := make([][]float32, len(metas))
		errs := make(chan error, len(metas))
		for i := len(metas) - 1; i >= 0; i-- {
			go func() {
				var in TensorInputs
				if err := src.Load(metas[i].Name, &in); err != nil {
					errs <- err
					return
				}
				in.Shape = metas[i].Shape
				dst := make([]float32, metas[i].NumElements())
				err := plan.MergeTensor(dst, &in, &Scratch{})
				got[i] = dst
				errs <- err
			}()
		}
		for range metas {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for i, m := range metas {
			assertClose(t, tc.op.Name()+" "+m.Name, got[i], want[m.Name], 0)
		}
	}
}

func TestTaskTensorPatterns(t *testing.T) {
	tt := TaskTensors{Patterns: []string{"heads.", "*.classifier.*"}}
	for name, want := range map[string]bool{
		"heads.rot90.weight": true, "model.classifier.bias": true,
		"layers.0.weight": false, "headsup.weight": false,
	} {
		if got := tt.Match(name); got != want {
			t.Errorf("Match(%q) = %v, want %v", name, got, want)
		}
	}
	if err := (TaskTensors{Patterns: []string{"[bad"}}).Validate(); err == nil {
		t.Error("bad glob accepted")
	}
	// A per-task tensor only the base has is copied from the base.
	dst := make([]float32, 2)
	in := &TensorInputs{Name: "heads.x.bias", Base: []float32{7, 8}, Models: [][]float32{nil, nil}}
	if err := CopyTaskTensor(dst, in); err != nil || dst[0] != 7 || dst[1] != 8 {
		t.Fatalf("copy from base: %v %v", dst, err)
	}
	in.Base = nil
	if err := CopyTaskTensor(dst, in); err == nil || !strings.Contains(err.Error(), "heads.x.bias") {
		t.Fatalf("no owner: %v", err)
	}
}
