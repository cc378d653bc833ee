package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
)

// An analytic derivative a and a numerical one d agree when
// |a-d| <= gradAbsTol + gradRelTol*max(|a|,|d|). Forward passes are float32, so with
// step 1e-2 the rounding error of a difference is about 1e-5 for the O(1) losses used
// here; Richardson extrapolation makes the truncation error of smooth layers O(step⁴).
const (
	gradStep   = 1e-2
	gradAbsTol = 2e-3
	gradRelTol = 1e-2
)

func randomValues(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*r.Float64() - 1) * scale)
	}
	return v
}

// richardson returns the derivative of f with respect to *v by Richardson extrapolation
// of central differences with steps gradStep and gradStep/2 (error O(step⁴)), leaving
// *v unchanged.
func richardson(v *float32, f func() float64) float64 {
	old := *v
	central := func(h float32) float64 {
		*v = old + h
		up := f()
		*v = old - h
		down := f()
		*v = old
		return (up - down) / float64(2*h)
	}
	d1 := central(gradStep)
	d2 := central(gradStep / 2)
	return (4*d2 - d1) / 3
}

func gradClose(a, d float64) bool {
	return math.Abs(a-d) <= gradAbsTol+gradRelTol*math.Max(math.Abs(a), math.Abs(d))
}

// layerLoss is L = Σ_i w_i y_i in float64 for fixed random weights w.
type layerProbe struct {
	l        layer
	n        int
	inSize   int
	outSize  int
	train    bool
	maskSeed uint64
}

func (p layerProbe) stream() *rand.Rand {
	if !p.train {
		return nil
	}
	// A fresh stream with the same seed on every call fixes the dropout mask.
	return rng.New(p.maskSeed, "gradcheck-mask")
}

func (p layerProbe) loss(x, w []float32) float64 {
	y := make([]float32, p.n*p.outSize)
	p.l.forward(y, x, p.n, p.train, p.stream())
	var s float64
	for i, v := range y {
		s += float64(w[i]) * float64(v)
	}
	return s
}

// checkLayer compares the layer's backward pass with central differences of
// L = Σ w·forward(x), for every input value and every parameter value.
func checkLayer(t *testing.T, name string, p layerProbe, x []float32) {
	t.Helper()
	r := rng.New(7, "gradcheck-weights", name)
	w := randomValues(r, p.n*p.outSize, 1)
	for _, prm := range p.l.params() {
		clear(prm.Grad)
	}
	y := make([]float32, p.n*p.outSize)
	p.l.forward(y, x, p.n, p.train, p.stream())
	dx := make([]float32, len(x))
	p.l.backward(dx, w, x, y, p.n)

	numeric := func(v *float32) float64 { return richardson(v, func() float64 { return p.loss(x, w) }) }
	for i := range x {
		d := numeric(&x[i])
		if !gradClose(float64(dx[i]), d) {
			t.Errorf("%s: dL/dx[%d] = %.6g, central difference %.6g", name, i, dx[i], d)
		}
	}
	for _, prm := range p.l.params() {
		for i := range prm.Data {
			d := numeric(&prm.Data[i])
			if !gradClose(float64(prm.Grad[i]), d) {
				t.Errorf("%s: dL/d%s[%d] = %.6g, central difference %.6g", name, prm.Name, i, prm.Grad[i], d)
			}
		}
	}
}

// awayFromZero returns values with |v| in [0.1, 1], so ReLU kinks are farther than the
// difference step.
func awayFromZero(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		m := 0.1 + 0.9*r.Float64()
		if r.IntN(2) == 0 {
			m = -m
		}
		v[i] = float32(m)
	}
	return v
}

// distinctValues returns a shuffled ladder of values 0.05 apart, so the arg-max of any
// pooling window does not change under a perturbation of gradStep.
func distinctValues(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i, j := range r.Perm(n) {
		v[i] = float32(j)*0.05 - float32(n)*0.025
	}
	return v
}

