package model_test

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/cnn"
	"github.com/evomerge/evomerge/internal/model/layers"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/operators"
)

// softmaxRegression is a model with no hidden layer: logits = W x + b.
func softmaxRegression(t *testing.T) model.Network {
	t.Helper()
	spec := layers.Spec{Arch: "test", Input: [3]int{1, 1, 3}, Layers: []layers.LayerSpec{{Kind: layers.KindFlatten}}, Heads: []model.Head{{Name: "t", Classes: 3}}}
	m, err := spec.New(5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFisherSoftmaxRegressionHand(t *testing.T) {
	m := softmaxRegression(t)
	x := []float32{0.5, -1, 2, 1.5, 0.25, -0.75}
	y := []int32{2, 0}
	d := model.TaskData{Head: "t", X: x, Y: y, N: 2}
	emp, err := model.FisherInformation(context.Background(), m.Clone(), d, model.EmpiricalFisher)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := model.FisherInformation(context.Background(), m.Clone(), d, model.ExpectedFisher)
	if err != nil {
		t.Fatal(err)
	}
	// ∂ log p(y|x)/∂W[c][j] = (1[c=y] − p_c)·x_j and ∂/∂b[c] = 1[c=y] − p_c.
	// Expected over y ~ p: Σ_y p_y (1[c=y] − p_c)² = p_c(1 − p_c).
	W, b := m.Param("heads.t.weight").Data, m.Param("heads.t.bias").Data
	wantEmpW, wantEmpB := make([]float64, 9), make([]float64, 3)
	wantExpW, wantExpB := make([]float64, 9), make([]float64, 3)
	for e := range 2 {
		xe := x[e*3 : e*3+3]
		z := make([]float64, 3)
		for c := range 3 {
			z[c] = float64(b[c])
			for j := range 3 {
				z[c] += float64(W[c*3+j]) * float64(xe[j])
			}
		}
		var s float64
		for c := range 3 {
			s += math.Exp(z[c])
		}
		for c := range 3 {
			p := math.Exp(z[c]) / s
			ind := 0.0
			if int32(c) == y[e] {
				ind = 1
			}
			g := ind - p
			wantEmpB[c] += g * g / 2
			wantExpB[c] += p * (1 - p) / 2
			for j := range 3 {
				xj := float64(xe[j])
				wantEmpW[c*3+j] += g * g * xj * xj / 2
				wantExpW[c*3+j] += p * (1 - p) * xj * xj / 2
			}
		}
	}
	check := func(what string, got []float32, want []float64) {
		t.Helper()
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-6+1e-5*math.Abs(want[i]) {
				t.Errorf("%s[%d] = %g, want %g", what, i, got[i], want[i])
			}
		}
	}
	check("empirical W", emp["heads.t.weight"], wantEmpW)
	check("empirical b", emp["heads.t.bias"], wantEmpB)
	check("expected W", exp["heads.t.weight"], wantExpW)
	check("expected b", exp["heads.t.bias"], wantExpB)
}

// logProb returns log p(y|x) of one example in float64 from the model's logits.
func logProb(t *testing.T, m model.Network, x []float32, y int32) float64 {
	z, err := m.Logits(x, 1, "t")
	if err != nil {
		t.Fatal(err)
	}
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - mx)
	}
	return float64(z[y]) - mx - math.Log(s)
}

