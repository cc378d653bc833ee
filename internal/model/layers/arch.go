package layers

import (
	"fmt"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
)

// NewNetwork is New as a model.Network, for model.Config.New: on error the
// network is a nil interface, not a nil *Stack.
func NewNetwork(spec Spec, cfg model.Config, seed uint64) (model.Network, error) {
	s, err := New(spec, cfg, seed)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NetworkFromTensors is FromTensors as a model.Network, for
// model.Config.FromTensors: on error the network is a nil interface, not a
// nil *Stack.
func NetworkFromTensors(spec Spec, cfg model.Config, tensors []checkpoint.Tensor) (model.Network, error) {
	s, err := FromTensors(spec, cfg, tensors)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// AppendHidden appends to ls a Linear layer of every width of widths, each
// followed by a ReLU, and returns the extended slice. These are the hidden
// layers layers.{i} (Linear, with parameters) and layers.{i+1} (ReLU) that
// Spec.ParseHidden reads back.
func AppendHidden(ls []LayerSpec, widths []int) []LayerSpec {
	for _, h := range widths {
		ls = append(ls, LayerSpec{Kind: KindLinear, Out: h}, LayerSpec{Kind: KindReLU})
	}
	return ls
}

// CheckArch returns an error unless the spec is of architecture arch; the
// error starts with arch, as the other errors of arch's FromSpec do.
func (s Spec) CheckArch(arch string) error {
	if s.Arch != arch {
		return fmt.Errorf("%s: spec of architecture %q, not %q", arch, s.Arch, arch)
	}
	return nil
}

// ParseHidden reads s.Layers[from:] as AppendHidden writes them (a Linear
// layer with only Out set, then a ReLU, per hidden layer) and returns the
// widths, nil when there are none. Its error names the first layer (by its
// index in s.Layers) that is not of that form; it starts with s.Arch and ends
// with form, the architecture's description of its layers. It does not
// validate the spec (Validate, ValidateBackbone).
func (s Spec) ParseHidden(from int, form string) ([]int, error) {
	var widths []int
	for i := from; i < len(s.Layers); i += 2 {
		lin := s.Layers[i]
		if lin != (LayerSpec{Kind: KindLinear, Out: lin.Out}) {
			return nil, fmt.Errorf("%s: %s layer %d (%s) is not a linear layer with only out set: %s", s.Arch, model.SpecMetadataKey, i, lin.Kind, form)
		}
		if i+1 >= len(s.Layers) || s.Layers[i+1] != (LayerSpec{Kind: KindReLU}) {
			return nil, fmt.Errorf("%s: %s layer %d is not the relu after linear layer %d: %s", s.Arch, model.SpecMetadataKey, i+1, i, form)
		}
		widths = append(widths, lin.Out)
	}
	return widths, nil
}

// SpecArchitecture returns the model.Architecture name whose checkpoints
// record their spec under model.SpecMetadataKey. Its Detect reads the spec
// with SpecFor (a checkpoint without a spec, or with one of another
// architecture, is *model.Unrecognized) and returns fromSpec's config or
// error; fromSpec checks the spec's form and validates its backbone.
func SpecArchitecture[C model.Config](name string, fromSpec func(Spec) (C, error)) model.Architecture {
	return &specArchitecture{name: name, fromSpec: func(s Spec) (model.Config, error) {
		c, err := fromSpec(s)
		if err != nil {
			return nil, err
		}
		return c, nil
	}}
}

type specArchitecture struct {
	name     string
	fromSpec func(Spec) (model.Config, error)
}

// Name implements model.Architecture.
func (a *specArchitecture) Name() string { return a.name }

// Detect implements model.Architecture: see SpecArchitecture.
func (a *specArchitecture) Detect(meta map[string]string, _ []byte) (model.Config, error) {
	s, err := SpecFor(meta, a.name)
	if err != nil {
		return nil, err
	}
	return a.fromSpec(s)
}