func TestLayerGradients(t *testing.T) {
	r := rng.New(1, "layer-gradients")
	randomize := func(ps []*model.Param) {
		for _, p := range ps {
			copy(p.Data, randomValues(r, len(p.Data), 0.8))
		}
	}
	const n = 3
	type tc struct {
		name           string
		l              layer
		inSize, out    int
		x              []float32
		train          bool
		randomizeParam bool
	}
	in := [3]int{2, 5, 4}
	inSize := 2 * 5 * 4
	conv := func(spec LayerSpec) *conv2d { return newConv2D("layers.0", in, spec) }
	convOut := func(c *conv2d) int { return c.outC * c.outH * c.outW }
	pool := func(spec LayerSpec) *pool2d { return newPool2D(in, spec) }
	poolOut := func(p *pool2d) int { return p.c * p.outH * p.outW }

	c1 := conv(LayerSpec{Kind: KindConv2D, Out: 3, Kernel: 3, Padding: 1})
	c2 := conv(LayerSpec{Kind: KindConv2D, Out: 2, Kernel: 2, Stride: 2, Padding: 1})
	c3 := conv(LayerSpec{Kind: KindConv2D, Out: 4, Kernel: 3, Stride: 2})
	mp := pool(LayerSpec{Kind: KindMaxPool, Kernel: 2})
	mpPad := pool(LayerSpec{Kind: KindMaxPool, Kernel: 3, Stride: 2, Padding: 1})
	ap := pool(LayerSpec{Kind: KindAvgPool, Kernel: 2})
	apPad := pool(LayerSpec{Kind: KindAvgPool, Kernel: 3, Stride: 2, Padding: 1})
	ln := newLayerNorm("layers.0", 7)
	cases := []tc{
		{"linear", newLinear("layers.0", 6, 4), 6, 4, randomValues(r, n*6, 1), false, true},
		{"conv2d k3 p1", c1, inSize, convOut(c1), randomValues(r, n*inSize, 1), false, true},
		{"conv2d k2 s2 p1", c2, inSize, convOut(c2), randomValues(r, n*inSize, 1), false, true},
		{"conv2d k3 s2", c3, inSize, convOut(c3), randomValues(r, n*inSize, 1), false, true},
		{"relu", relu{size: 10}, 10, 10, awayFromZero(r, n*10), false, false},
		{"gelu", &gelu{size: 10}, 10, 10, randomValues(r, n*10, 3), false, false},
		{"maxpool k2", mp, inSize, poolOut(mp), distinctValues(r, n*inSize), false, false},
		{"maxpool k3 s2 p1", mpPad, inSize, poolOut(mpPad), distinctValues(r, n*inSize), false, false},
		{"avgpool k2", ap, inSize, poolOut(ap), randomValues(r, n*inSize, 1), false, false},
		{"avgpool k3 s2 p1", apPad, inSize, poolOut(apPad), randomValues(r, n*inSize, 1), false, false},
		{"flatten", flatten{size: 8}, 8, 8, randomValues(r, n*8, 1), false, false},
		{"layernorm", ln, 7, 7, randomValues(r, n*7, 2), false, true},
		{"dropout train", &dropout{size: 12, p: 0.4}, 12, 12, randomValues(r, n*12, 1), true, false},
		{"dropout eval", &dropout{size: 12, p: 0.4}, 12, 12, randomValues(r, n*12, 1), false, false},
	}
	for _, c := range cases {
		if c.randomizeParam {
			randomize(c.l.params())
		}
		checkLayer(t, c.name, layerProbe{l: c.l, n: n, inSize: c.inSize, outSize: c.out, train: c.train, maskSeed: 3}, c.x)
	}
}

// wrongLinear has a backward pass that is off by 1% in the input gradient; the
// gradient check must reject it.
type wrongLinear struct{ *linear }

func (w wrongLinear) backward(dx, dy, x, y []float32, n int) {
	w.linear.backward(dx, dy, x, y, n)
	for i := range dx {
		dx[i] *= 1.05
	}
}

