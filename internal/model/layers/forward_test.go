package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
)

func approxEqual(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d values %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s: got %v, want %v (index %d)", what, got, want, i)
		}
	}
}

func TestLinearForwardHandComputed(t *testing.T) {
	l := newLinear("layers.0", 2, 3)
	copy(l.w.Data, []float32{1, 2, 3, 4, 5, 6}) // rows: outputs
	copy(l.b.Data, []float32{0.5, -1, 0})
	x := []float32{1, -1, 2, 0.5}
	y := make([]float32, 6)
	l.forward(y, x, 2, false, nil)
	// [1,-1]: 1-2+0.5, 3-4-1, 5-6; [2,0.5]: 2+1+0.5, 6+2-1, 10+3
	approxEqual(t, "linear", y, []float64{-0.5, -2, -1, 3.5, 7, 13}, 0)
}

func TestConvForwardHandComputed(t *testing.T) {
	in := [3]int{1, 3, 3}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		name   string
		spec   LayerSpec
		weight []float32
		bias   float32
		want   []float64
	}{
		{"2x2 ones", LayerSpec{Kind: KindConv2D, Out: 1, Kernel: 2}, []float32{1, 1, 1, 1}, 0, []float64{12, 16, 24, 28}},
		{"2x2 ones stride 2 pad 1", LayerSpec{Kind: KindConv2D, Out: 1, Kernel: 2, Stride: 2, Padding: 1}, []float32{1, 1, 1, 1}, 0, []float64{1, 5, 11, 28}},
		{"3x3 centre pad 1 with bias", LayerSpec{Kind: KindConv2D, Out: 1, Kernel: 3, Padding: 1}, []float32{0, 0, 0, 0, 1, 0, 0, 0, 0}, 10, []float64{11, 12, 13, 14, 15, 16, 17, 18, 19}},
		{"2x2 diagonal", LayerSpec{Kind: KindConv2D, Out: 1, Kernel: 2}, []float32{1, 0, 0, -1}, 0, []float64{-4, -4, -4, -4}},
	}
	for _, tc := range tests {
		c := newConv2D("layers.0", in, tc.spec)
		copy(c.w.Data, tc.weight)
		c.b.Data[0] = tc.bias
		y := make([]float32, c.outC*c.outH*c.outW)
		c.forward(y, x, 1, false, nil)
		approxEqual(t, tc.name, y, tc.want, 0)
	}
	// Two input channels, two output channels: each output sums its kernel over channels.
	c := newConv2D("layers.0", [3]int{2, 2, 2}, LayerSpec{Kind: KindConv2D, Out: 2, Kernel: 2})
	copy(c.w.Data, []float32{1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})
	y := make([]float32, 2)
	c.forward(y, []float32{1, 2, 3, 4, 10, 20, 30, 40}, 1, false, nil)
	approxEqual(t, "two channels", y, []float64{10, 10}, 0)
}

func TestPoolForwardHandComputed(t *testing.T) {
	in := [3]int{1, 4, 4}
	x := []float32{
		1, 2, 5, 0,
		3, 4, -1, 6,
		0, 0, 9, 8,
		-5, 1, 7, 7,
	}
	tests := []struct {
		name string
		spec LayerSpec
		want []float64
	}{
		{"max 2", LayerSpec{Kind: KindMaxPool, Kernel: 2}, []float64{4, 6, 1, 9}},
		{"avg 2", LayerSpec{Kind: KindAvgPool, Kernel: 2}, []float64{2.5, 2.5, -1, 7.75}},
		{"max 3 stride 1", LayerSpec{Kind: KindMaxPool, Kernel: 3, Stride: 1}, []float64{9, 9, 9, 9}},
		{"max 2 stride 2 pad 1", LayerSpec{Kind: KindMaxPool, Kernel: 2, Padding: 1}, []float64{1, 5, 0, 3, 9, 8, -5, 7, 7}},
		{"avg 2 stride 2 pad 1 (padding counts)", LayerSpec{Kind: KindAvgPool, Kernel: 2, Padding: 1}, []float64{0.25, 1.75, 0, 0.75, 3, 3.5, -1.25, 2, 1.75}},
	}
	for _, tc := range tests {
		p := newPool2D(in, tc.spec)
		y := make([]float32, p.outH*p.outW)
		p.forward(y, x, 1, false, nil)
		approxEqual(t, tc.name, y, tc.want, 1e-6)
	}
}

