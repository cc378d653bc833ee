package layers

import (
	"testing"

	"github.com/evomerge/evomerge/internal/model"
)

// FuzzSpecFromMetadata feeds arbitrary text to the spec decoder: it must return an
// error or a spec that validates; small valid specs must build a model that runs a
// forward and backward pass without panicking.
func FuzzSpecFromMetadata(f *testing.F) {
	heads := []model.Head{{Name: "t", Classes: 3}}
	for _, s := range []Spec{
		mlpSpec([3]int{1, 4, 4}, []int{5}, heads),
		cnnSpec([3]int{2, 6, 6}, []int{3}, []int{4}, heads),
		{Arch: "x", Input: [3]int{1, 5, 5}, Heads: heads, Layers: []LayerSpec{
			{Kind: KindConv2D, Out: 2, Kernel: 3, Stride: 2, Padding: 2}, {Kind: KindAvgPool, Kernel: 2, Padding: 1},
			{Kind: KindGELU}, {Kind: KindFlatten}, {Kind: KindLayerNorm}, {Kind: KindDropout, P: 0.5},
		}},
	} {
		f.Add(encodeSpec(s))
	}
	f.Add(`{"arch":"a","input":[16777216,16777216,16777216],"layers":[],"heads":[{"name":"t","classes":2}]}`)
	f.Add(`{"arch":"a","input":[1,1,1],"layers":[{"kind":"linear","out":16777216},{"kind":"linear","out":16777216}],"heads":[]}`)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := DecodeSpec(text)
		if err != nil {
			return
		}
		shapes, err := s.shapes(true)
		if err != nil {
			return
		}
		// Build only specs whose activations and parameters are small.
		in := s.Input
		total := 0
		for i, l := range s.Layers {
			size := in[0] * in[1] * in[2]
			total += size
			if l.Kind == KindLinear || l.Kind == KindConv2D {
				total += l.Out * size
			}
			in = shapes[i]
		}
		for _, h := range s.Heads {
			total += h.Classes * in[0]
		}
		if total > 1<<16 || len(s.Layers) > 64 {
			return
		}
		m, err := New(s, nil, 1)
		if err != nil {
			t.Fatalf("spec validated but New failed: %v", err)
		}
		x := make([]float32, 2*m.InputSize())
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		if _, _, err := m.lossAndInputGrad(x, 2, s.Heads[0].Name, []int32{0, 0}, model.CrossEntropy); err != nil {
			t.Fatalf("LossAndInputGrad on a valid spec: %v", err)
		}
	})
}
