// Package cnn is the small convolutional architecture of evomerge's
// Go-native backend.
//
// # Contract
//
//   - A Config{Input, Channels, Hidden, Heads} is the network: for every
//     entry c of Channels a 3×3 convolution to c channels (stride 1, zero
//     padding 1), a ReLU and a 2×2 max pooling with stride 2; then a
//     flatten, a Linear layer and a ReLU for every width of Hidden, and one
//     Linear head per task. Inputs are n examples of C·H·W float32 values
//     (NCHW).
//   - Tensor names: convolution block b is layers.{3b}.weight [c, in, 3, 3]
//     and layers.{3b}.bias [c] (its ReLU and pooling are layers.{3b+1} and
//     layers.{3b+2}); the flatten is layers.{3B} for B blocks; hidden layer
//     k is layers.{3B+2k+1}.weight [out, in] and .bias [out]; heads are
//     heads.{task}.weight [classes, features] and heads.{task}.bias
//     [classes], per task and never merged. Parameters are listed in
//     checkpoint.SortNames order.
//   - Metadata: a checkpoint records its config as JSON under
//     model.SpecMetadataKey ("evomerge.spec"), exactly
//     {"arch":"cnn","input":[C,H,W],"layers":[{"kind":"conv2d","out":c,
//     "kernel":3,"stride":1,"padding":1},{"kind":"relu"},{"kind":"maxpool",
//     "kernel":2,"stride":2},...,{"kind":"flatten"},{"kind":"linear",
//     "out":h},{"kind":"relu"},...],"heads":[...]}. Detect recognises arch
//     "cnn"; a spec of arch "cnn" whose layers are not of that form, or that
//     does not decode, is an error naming what is wrong; a checkpoint
//     without the key, or naming another arch, is model.Unrecognized. Heads
//     present as tensors but not listed are added by FromTensors.
//   - Initialisation (Config.New): weights and biases uniform in
//     ±1/sqrt(fan_in) (fan_in = in·3·3 for convolutions), each parameter
//     from its own internal/rng stream named after the seed and the
//     parameter.
//   - Numerics, buffers and determinism are internal/model/layers'
//     (convolution as channel-major im2col and one matrix product per chunk
//     of images): outputs are bit-identical for any GOMAXPROCS and
//     inference batch size, and steady-state passes do not allocate.
package cnn

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/layers"
)

// Name is the architecture's name, the "arch" of its metadata.
const Name = "cnn"

// Config is a CNN: input shape (channels, height, width), the output
// channels of every convolution block, the hidden widths after the flatten,
// and the heads. It implements model.Config.
type Config struct {
	Input    [3]int
	Channels []int
	Hidden   []int
	Heads    []model.Head
}

var _ model.Config = Config{}

// The layers of one convolution block, and its non-parameter layers.
var (
	blockRelu = layers.LayerSpec{Kind: layers.KindReLU}
	blockPool = layers.LayerSpec{Kind: layers.KindMaxPool, Kernel: 2, Stride: 2}
)

func blockConv(c int) layers.LayerSpec {
	return layers.LayerSpec{Kind: layers.KindConv2D, Out: c, Kernel: 3, Stride: 1, Padding: 1}
}

// Spec returns the config as the sequential spec its networks run and its
// metadata records.
func (c Config) Spec() layers.Spec {
	s := layers.Spec{Arch: Name, Input: c.Input, Heads: slices.Clone(c.Heads)}
	for _, ch := range c.Channels {
		s.Layers = append(s.Layers, blockConv(ch), blockRelu, blockPool)
	}
	s.Layers = append(s.Layers, layers.LayerSpec{Kind: layers.KindFlatten})
	s.Layers = layers.AppendHidden(s.Layers, c.Hidden)
	return s
}

// Validate checks the config (at least one head included) and returns an
// error naming the first offending layer or head.
func (c Config) Validate() error { return c.Spec().Validate() }

// Architecture implements model.Config.
func (c Config) Architecture() string { return Name }