func TestGradientCheckRejectsWrongGradient(t *testing.T) {
	r := rng.New(2, "wrong-gradient")
	l := newLinear("layers.0", 5, 3)
	copy(l.w.Data, randomValues(r, 15, 1))
	ft := &fakeT{}
	checkLayerInto(ft, "wrong", layerProbe{l: wrongLinear{l}, n: 2, inSize: 5, outSize: 3}, randomValues(r, 10, 1))
	if ft.errors == 0 {
		t.Fatal("a 5% error in dL/dx went unnoticed by the gradient check")
	}
}

// fakeT records errors of checkLayerInto without failing the test.
type fakeT struct{ errors int }

func (f *fakeT) Helper()                   {}
func (f *fakeT) Errorf(string, ...any)     { f.errors++ }
func (f *fakeT) Fatalf(s string, a ...any) { f.errors++; panic(fmt.Sprintf(s, a...)) }

type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

// checkLayerInto is checkLayer reporting to any errorer.
func checkLayerInto(t errorer, name string, p layerProbe, x []float32) {
	t.Helper()
	r := rng.New(7, "gradcheck-weights", name)
	w := randomValues(r, p.n*p.outSize, 1)
	y := make([]float32, p.n*p.outSize)
	p.l.forward(y, x, p.n, p.train, p.stream())
	dx := make([]float32, len(x))
	p.l.backward(dx, w, x, y, p.n)
	for i := range x {
		old := x[i]
		x[i] = old + gradStep
		up := p.loss(x, w)
		x[i] = old - gradStep
		down := p.loss(x, w)
		x[i] = old
		if d := (up - down) / (2 * gradStep); !gradClose(float64(dx[i]), d) {
			t.Errorf("%s: dL/dx[%d] = %.6g, central difference %.6g", name, i, dx[i], d)
		}
	}
}

// checkModel compares Backward with the input gradient with central differences of the loss for every
// parameter value and every input value.
func checkModel(t *testing.T, name string, m *Stack, x []float32, n int, head string, y []int32, kind model.LossKind) {
	t.Helper()
	loss, dx, err := m.lossAndInputGrad(x, n, head, y, kind)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if math.IsNaN(loss) {
		t.Fatalf("%s: loss is NaN", name)
	}
	dx = append([]float32(nil), dx...)
	grads := map[string][]float32{}
	for _, p := range m.Params() {
		grads[p.Name] = append([]float32(nil), p.Grad...)
	}
	lossAt := func() float64 {
		logits, err := m.Logits(x, n, head)
		if err != nil {
			t.Fatal(err)
		}
		return model.LossGrad(kind, nil, logits, n, m.Classes(head), y)
	}
	numeric := func(v *float32) float64 { return richardson(v, lossAt) }
	for _, p := range m.Params() {
		for i := range p.Data {
			d := numeric(&p.Data[i])
			if g := float64(grads[p.Name][i]); !gradClose(g, d) {
				t.Errorf("%s %v: dL/d%s[%d] = %.6g, central difference %.6g", name, kind, p.Name, i, g, d)
			}
		}
	}
	for i := range x {
		d := numeric(&x[i])
		if !gradClose(float64(dx[i]), d) {
			t.Errorf("%s %v: dL/dx[%d] = %.6g, central difference %.6g", name, kind, i, dx[i], d)
		}
	}
}

