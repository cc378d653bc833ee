package layers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
)

// Layer kinds understood by Spec.
const (
	KindLinear    = "linear"
	KindConv2D    = "conv2d"
	KindReLU      = "relu"
	KindGELU      = "gelu"
	KindMaxPool   = "maxpool"
	KindAvgPool   = "avgpool"
	KindFlatten   = "flatten"
	KindLayerNorm = "layernorm"
	KindDropout   = "dropout"
)

// LayerSpec describes one backbone layer. Only the fields a kind uses may be set:
//
//	linear    Out (output features); input must be flat (C×1×1)
//	conv2d    Out (output channels), Kernel (square), Stride (0 means 1), Padding (zeros)
//	maxpool   Kernel, Stride (0 means Kernel), Padding (at most Kernel/2; padded cells are ignored)
//	avgpool   Kernel, Stride (0 means Kernel), Padding (at most Kernel/2; padded cells count as zeros)
//	layernorm normalises each example over all its C·H·W values, with a weight and bias per value
//	dropout   P, the probability of zeroing a value during training (0 ≤ P < 1)
//	relu, gelu, flatten take no fields.
type LayerSpec struct {
	Kind    string  `json:"kind"`
	Out     int     `json:"out,omitempty"`
	Kernel  int     `json:"kernel,omitempty"`
	Stride  int     `json:"stride,omitempty"`
	Padding int     `json:"padding,omitempty"`
	P       float64 `json:"p,omitempty"`
}

// Spec is a complete sequential network: the architecture's name, the input
// shape (channels, height, width), the shared backbone layers in order, and
// the task heads on top of the backbone (each a Linear layer from the
// backbone's flat output to its classes). Its JSON is what checkpoints carry
// under model.SpecMetadataKey.
type Spec struct {
	Arch   string       `json:"arch"`
	Input  [3]int       `json:"input"`
	Layers []LayerSpec  `json:"layers"`
	Heads  []model.Head `json:"heads"`
}

// Validate checks the spec and returns an error naming the first offending layer or
// head and saying how to fix it.
func (s Spec) Validate() error {
	_, err := s.shapes(true)
	return err
}

// ValidateBackbone is Validate without the rule that a spec has a head: a
// checkpoint's heads may be taken from its tensors.
func (s Spec) ValidateBackbone() error {
	_, err := s.shapes(false)
	return err
}

// Limits on sizes read from specs (which may come from untrusted files): every single
// size is at most maxDim, an example has at most maxDim values at every layer, and a
// parameter tensor has at most maxTensorValues values. Products are checked without
// overflow.
const (
	maxDim          = 1 << 24
	maxTensorValues = 1 << 31
)

// boundedProduct returns the product of dims and whether it is at most limit.
func boundedProduct(limit int, dims ...int) (int, bool) {
	p := 1
	for _, d := range dims {
		if d < 0 || (d != 0 && p > limit/d) {
			return 0, false
		}
		p *= d
	}
	return p, true
}

// shapes validates the spec (requiring a head when needHead is set) and
// returns the output shape of every backbone layer.
func (s Spec) shapes(needHead bool) ([][3]int, error) {
	for i, d := range s.Input {
		if d < 1 || d > maxDim {
			return nil, fmt.Errorf("layers: spec input[%d] = %d: input dimensions (channels, height, width) must be between 1 and %d", i, d, maxDim)
		}
	}
	if _, ok := boundedProduct(maxDim, s.Input[:]...); !ok {
		return nil, fmt.Errorf("layers: spec input %v has more than %d values", s.Input, maxDim)
	}
	cur := s.Input
	out := make([][3]int, len(s.Layers))
	for i, l := range s.Layers {
		next, err := layerOutput(l, cur)
		if err != nil {
			return nil, fmt.Errorf("layers: spec layer %d (%s): %w", i, l.Kind, err)
		}
		if _, ok := boundedProduct(maxDim, next[:]...); !ok {
			return nil, fmt.Errorf("layers: spec layer %d (%s): output %v has more than %d values per example", i, l.Kind, next, maxDim)
		}
		out[i] = next
		cur = next
	}
	if needHead && len(s.Heads) == 0 {
		return nil, fmt.Errorf("layers: spec has no heads: add at least one {name, classes} head")
	}
	if len(s.Layers) > 0 && (cur[1] != 1 || cur[2] != 1) {
		return nil, fmt.Errorf("layers: spec backbone output is %v (C,H,W) but heads need flat features: end the layers with a flatten layer", cur)
	}
	if len(s.Layers) == 0 && (cur[1] != 1 || cur[2] != 1) {
		return nil, fmt.Errorf("layers: spec input %v is not flat and there are no layers: add a flatten layer", cur)
	}
	seen := map[string]bool{}
	for i, h := range s.Heads {
		if err := model.CheckHeadName(h.Name); err != nil {
			return nil, fmt.Errorf("layers: spec head %d: %w", i, err)
		}
		if seen[h.Name] {
			return nil, fmt.Errorf("layers: spec head %q appears twice: head names must be unique", h.Name)
		}
		seen[h.Name] = true
		if h.Classes < 1 || h.Classes > maxDim {
			return nil, fmt.Errorf("layers: spec head %q: classes = %d, want between 1 and %d", h.Name, h.Classes, maxDim)
		}
		if _, ok := boundedProduct(maxTensorValues, h.Classes, cur[0]); !ok {
			return nil, fmt.Errorf("layers: spec head %q: weight [%d %d] has more than %d values", h.Name, h.Classes, cur[0], maxTensorValues)
		}
	}
	return out, nil
}