func TestLayerNormAndActivationsHandComputed(t *testing.T) {
	ln := newLayerNorm("layers.0", 4)
	y := make([]float32, 4)
	ln.forward(y, []float32{1, 2, 3, 4}, 1, false, nil)
	s := math.Sqrt(1.25 + layerNormEps)
	approxEqual(t, "layernorm", y, []float64{-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, 1e-6)
	copy(ln.w.Data, []float32{2, 2, 2, 2})
	copy(ln.b.Data, []float32{1, 0, 0, 0})
	ln.forward(y, []float32{1, 2, 3, 4}, 1, false, nil)
	approxEqual(t, "layernorm affine", y, []float64{1 - 3/s, -1 / s, 1 / s, 3 / s}, 1e-6)

	x := []float32{-2, -0.5, 0, 1, 3}
	out := make([]float32, 5)
	relu{size: 5}.forward(out, x, 1, false, nil)
	approxEqual(t, "relu", out, []float64{0, 0, 0, 1, 3}, 0)
	(&gelu{size: 5}).forward(out, x, 1, false, nil)
	// x·Φ(x): Φ(-2)=0.0227501, Φ(-0.5)=0.3085375, Φ(1)=0.8413447, Φ(3)=0.9986501
	approxEqual(t, "gelu", out, []float64{-0.0455003, -0.1542688, 0, 0.8413447, 2.9959503}, 1e-6)
}

func TestDropoutKeepsExpectation(t *testing.T) {
	d := &dropout{size: 20000, p: 0.25}
	x := make([]float32, 20000)
	for i := range x {
		x[i] = 1
	}
	y := make([]float32, len(x))
	d.forward(y, x, 1, false, nil)
	for i, v := range y {
		if v != 1 {
			t.Fatalf("eval-mode dropout changed value %d to %v", i, v)
		}
	}
	d.forward(y, x, 1, true, newTestStream())
	zeros, sum := 0, 0.0
	for _, v := range y {
		switch {
		case v == 0:
			zeros++
		case math.Abs(float64(v)-4.0/3) > 1e-6:
			t.Fatalf("kept value %v, want 1/(1-p) = 4/3", v)
		}
		sum += float64(v)
	}
	if frac := float64(zeros) / float64(len(y)); math.Abs(frac-0.25) > 0.02 {
		t.Fatalf("dropped fraction %.3f, want about 0.25", frac)
	}
	if mean := sum / float64(len(y)); math.Abs(mean-1) > 0.03 {
		t.Fatalf("mean after dropout %.3f, want about 1", mean)
	}
}

func TestSpecValidation(t *testing.T) {
	head := []model.Head{{Name: "digits", Classes: 10}}
	ok := mlpSpec([3]int{1, 8, 8}, []int{16}, head)
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"mlp", ok, ""},
		{"cnn", cnnSpec([3]int{1, 28, 28}, []int{8, 16}, []int{32}, head), ""},
		{"zero input", mlpSpec([3]int{0, 8, 8}, nil, head), "input[0] = 0"},
		{"unknown kind", Spec{Input: [3]int{4, 1, 1}, Layers: []LayerSpec{{Kind: "softplus"}}, Heads: head}, `unknown kind "softplus"`},
		{"linear on image", Spec{Input: [3]int{1, 4, 4}, Layers: []LayerSpec{{Kind: KindLinear, Out: 3}}, Heads: head}, "put a flatten layer before linear"},
		{"no flatten before heads", Spec{Input: [3]int{1, 4, 4}, Layers: []LayerSpec{{Kind: KindReLU}}, Heads: head}, "end the layers with a flatten layer"},
		{"linear without out", Spec{Input: [3]int{4, 1, 1}, Layers: []LayerSpec{{Kind: KindLinear}}, Heads: head}, "layer 0 (linear): out = 0"},
		{"unused field", Spec{Input: [3]int{4, 1, 1}, Layers: []LayerSpec{{Kind: KindReLU, Out: 3}}, Heads: head}, `field "out" is not used by relu`},
		{"kernel too big", Spec{Input: [3]int{1, 2, 2}, Layers: []LayerSpec{{Kind: KindConv2D, Out: 1, Kernel: 3}, {Kind: KindFlatten}}, Heads: head}, "does not fit the 2×2 input"},
		{"pool padding", Spec{Input: [3]int{1, 4, 4}, Layers: []LayerSpec{{Kind: KindMaxPool, Kernel: 2, Padding: 2}, {Kind: KindFlatten}}, Heads: head}, "more than half the kernel"},
		{"dropout p", Spec{Input: [3]int{4, 1, 1}, Layers: []LayerSpec{{Kind: KindDropout, P: 1}}, Heads: head}, "want 0 ≤ p < 1"},
		{"negative stride", Spec{Input: [3]int{1, 4, 4}, Layers: []LayerSpec{{Kind: KindConv2D, Out: 1, Kernel: 2, Stride: -1}, {Kind: KindFlatten}}, Heads: head}, "stride = -1"},
		{"no heads", mlpSpec([3]int{1, 8, 8}, nil, nil), "no heads"},
		{"duplicate head", mlpSpec([3]int{1, 8, 8}, nil, []model.Head{{Name: "a", Classes: 2}, {Name: "a", Classes: 3}}), `head "a" appears twice`},
		{"head with dot", mlpSpec([3]int{1, 8, 8}, nil, []model.Head{{Name: "a.b", Classes: 2}}), "use only letters"},
		{"zero classes", mlpSpec([3]int{1, 8, 8}, nil, []model.Head{{Name: "a", Classes: 0}}), "classes = 0"},
	}
	for _, tc := range tests {
		err := tc.spec.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.wantErr != "" && err == nil:
			t.Errorf("%s: no error, want one containing %q", tc.name, tc.wantErr)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.wantErr)
		}
		if _, nerr := New(tc.spec, nil, 1); (nerr == nil) != (err == nil) {
			t.Errorf("%s: New and Validate disagree: %v vs %v", tc.name, nerr, err)
		}
	}
}

func TestParamNamesAndShapes(t *testing.T) {
	spec := cnnSpec([3]int{1, 8, 8}, []int{4, 6}, []int{5}, []model.Head{{Name: "b", Classes: 3}, {Name: "a", Classes: 2}})
	m, err := New(spec, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range m.Params() {
		got = append(got, fmt.Sprintf("%s:%v", p.Name, p.Shape))
	}
	want := []string{
		"heads.a.bias:[2]", "heads.a.weight:[2 5]", "heads.b.bias:[3]", "heads.b.weight:[3 5]",
		"layers.0.bias:[4]", "layers.0.weight:[4 1 3 3]", "layers.3.bias:[6]", "layers.3.weight:[6 4 3 3]",
		"layers.7.bias:[5]", "layers.7.weight:[5 24]",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("params:\n got %v\nwant %v", got, want)
	}
	if m.InputSize() != 64 || m.Classes("b") != 3 || m.Classes("zzz") != 0 {
		t.Fatalf("InputSize %d, Classes(b) %d, Classes(zzz) %d", m.InputSize(), m.Classes("b"), m.Classes("zzz"))
	}
}

func newTestStream() *rand.Rand { return rng.New(42, "nn-test") }