// The empirical Fisher of a hidden-layer MLP matches squared central finite
// differences of log p(y|x), averaged over two examples.
func TestFisherFiniteDifferences(t *testing.T) {
	spec := mlp.Config{Input: [3]int{1, 2, 2}, Hidden: []int{3}, Heads: []model.Head{{Name: "t", Classes: 2}}}
	m, err := spec.New(9)
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{0.3, -0.8, 1.1, 0.4, -0.2, 0.9, -1.3, 0.6}
	y := []int32{1, 0}
	f, err := model.FisherInformation(context.Background(), m.Clone(), model.TaskData{Head: "t", X: x, Y: y, N: 2}, model.EmpiricalFisher)
	if err != nil {
		t.Fatal(err)
	}
	const h = 1e-2
	checked := 0
	for _, p := range m.Params() {
		for j := range p.Data {
			var want float64
			for e := range 2 {
				xe := x[e*4 : e*4+4]
				orig := p.Data[j]
				hi, lo := orig+h, orig-h
				p.Data[j] = hi
				up := logProb(t, m, xe, y[e])
				p.Data[j] = lo
				down := logProb(t, m, xe, y[e])
				p.Data[j] = orig
				g := (up - down) / (float64(hi) - float64(lo))
				want += g * g / 2
			}
			got := float64(f[p.Name][j])
			if math.Abs(got-want) > 2e-4+2e-2*want {
				t.Errorf("%s[%d]: Fisher %g, finite differences %g", p.Name, j, got, want)
			}
			checked++
		}
	}
	if checked != 4*3+3+3*2+2 {
		t.Errorf("checked %d parameters", checked)
	}
}