// layerOutput validates one layer against its input shape and returns its output shape.
func layerOutput(l LayerSpec, in [3]int) ([3]int, error) {
	used := map[string]bool{}
	switch l.Kind {
	case KindLinear:
		used["out"] = true
	case KindConv2D:
		used["out"], used["kernel"], used["stride"], used["padding"] = true, true, true, true
	case KindMaxPool, KindAvgPool:
		used["kernel"], used["stride"], used["padding"] = true, true, true
	case KindDropout:
		used["p"] = true
	case KindReLU, KindGELU, KindFlatten, KindLayerNorm:
	default:
		return in, fmt.Errorf("unknown kind %q: use one of linear, conv2d, relu, gelu, maxpool, avgpool, flatten, layernorm, dropout", l.Kind)
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"out", l.Out != 0}, {"kernel", l.Kernel != 0}, {"stride", l.Stride != 0}, {"padding", l.Padding != 0}, {"p", l.P != 0}} {
		if f.set && !used[f.name] {
			return in, fmt.Errorf("field %q is not used by %s layers: remove it", f.name, l.Kind)
		}
	}
	switch l.Kind {
	case KindLinear:
		if in[1] != 1 || in[2] != 1 {
			return in, fmt.Errorf("input %v (C,H,W) is not flat: put a flatten layer before linear", in)
		}
		if l.Out < 1 || l.Out > maxDim {
			return in, fmt.Errorf("out = %d, want between 1 and %d", l.Out, maxDim)
		}
		if _, ok := boundedProduct(maxTensorValues, l.Out, in[0]); !ok {
			return in, fmt.Errorf("weight [%d %d] has more than %d values", l.Out, in[0], maxTensorValues)
		}
		return [3]int{l.Out, 1, 1}, nil
	case KindConv2D, KindMaxPool, KindAvgPool:
		if l.Kernel < 1 || l.Kernel > maxDim {
			return in, fmt.Errorf("kernel = %d, want between 1 and %d", l.Kernel, maxDim)
		}
		if l.Stride < 0 || l.Stride > maxDim {
			return in, fmt.Errorf("stride = %d, want between 1 and %d (or 0 for the default)", l.Stride, maxDim)
		}
		if l.Padding < 0 || l.Padding > maxDim {
			return in, fmt.Errorf("padding = %d, want between 0 and %d", l.Padding, maxDim)
		}
		if l.Kind != KindConv2D && 2*l.Padding > l.Kernel {
			return in, fmt.Errorf("padding = %d is more than half the kernel %d", l.Padding, l.Kernel)
		}
		oh, ow := windowOut(in[1], l), windowOut(in[2], l)
		if oh < 1 || ow < 1 {
			return in, fmt.Errorf("kernel %d with padding %d does not fit the %d×%d input", l.Kernel, l.Padding, in[1], in[2])
		}
		c := in[0]
		if l.Kind == KindConv2D {
			if l.Out < 1 || l.Out > maxDim {
				return in, fmt.Errorf("out = %d channels, want between 1 and %d", l.Out, maxDim)
			}
			if _, ok := boundedProduct(maxTensorValues, l.Out, in[0], l.Kernel, l.Kernel); !ok {
				return in, fmt.Errorf("weight [%d %d %d %d] has more than %d values", l.Out, in[0], l.Kernel, l.Kernel, maxTensorValues)
			}
			c = l.Out
		}
		return [3]int{c, oh, ow}, nil
	case KindDropout:
		if !(l.P >= 0 && l.P < 1) {
			return in, fmt.Errorf("p = %v, want 0 ≤ p < 1", l.P)
		}
		return in, nil
	case KindFlatten:
		return [3]int{in[0] * in[1] * in[2], 1, 1}, nil
	}
	return in, nil
}