// InputShape implements model.Config.
func (c Config) InputShape() [3]int { return c.Input }

// WithHeads implements model.Config.
func (c Config) WithHeads(heads []model.Head) model.Config {
	return Config{Input: c.Input, Channels: slices.Clone(c.Channels), Hidden: slices.Clone(c.Hidden), Heads: slices.Clone(heads)}
}

// Backbone implements model.Config.
func (c Config) Backbone() string {
	return fmt.Sprintf("cnn with input %v, convolution channels %v and hidden widths %v", c.Input, c.Channels, c.Hidden)
}

// Groups implements model.Config: the convolutions layers.0, layers.3, ...,
// then the hidden Linear layers.
func (c Config) Groups() []string {
	var out []string
	for b := range c.Channels {
		out = append(out, "layers."+strconv.Itoa(3*b))
	}
	flat := 3 * len(c.Channels)
	for k := range c.Hidden {
		out = append(out, "layers."+strconv.Itoa(flat+2*k+1))
	}
	return out
}

// Metadata implements model.Config: the spec under model.SpecMetadataKey.
func (c Config) Metadata() map[string]string { return c.Spec().Metadata() }

// New implements model.Config.
func (c Config) New(seed uint64) (model.Network, error) {
	return layers.NewNetwork(c.Spec(), c, seed)
}

// FromTensors implements model.Config.
func (c Config) FromTensors(tensors []checkpoint.Tensor) (model.Network, error) {
	return layers.NetworkFromTensors(c.Spec(), c, tensors)
}

// FromSpec returns the config of a spec of arch "cnn", or an error naming
// the first layer that is not of a CNN's form.
func FromSpec(s layers.Spec) (Config, error) {
	if err := s.CheckArch(Name); err != nil {
		return Config{}, err
	}
	c := Config{Input: s.Input, Heads: slices.Clone(s.Heads)}
	form := "a cnn's layers are conv2d (kernel 3, stride 1, padding 1), relu and maxpool (kernel 2, stride 2) per block, a flatten, then a linear and a relu per hidden layer"
	bad := func(i int, what string) error {
		return fmt.Errorf("cnn: %s layer %d (%s) is not %s: %s", model.SpecMetadataKey, i, s.Layers[i].Kind, what, form)
	}
	i := 0
	for i < len(s.Layers) && s.Layers[i].Kind == layers.KindConv2D {
		conv := s.Layers[i]
		if conv != blockConv(conv.Out) {
			return Config{}, bad(i, "a 3×3 convolution with stride 1 and padding 1")
		}
		if i+1 >= len(s.Layers) || s.Layers[i+1] != blockRelu {
			return Config{}, fmt.Errorf("cnn: %s layer %d is not the relu after convolution %d: %s", model.SpecMetadataKey, i+1, i, form)
		}
		if i+2 >= len(s.Layers) || s.Layers[i+2] != blockPool {
			return Config{}, fmt.Errorf("cnn: %s layer %d is not the 2×2 max pooling after convolution %d: %s", model.SpecMetadataKey, i+2, i, form)
		}
		c.Channels = append(c.Channels, conv.Out)
		i += 3
	}
	if i >= len(s.Layers) {
		return Config{}, fmt.Errorf("cnn: %s has no flatten after the convolution blocks: %s", model.SpecMetadataKey, form)
	}
	if s.Layers[i] != (layers.LayerSpec{Kind: layers.KindFlatten}) {
		return Config{}, bad(i, "a convolution or a plain flatten")
	}
	hidden, err := s.ParseHidden(i+1, form)
	if err != nil {
		return Config{}, err
	}
	c.Hidden = hidden
	if err := s.ValidateBackbone(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Architecture returns the CNN architecture. Its Detect is as the package
// documentation says: FromSpec of the spec under model.SpecMetadataKey.
func Architecture() model.Architecture { return architecture }

var architecture = layers.SpecArchitecture(Name, FromSpec)