func TestLinearGramsMLPHand(t *testing.T) {
	spec := mlp.Config{Input: [3]int{1, 1, 3}, Hidden: []int{2}, Heads: []model.Head{{Name: "t", Classes: 2}}}
	m, err := spec.New(2)
	if err != nil {
		t.Fatal(err)
	}
	// layers: 0 flatten, 1 linear(3→2), 2 relu; head linear(2→2).
	W := m.Param("layers.1.weight").Data
	b := m.Param("layers.1.bias").Data
	copy(W, []float32{1, -1, 0.5, -0.5, 2, 1})
	copy(b, []float32{0.1, -0.2})
	x := []float32{1, 2, 3, -1, 0.5, 2, 0, -2, 1}
	const n = 3
	for _, batch := range []int{1, 2, 64} {
		grams, err := model.LinearGrams(context.Background(), m, model.TaskData{Head: "t", X: x, N: n}, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(grams) != 1 {
			t.Fatalf("got Grams for %d layers, want 1 (heads excluded)", len(grams))
		}
		g := grams["layers.1.weight"]
		if g == nil || g.In != 3 || g.N != n {
			t.Fatalf("Gram = %+v", g)
		}
		for a := range 3 {
			for c := range 3 {
				var want float64
				for r := range n {
					want += float64(x[r*3+a]) * float64(x[r*3+c])
				}
				want /= n
				if got := g.G[a*3+c]; math.Abs(got-want) > 1e-12 {
					t.Errorf("batch %d: G[%d][%d] = %g, want %g", batch, a, c, got, want)
				}
			}
		}
	}
	// A deeper MLP: the second Linear sees relu(W1 x + b1).
	spec2 := mlp.Config{Input: [3]int{1, 1, 3}, Hidden: []int{2, 2}, Heads: []model.Head{{Name: "t", Classes: 2}}}
	m2, err := spec2.New(4)
	if err != nil {
		t.Fatal(err)
	}
	copy(m2.Param("layers.1.weight").Data, W)
	copy(m2.Param("layers.1.bias").Data, b)
	grams, err := model.LinearGrams(context.Background(), m2, model.TaskData{Head: "t", X: x, N: n}, 2)
	if err != nil {
		t.Fatal(err)
	}
	h := make([]float64, n*2)
	for r := range n {
		for o := range 2 {
			v := float64(b[o])
			for k := range 3 {
				v += float64(W[o*3+k]) * float64(x[r*3+k])
			}
			h[r*2+o] = max(v, 0)
		}
	}
	g := grams["layers.3.weight"]
	for a := range 2 {
		for c := range 2 {
			var want float64
			for r := range n {
				want += h[r*2+a] * h[r*2+c]
			}
			want /= n
			if got := g.G[a*2+c]; math.Abs(got-want) > 1e-6 {
				t.Errorf("layers.3 G[%d][%d] = %g, want %g", a, c, got, want)
			}
		}
	}
}

// After convolutions, the Linear layer's input is the flattened feature map.
func TestLinearGramsAfterConv(t *testing.T) {
	spec := layers.Spec{Arch: "test", Input: [3]int{1, 2, 2}, Layers: []layers.LayerSpec{
		{Kind: layers.KindConv2D, Out: 1, Kernel: 1, Stride: 1},
		{Kind: layers.KindReLU},
		{Kind: layers.KindFlatten},
		{Kind: layers.KindLinear, Out: 2},
	}, Heads: []model.Head{{Name: "t", Classes: 2}}}
	m, err := spec.New(1)
	if err != nil {
		t.Fatal(err)
	}
	m.Param("layers.0.weight").Data[0] = 2
	m.Param("layers.0.bias").Data[0] = -1
	x := []float32{1, 0, 0.25, 2, -1, 3, 0.5, 1}
	grams, err := model.LinearGrams(context.Background(), m, model.TaskData{Head: "t", X: x, N: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	feat := make([]float64, len(x))
	for i, v := range x {
		feat[i] = max(2*float64(v)-1, 0)
	}
	g := grams["layers.3.weight"]
	if g == nil || g.In != 4 {
		t.Fatalf("Gram = %+v", g)
	}
	for a := range 4 {
		for c := range 4 {
			want := (feat[a]*feat[c] + feat[4+a]*feat[4+c]) / 2
			if got := g.G[a*4+c]; math.Abs(got-want) > 1e-9 {
				t.Errorf("G[%d][%d] = %g, want %g", a, c, got, want)
			}
		}
	}
}

func TestComputeStatsSource(t *testing.T) {
	spec := mlp.Config{Input: [3]int{1, 1, 3}, Hidden: []int{2}, Heads: []model.Head{{Name: "t", Classes: 2}}}
	var models []model.Network
	for seed := range uint64(2) {
		m, err := spec.New(seed + 10)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	x := []float32{1, 2, 3, -1, 0.5, 2, 0, -2, 1}
	data := []model.TaskData{{Head: "t", X: x, Y: []int32{0, 1, 1}, N: 3}, {Head: "t", X: x, Y: []int32{1, 1, 0}, N: 3}}
	before := append([]float32(nil), models[0].Param("layers.1.weight").Data...)
	s, err := model.ComputeStats(context.Background(), models, data, model.StatsOptions{Fisher: true, Gram: true, Examples: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range models[0].Param("layers.1.weight").Data {
		if v != before[i] {
			t.Fatal("ComputeStats modified the model")
		}
	}
	// Examples = 2 uses the first two examples only.
	want, err := model.FisherInformation(context.Background(), models[1].Clone(), model.TaskData{Head: "t", X: x[:6], Y: []int32{1, 1}, N: 2}, model.EmpiricalFisher)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 6)
	ok, err := s.Fisher(1, "layers.1.weight", dst)
	if err != nil || !ok {
		t.Fatalf("Fisher: ok=%v err=%v", ok, err)
	}
	for i := range dst {
		if dst[i] != want["layers.1.weight"][i] {
			t.Errorf("Fisher[%d] = %g, want %g", i, dst[i], want["layers.1.weight"][i])
		}
	}
	g := make([]float64, 9)
	n, ok, err := s.Gram(0, "layers.1.weight", g)
	if err != nil || !ok || n != 2 {
		t.Fatalf("Gram: n=%d ok=%v err=%v", n, ok, err)
	}
	if math.Abs(g[0]-(1+1)/2.0) > 1e-12 || math.Abs(g[1]-(2-0.5)/2.0) > 1e-12 {
		t.Errorf("Gram = %v", g)
	}
	if _, ok, _ := s.Gram(0, "layers.1.bias", g[:2]); ok {
		t.Error("Gram reported for a bias")
	}
	if ok, _ := s.Fisher(5, "layers.1.weight", dst); ok {
		t.Error("Fisher reported for a model out of range")
	}
	if _, err := s.Fisher(0, "layers.1.weight", dst[:3]); err == nil || !strings.Contains(err.Error(), "layers.1.weight") {
		t.Errorf("wrong length: error = %v", err)
	}
	if ts := s.FisherTensors(0, models[0]); len(ts) != len(models[0].Params()) {
		t.Errorf("FisherTensors gave %d tensors", len(ts))
	}
}

func TestComputeStatsErrors(t *testing.T) {
	m := softmaxRegression(t)
	x := []float32{1, 2, 3}
	cases := []struct {
		name   string
		models []model.Network
		data   []model.TaskData
		opt    model.StatsOptions
		want   string
	}{
		{"count", []model.Network{m}, nil, model.StatsOptions{Fisher: true}, "one data set per model"},
		{"nothing", []model.Network{m}, []model.TaskData{{Head: "t", X: x, Y: []int32{0}, N: 1}}, model.StatsOptions{}, "nothing selected"},
		{"head", []model.Network{m}, []model.TaskData{{Head: "zz", X: x, Y: []int32{0}, N: 1}}, model.StatsOptions{Fisher: true}, `no head "zz"`},
		{"labels", []model.Network{m}, []model.TaskData{{Head: "t", X: x, N: 1}}, model.StatsOptions{Fisher: true}, "one label per example"},
		{"input", []model.Network{m}, []model.TaskData{{Head: "t", X: x[:2], Y: []int32{0}, N: 1}}, model.StatsOptions{Gram: true}, "input has 2 values"},
		{"label kind", []model.Network{m}, []model.TaskData{{Head: "t", X: x, Y: []int32{0}, N: 1}}, model.StatsOptions{Fisher: true, Labels: "sampled"}, `"sampled"`},
		{"label range", []model.Network{m}, []model.TaskData{{Head: "t", X: x, Y: []int32{7}, N: 1}}, model.StatsOptions{Fisher: true}, "outside head"},
	}
	for _, c := range cases {
		_, err := model.ComputeStats(context.Background(), c.models, c.data, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want it to contain %q", c.name, err, c.want)
		}
	}
	// Expected Fisher needs no labels.
	if _, err := model.ComputeStats(context.Background(), []model.Network{m}, []model.TaskData{{Head: "t", X: x, N: 1}}, model.StatsOptions{Fisher: true, Labels: model.ExpectedFisher}); err != nil {
		t.Errorf("expected Fisher without labels: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := model.ComputeStats(ctx, []model.Network{m}, []model.TaskData{{Head: "t", X: x, Y: []int32{0}, N: 1}}, model.StatsOptions{Fisher: true}); err == nil {
		t.Error("cancelled context accepted")
	}
}

// Statistics plug into the operators: RegMean with α = 1 on Grams from
// LinearGrams gives the least-squares merge, whose normal equations
// Σ_i G_i (W − W_i)ᵀ = 0 hold; Fisher merging runs on ComputeStats' Fisher.
func TestStatsDriveOperators(t *testing.T) {
	spec := mlp.Config{Input: [3]int{1, 1, 3}, Hidden: []int{2}, Heads: []model.Head{{Name: "t", Classes: 2}}}
	var models []model.Network
	var tensors [][]checkpoint.Tensor
	for seed := range uint64(2) {
		m, err := spec.New(seed + 20)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
		tensors = append(tensors, model.Tensors(m))
	}
	r := rng.New(1, "stats-test")
	var data []model.TaskData
	for range 2 {
		x := make([]float32, 3*16)
		y := make([]int32, 16)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for i := range y {
			y[i] = int32(r.IntN(2))
		}
		data = append(data, model.TaskData{Head: "t", X: x, Y: y, N: 16})
	}
	stats, err := model.ComputeStats(context.Background(), models, data, model.StatsOptions{Fisher: true, Gram: true})
	if err != nil {
		t.Fatal(err)
	}
	src, err := operators.NewMemSource(nil, tensors...)
	if err != nil {
		t.Fatal(err)
	}
	merged := func(op operators.Operator, s operators.Settings) map[string][]float32 {
		plan, err := operators.NewPlan(op, src, s, operators.PlanOptions{Stats: stats})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float32{}
		err = operators.MergeAll(context.Background(), plan, src,
			func(m operators.TensorMeta) []float32 { return make([]float32, m.NumElements()) },
			func(m operators.TensorMeta, dst []float32) error { out[m.Name] = dst; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	alpha1 := operators.Settings{Default: operators.Values{Global: map[string]operators.Value{"alpha": operators.F(1)}}}
	w := merged(operators.RegMean(), alpha1)["layers.1.weight"] // [2, 3]
	g := make([]float64, 9)
	var resid [3][2]float64 // Σ_i n_i G_i (W − W_i)ᵀ, [in][out]
	for i, m := range models {
		n, ok, err := stats.Gram(i, "layers.1.weight", g)
		if err != nil || !ok {
			t.Fatalf("Gram: ok=%v err=%v", ok, err)
		}
		wi := m.Param("layers.1.weight").Data
		for a := range 3 {
			for o := range 2 {
				for k := range 3 {
					resid[a][o] += float64(n) * g[a*3+k] * float64(w[o*3+k]-wi[o*3+k])
				}
			}
		}
	}
	for a := range 3 {
		for o := range 2 {
			if math.Abs(resid[a][o]) > 1e-4 {
				t.Errorf("RegMean normal equations: residual[%d][%d] = %g", a, o, resid[a][o])
			}
		}
	}
	// Fisher merging: each value is a Fisher-weighted average, so it lies
	// between the two models' values.
	f := merged(operators.Fisher(), operators.Settings{})
	for name, v := range f {
		if strings.HasPrefix(name, "heads.") {
			continue
		}
		a, b := models[0].Param(name).Data, models[1].Param(name).Data
		for j := range v {
			lo, hi := min(a[j], b[j]), max(a[j], b[j])
			if v[j] < lo-1e-6 || v[j] > hi+1e-6 {
				t.Errorf("fisher %s[%d] = %g outside [%g, %g]", name, j, v[j], lo, hi)
			}
		}
	}
}

// Statistics are bit-identical whatever the number of cores.
func TestStatsDeterministicAcrossCores(t *testing.T) {
	spec := cnn.Config{Input: [3]int{1, 6, 6}, Channels: []int{2}, Hidden: []int{8}, Heads: []model.Head{{Name: "t", Classes: 3}}}
	m, err := spec.New(3)
	if err != nil {
		t.Fatal(err)
	}
	r := rng.New(2, "stats-cores")
	const n = 20
	x := make([]float32, n*36)
	y := make([]int32, n)
	for i := range x {
		x[i] = float32(r.Float64())
	}
	for i := range y {
		y[i] = int32(r.IntN(3))
	}
	run := func(procs int) *model.Stats {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		s, err := model.ComputeStats(context.Background(), []model.Network{m}, []model.TaskData{{Head: "t", X: x, Y: y, N: n}},
			model.StatsOptions{Fisher: true, Gram: true, Batch: 7})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	one, many := run(1), run(4)
	f1, f4 := one.FisherTensors(0, m), many.FisherTensors(0, m)
	if len(f1) != len(m.Params()) || len(f4) != len(f1) {
		t.Fatalf("Fisher of %d and %d tensors, want %d", len(f1), len(f4), len(m.Params()))
	}
	for i := range f1 {
		if f1[i].Name != f4[i].Name || !slices.Equal(f1[i].Data, f4[i].Data) {
			t.Errorf("Fisher of %s differs between 1 and 4 cores", f1[i].Name)
		}
	}
	grams := 0
	for _, p := range m.Params() {
		size := 1
		if len(p.Shape) == 2 {
			size = p.Shape[1] * p.Shape[1]
		}
		g1, g4 := make([]float64, size), make([]float64, size)
		n1, ok1, err1 := one.Gram(0, p.Name, g1)
		n4, ok4, err4 := many.Gram(0, p.Name, g4)
		if err1 != nil || err4 != nil || ok1 != ok4 {
			t.Fatalf("Gram of %s: %v %v, %v %v", p.Name, ok1, err1, ok4, err4)
		}
		if !ok1 {
			continue
		}
		grams++
		if n1 != n4 || !slices.Equal(g1, g4) {
			t.Errorf("Gram of %s differs between 1 and 4 cores", p.Name)
		}
	}
	if grams != 1 {
		t.Errorf("got %d Gram matrices, want 1 (the Linear after the convolution)", grams)
	}
}