// stride returns the effective stride of a windowed layer.
func (l LayerSpec) stride() int {
	if l.Stride > 0 {
		return l.Stride
	}
	if l.Kind == KindConv2D {
		return 1
	}
	return l.Kernel
}

func windowOut(size int, l LayerSpec) int {
	span := size + 2*l.Padding - l.Kernel
	if span < 0 {
		return 0
	}
	return span/l.stride() + 1
}

// encodeSpec returns the JSON stored under model.SpecMetadataKey.
func encodeSpec(s Spec) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic("layers: encoding a spec: " + err.Error()) // plain data: cannot fail
	}
	return string(b)
}

// DecodeSpec parses the JSON stored under model.SpecMetadataKey, rejecting
// unknown fields. It does not validate the spec.
func DecodeSpec(text string) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("invalid JSON in metadata key %s: %w", model.SpecMetadataKey, err)
	}
	if dec.More() {
		return Spec{}, fmt.Errorf("invalid JSON in metadata key %s: trailing data after the spec", model.SpecMetadataKey)
	}
	return s, nil
}

// SpecFor reads the spec of a checkpoint of architecture arch from its
// metadata, for Architecture.Detect: a *model.Unrecognized error when the
// metadata has no spec, a spec that is not JSON or one naming another
// architecture; an error when the spec names arch but does not decode
// (unknown fields included). The spec is not validated: the architecture
// checks its form first, then ValidateBackbone.
func SpecFor(meta map[string]string, arch string) (Spec, error) {
	text, ok := meta[model.SpecMetadataKey]
	if !ok {
		return Spec{}, &model.Unrecognized{Reason: "it has no " + model.SpecMetadataKey + " metadata"}
	}
	var head struct {
		Arch string `json:"arch"`
	}
	if err := json.Unmarshal([]byte(text), &head); err != nil {
		return Spec{}, &model.Unrecognized{Reason: fmt.Sprintf("invalid JSON in metadata key %s: %v", model.SpecMetadataKey, err)}
	}
	if head.Arch != arch {
		return Spec{}, &model.Unrecognized{Reason: fmt.Sprintf("its %s metadata names architecture %q", model.SpecMetadataKey, head.Arch)}
	}
	return DecodeSpec(text)
}

func cloneSpec(s Spec) Spec {
	s.Layers = slices.Clone(s.Layers)
	s.Heads = slices.Clone(s.Heads)
	return s
}

// The methods below make a Spec a model.Config of its own: the generic
// sequential network the architectures build on. Checkpoints are recognised
// only through an Architecture (internal/model/all).

// Architecture implements model.Config: the spec's Arch.
func (s Spec) Architecture() string { return s.Arch }

// InputShape implements model.Config.
func (s Spec) InputShape() [3]int { return s.Input }

// WithHeads implements model.Config.
func (s Spec) WithHeads(heads []model.Head) model.Config {
	s = cloneSpec(s)
	s.Heads = slices.Clone(heads)
	return s
}

// Backbone implements model.Config: the spec's JSON without its heads.
func (s Spec) Backbone() string {
	s.Heads = nil
	return encodeSpec(s)
}

// Groups implements model.Config: "layers.{i}" for every Linear, Conv2D and
// LayerNorm layer.
func (s Spec) Groups() []string {
	var out []string
	for i, l := range s.Layers {
		switch l.Kind {
		case KindLinear, KindConv2D, KindLayerNorm:
			out = append(out, "layers."+strconv.Itoa(i))
		}
	}
	return out
}

// Metadata implements model.Config: the spec's JSON under
// model.SpecMetadataKey.
func (s Spec) Metadata() map[string]string {
	return map[string]string{model.SpecMetadataKey: encodeSpec(s)}
}

// New implements model.Config (see New).
func (s Spec) New(seed uint64) (model.Network, error) { return NewNetwork(s, s, seed) }

// FromTensors implements model.Config (see FromTensors).
func (s Spec) FromTensors(tensors []checkpoint.Tensor) (model.Network, error) {
	return NetworkFromTensors(s, s, tensors)
}