func TestModelGradients(t *testing.T) {
	heads := []model.Head{{Name: "a", Classes: 3}, {Name: "b", Classes: 4}}
	mlp := Spec{Arch: "mlp-ln", Input: [3]int{1, 2, 3}, Heads: heads, Layers: []LayerSpec{
		{Kind: KindFlatten}, {Kind: KindLinear, Out: 5}, {Kind: KindLayerNorm}, {Kind: KindGELU},
		{Kind: KindDropout, P: 0.3}, {Kind: KindLinear, Out: 4}, {Kind: KindGELU},
	}}
	cnn := Spec{Arch: "cnn-mixed", Input: [3]int{2, 6, 5}, Heads: heads, Layers: []LayerSpec{
		{Kind: KindConv2D, Out: 3, Kernel: 3, Padding: 1}, {Kind: KindGELU},
		{Kind: KindAvgPool, Kernel: 2}, {Kind: KindConv2D, Out: 2, Kernel: 2, Stride: 1, Padding: 1},
		{Kind: KindFlatten}, {Kind: KindLayerNorm}, {Kind: KindLinear, Out: 4},
	}}
	for _, spec := range []Spec{mlp, cnn} {
		m, err := New(spec, nil, 11)
		if err != nil {
			t.Fatal(err)
		}
		r := rng.New(5, "model-gradients", spec.Arch)
		const n = 3
		x := randomValues(r, n*m.InputSize(), 1)
		for _, kind := range []model.LossKind{model.CrossEntropy, model.Entropy} {
			for _, head := range []string{"a", "b"} {
				y := make([]int32, n)
				for i := range y {
					y[i] = int32(r.IntN(m.Classes(head)))
				}
				checkModel(t, spec.Arch+"/"+head, m, x, n, head, y, kind)
			}
		}
		// Parameters of the head not in use get zero gradient.
		if _, err := model.LossAndGrad(m, x, n, "a", []int32{0, 1, 2}, model.CrossEntropy); err != nil {
			t.Fatal(err)
		}
		for _, v := range m.Param("heads.b.weight").Grad {
			if v != 0 {
				t.Fatalf("%s: head b has gradient %v after a loss on head a", spec.Arch, v)
			}
		}
	}
}

// TestMaxPoolSpatialGradients checks a max-pooling CNN with ReLU, where inputs are
// chosen away from kinks so finite differences are valid.
func TestMaxPoolCNNGradients(t *testing.T) {
	spec := cnnSpec([3]int{1, 4, 4}, []int{2}, nil, []model.Head{{Name: "t", Classes: 3}})
	m, err := New(spec, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Choose weights and inputs such that every pre-activation and pooling choice is
	// stable: search seeds until the margins exceed the difference step.
	r := rng.New(9, "maxpool-cnn")
	const n = 2
	for attempt := 0; ; attempt++ {
		if attempt > 200 {
			t.Fatal("no input with stable ReLU and max-pool choices found")
		}
		x := randomValues(r, n*16, 1)
		for _, p := range m.Params() {
			copy(p.Data, randomValues(r, len(p.Data), 1))
		}
		if _, err := m.Logits(x, n, "t"); err != nil {
			t.Fatal(err)
		}
		if !stableMargins(m.acts[0][:n*2*16], m.acts[1][:n*2*16], 4, 4, 0.08) {
			continue
		}
		checkModel(t, "cnn-maxpool", m, x, n, "t", []int32{0, 2}, model.CrossEntropy)
		return
	}
}

// stableMargins reports whether pre-activations are at least margin away from zero and
// every 2×2 pooling window's maximum leads the runner-up by at least margin.
func stableMargins(pre, post []float32, h, w int, margin float32) bool {
	for _, v := range pre {
		if v > -margin && v < margin {
			return false
		}
	}
	planes := len(post) / (h * w)
	for pl := range planes {
		p := post[pl*h*w : (pl+1)*h*w]
		for oy := 0; oy < h; oy += 2 {
			for ox := 0; ox < w; ox += 2 {
				vals := []float32{p[oy*w+ox], p[oy*w+ox+1], p[(oy+1)*w+ox], p[(oy+1)*w+ox+1]}
				best, second := float32(math.Inf(-1)), float32(math.Inf(-1))
				for _, v := range vals {
					if v > best {
						best, second = v, best
					} else if v > second {
						second = v
					}
				}
				if best > 0 && best-second < margin {
					return false
				}
			}
		}
	}
	return true
}
