package nn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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

// SpecMetadataKey is the checkpoint __metadata__ key under which Save stores the
// JSON-encoded Spec, so that Load can rebuild a model from the file alone.
const SpecMetadataKey = "evomerge.spec"

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

// HeadSpec names a per-task classification head: a Linear layer from the backbone's
// flat output to Classes logits, stored as heads.{Name}.weight and heads.{Name}.bias.
type HeadSpec struct {
	Name    string `json:"name"`
	Classes int    `json:"classes"`
}

// Spec is a complete architecture: input shape (channels, height, width), the shared
// backbone layers in order, and the task heads on top of the backbone.
type Spec struct {
	Arch   string      `json:"arch"`
	Input  [3]int      `json:"input"`
	Layers []LayerSpec `json:"layers"`
	Heads  []HeadSpec  `json:"heads"`
}

// MLPSpec returns a multilayer perceptron: flatten, then Linear+ReLU for every hidden
// width, then the heads.
func MLPSpec(input [3]int, hidden []int, heads []HeadSpec) Spec {
	s := Spec{Arch: "mlp", Input: input, Heads: append([]HeadSpec(nil), heads...)}
	s.Layers = append(s.Layers, LayerSpec{Kind: KindFlatten})
	for _, h := range hidden {
		s.Layers = append(s.Layers, LayerSpec{Kind: KindLinear, Out: h}, LayerSpec{Kind: KindReLU})
	}
	return s
}

// CNNSpec returns a small convolutional network: for every entry of channels a 3×3
// convolution with padding 1, ReLU and 2×2 max pooling; then flatten, Linear+ReLU for
// every hidden width, and the heads.
func CNNSpec(input [3]int, channels []int, hidden []int, heads []HeadSpec) Spec {
	s := Spec{Arch: "cnn", Input: input, Heads: append([]HeadSpec(nil), heads...)}
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

// Validate checks the spec and returns an error naming the first offending layer or
// head and saying how to fix it.
func (s Spec) Validate() error {
	_, err := s.shapes()
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

// shapes validates the spec and returns the output shape of every backbone layer.
func (s Spec) shapes() ([][3]int, error) {
	for i, d := range s.Input {
		if d < 1 || d > maxDim {
			return nil, fmt.Errorf("nn: spec input[%d] = %d: input dimensions (channels, height, width) must be between 1 and %d", i, d, maxDim)
		}
	}
	if _, ok := boundedProduct(maxDim, s.Input[:]...); !ok {
		return nil, fmt.Errorf("nn: spec input %v has more than %d values", s.Input, maxDim)
	}
	cur := s.Input
	out := make([][3]int, len(s.Layers))
	for i, l := range s.Layers {
		next, err := layerOutput(l, cur)
		if err != nil {
			return nil, fmt.Errorf("nn: spec layer %d (%s): %w", i, l.Kind, err)
		}
		if _, ok := boundedProduct(maxDim, next[:]...); !ok {
			return nil, fmt.Errorf("nn: spec layer %d (%s): output %v has more than %d values per example", i, l.Kind, next, maxDim)
		}
		out[i] = next
		cur = next
	}
	if len(s.Heads) == 0 {
		return nil, fmt.Errorf("nn: spec has no heads: add at least one {name, classes} head")
	}
	if len(s.Layers) > 0 && (cur[1] != 1 || cur[2] != 1) {
		return nil, fmt.Errorf("nn: spec backbone output is %v (C,H,W) but heads need flat features: end the layers with a flatten layer", cur)
	}
	if len(s.Layers) == 0 && (cur[1] != 1 || cur[2] != 1) {
		return nil, fmt.Errorf("nn: spec input %v is not flat and there are no layers: add a flatten layer", cur)
	}
	seen := map[string]bool{}
	for i, h := range s.Heads {
		if err := checkHeadName(h.Name); err != nil {
			return nil, fmt.Errorf("nn: spec head %d: %w", i, err)
		}
		if seen[h.Name] {
			return nil, fmt.Errorf("nn: spec head %q appears twice: head names must be unique", h.Name)
		}
		seen[h.Name] = true
		if h.Classes < 1 || h.Classes > maxDim {
			return nil, fmt.Errorf("nn: spec head %q: classes = %d, want between 1 and %d", h.Name, h.Classes, maxDim)
		}
		if _, ok := boundedProduct(maxTensorValues, h.Classes, cur[0]); !ok {
			return nil, fmt.Errorf("nn: spec head %q: weight [%d %d] has more than %d values", h.Name, h.Classes, cur[0], maxTensorValues)
		}
	}
	return out, nil
}

func checkHeadName(name string) error {
	if name == "" {
		return fmt.Errorf("empty head name: give every head a task name")
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("head name %q: use only letters, digits, '-' and '_' (tensor names are heads.{name}.weight)", name)
		}
	}
	return nil
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

// encodeSpec returns the JSON stored under SpecMetadataKey.
func encodeSpec(s Spec) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("nn: encoding spec: %w", err)
	}
	return string(b), nil
}

// decodeSpec parses the JSON stored under SpecMetadataKey, rejecting unknown fields.
func decodeSpec(text string) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("invalid JSON in metadata key %s: %w", SpecMetadataKey, err)
	}
	if dec.More() {
		return Spec{}, fmt.Errorf("invalid JSON in metadata key %s: trailing data after the spec", SpecMetadataKey)
	}
	return s, nil
}

// headParamName returns the tensor name of a head parameter ("weight" or "bias").
func headParamName(head, which string) string { return "heads." + head + "." + which }

// parseHeadParam splits "heads.{name}.{weight|bias}".
func parseHeadParam(name string) (head, which string, ok bool) {
	rest, found := strings.CutPrefix(name, "heads.")
	if !found {
		return "", "", false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 {
		return "", "", false
	}
	head, which = rest[:dot], rest[dot+1:]
	if which != "weight" && which != "bias" || checkHeadName(head) != nil {
		return "", "", false
	}
	return head, which, true
}
