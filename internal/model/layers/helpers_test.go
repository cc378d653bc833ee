package layers

import (
	"fmt"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
)

// mlpSpec is the spec of the mlp architecture (internal/model/mlp, which
// these tests cannot import): flatten, then Linear+ReLU for every hidden
// width, then the heads.
func mlpSpec(input [3]int, hidden []int, heads []model.Head) Spec {
	s := Spec{Arch: "mlp", Input: input, Heads: append([]model.Head(nil), heads...)}
	s.Layers = append(s.Layers, LayerSpec{Kind: KindFlatten})
	for _, h := range hidden {
		s.Layers = append(s.Layers, LayerSpec{Kind: KindLinear, Out: h}, LayerSpec{Kind: KindReLU})
	}
	return s
}

// cnnSpec is the spec of the cnn architecture (internal/model/cnn): for
// every entry of channels a 3×3 convolution with padding 1, ReLU and 2×2 max
// pooling; then flatten, Linear+ReLU for every hidden width, and the heads.
func cnnSpec(input [3]int, channels []int, hidden []int, heads []model.Head) Spec {
	s := Spec{Arch: "cnn", Input: input, Heads: append([]model.Head(nil), heads...)}
	for _, c := range channels {
		s.Layers = append(s.Layers,
			LayerSpec{Kind: KindConv2D, Out: c, Kernel: 3, Stride: 1, Padding: 1},
			LayerSpec{Kind: KindReLU},
			LayerSpec{Kind: KindMaxPool, Kernel: 2, Stride: 2})
	}
	s.Layers = append(s.Layers, LayerSpec{Kind: KindFlatten})
	for _, h := range hidden {
		s.Layers = append(s.Layers, LayerSpec{Kind: KindLinear, Out: h}, LayerSpec{Kind: KindReLU})
	}
	return s
}

// load rebuilds a stack from a checkpoint written by model.Save, with the
// spec its metadata records (the architectures' Detect does the same for
// their own archs).
func load(path string) (*Stack, error) {
	tensors, meta, err := checkpoint.LoadAll(path)
	if err != nil {
		return nil, err
	}
	text, ok := meta[model.SpecMetadataKey]
	if !ok {
		return nil, fmt.Errorf("%s: no %s metadata", path, model.SpecMetadataKey)
	}
	spec, err := DecodeSpec(text)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	s, err := FromTensors(spec, nil, tensors)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return s, nil
}

// lossAndInputGrad is Backward with the input gradient, in inference mode.
func (s *Stack) lossAndInputGrad(x []float32, n int, head string, y []int32, kind model.LossKind) (float64, []float32, error) {
	return s.Backward(x, n, head, y, kind, model.Pass{InputGrad: true})
}
