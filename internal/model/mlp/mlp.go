// Package mlp is the multilayer-perceptron architecture of evomerge's
// Go-native backend.
//
// # Contract
//
//   - A Config{Input, Hidden, Heads} is the network: the C×H×W input
//     flattened, then a Linear layer and a ReLU for every width of Hidden,
//     then one Linear head per task on the last hidden layer's output (on
//     the flattened input when Hidden is empty). Inputs are n examples of
//     C·H·W float32 values (NCHW).
//   - Tensor names: layer 0 is the flatten, hidden layer k is
//     layers.{2k+1}.weight [out, in] and layers.{2k+1}.bias [out] (its ReLU
//     is layers.{2k+2}, without parameters); heads are heads.{task}.weight
//     [classes, features] and heads.{task}.bias [classes], per task and
//     never merged. Parameters are listed in checkpoint.SortNames order.
//   - Metadata: a checkpoint records its config as JSON under
//     model.SpecMetadataKey ("evomerge.spec"), exactly
//     {"arch":"mlp","input":[C,H,W],"layers":[{"kind":"flatten"},
//     {"kind":"linear","out":h},{"kind":"relu"},...],"heads":[{"name":
//     "task","classes":k},...]}. Detect recognises arch "mlp"; a spec of
//     arch "mlp" whose layers are not of that form, or that does not decode
//     (unknown fields included), is an error naming what is wrong; a
//     checkpoint without the key, or naming another arch, is
//     model.Unrecognized. Heads present as tensors but not listed are added
//     by FromTensors.
//   - Initialisation (Config.New): weights and biases uniform in
//     ±1/sqrt(fan_in), PyTorch's default, each parameter from its own
//     internal/rng stream named after the seed and the parameter, so a
//     network's initial weights do not depend on its heads.
//   - Numerics, buffers and determinism are internal/model/layers': outputs
//     are bit-identical for any GOMAXPROCS and inference batch size, and
//     steady-state passes do not allocate.
package mlp

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/layers"
)

// Name is the architecture's name, the "arch" of its metadata.
const Name = "mlp"

// Config is an MLP: input shape (channels, height, width), hidden widths and
// heads. It implements model.Config.
type Config struct {
	Input  [3]int
	Hidden []int
	Heads  []model.Head
}

var _ model.Config = Config{}

// Spec returns the config as the sequential spec its networks run and its
// metadata records.
func (c Config) Spec() layers.Spec {
	s := layers.Spec{Arch: Name, Input: c.Input, Layers: []layers.LayerSpec{{Kind: layers.KindFlatten}}, Heads: slices.Clone(c.Heads)}
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
	return Config{Input: c.Input, Hidden: slices.Clone(c.Hidden), Heads: slices.Clone(heads)}
}

// Backbone implements model.Config.
func (c Config) Backbone() string {
	return fmt.Sprintf("mlp with input %v and hidden widths %v", c.Input, c.Hidden)
}

// Groups implements model.Config: layers.1, layers.3, ... (the hidden
// Linear layers).
func (c Config) Groups() []string {
	out := make([]string, len(c.Hidden))
	for k := range c.Hidden {
		out[k] = "layers." + strconv.Itoa(2*k+1)
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

// FromSpec returns the config of a spec of arch "mlp", or an error naming
// the first layer that is not of an MLP's form.
func FromSpec(s layers.Spec) (Config, error) {
	if err := s.CheckArch(Name); err != nil {
		return Config{}, err
	}
	c := Config{Input: s.Input, Heads: slices.Clone(s.Heads)}
	form := "an mlp's layers are a flatten, then a linear and a relu per hidden layer"
	if len(s.Layers) == 0 || s.Layers[0] != (layers.LayerSpec{Kind: layers.KindFlatten}) {
		return Config{}, fmt.Errorf("mlp: %s layer 0 is not a plain flatten: %s", model.SpecMetadataKey, form)
	}
	hidden, err := s.ParseHidden(1, form)
	if err != nil {
		return Config{}, err
	}
	c.Hidden = hidden
	if err := s.ValidateBackbone(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Architecture returns the MLP architecture. Its Detect is as the package
// documentation says: FromSpec of the spec under model.SpecMetadataKey.
func Architecture() model.Architecture { return architecture }

var architecture = layers.SpecArchitecture(Name, FromSpec)
