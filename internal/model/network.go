package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// Param is one named parameter tensor of a network. Data holds the values
// (row-major, Shape as in PyTorch); Grad has the same length and receives the
// gradient computed by Network.Backward. Both slices belong to the network;
// callers may read and write them in place.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
}

// NewParam returns a parameter of the given shape with zero values and
// gradient.
func NewParam(name string, shape ...int) *Param {
	size := 1
	for _, d := range shape {
		size *= d
	}
	return &Param{Name: name, Shape: shape, Data: make([]float32, size), Grad: make([]float32, size)}
}

// Head names a per-task classification head with Classes logits. Its tensors
// are HeadTensor(Name, "weight") and HeadTensor(Name, "bias").
type Head struct {
	Name    string `json:"name"`
	Classes int    `json:"classes"`
}

// SpecMetadataKey is the checkpoint metadata key under which evomerge's own
// architectures (mlp, cnn) record a network's config as JSON, so that a
// checkpoint rebuilds from the file alone.
const SpecMetadataKey = "evomerge.spec"

// HeadPrefix starts the name of every head tensor: heads.{task}.weight and
// heads.{task}.bias. Head tensors are per task and never merged.
const HeadPrefix = "heads."

// HeadTensor returns the tensor name of a head parameter ("weight" or "bias").
func HeadTensor(head, which string) string { return HeadPrefix + head + "." + which }

// ParseHeadTensor splits "heads.{name}.{weight|bias}"; ok is false for any
// other name.
func ParseHeadTensor(name string) (head, which string, ok bool) {
	rest, found := strings.CutPrefix(name, HeadPrefix)
	if !found {
		return "", "", false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 {
		return "", "", false
	}
	head, which = rest[:dot], rest[dot+1:]
	if which != "weight" && which != "bias" || CheckHeadName(head) != nil {
		return "", "", false
	}
	return head, which, true
}

// CheckHeadName returns an error unless name is a valid head name: letters,
// digits, '-' and '_'.
func CheckHeadName(name string) error {
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

// Pass selects what Network.Backward computes besides the loss and the
// parameter gradients.
type Pass struct {
	// InputGrad also returns the gradient of the loss with respect to the
	// input.
	InputGrad bool
	// Dropout, when not nil, runs the pass in training mode: dropout layers
	// draw their masks from it. Nil is inference mode (dropout off).
	Dropout *rand.Rand
}

// LinearInput is what one backbone layer that multiplies flat inputs by a
// weight matrix [out, in] (a Linear layer; heads excluded) saw in the last
// forward pass.
type LinearInput struct {
	// Weight is the tensor name of the layer's weight.
	Weight string
	// In is the number of input features.
	In int
	// X holds the layer's inputs of the last forward pass: rows × In
	// values, valid until the next call on the network; nil before the
	// first forward pass.
	X []float32
}

// Network is a classifier: a backbone shared by all tasks plus one head per
// task, with its parameters, activation and gradient buffers. Inputs are
// float32 batches of n examples of InputSize values each (NCHW for images).
//
// A Network is not safe for concurrent use (Clone gives one per worker).
// Slices it returns (logits, input gradients, LinearInputs) are views into
// its buffers, valid until the next call on it. After a warm-up call with
// the largest batch, Logits and Backward do not allocate.
type Network interface {
	// Config describes the network: its architecture, input, backbone and
	// the heads it has.
	Config() Config
	// InputSize is the number of float32 values per example.
	InputSize() int
	// Heads returns the head names in the order they were added.
	Heads() []string
	// Classes returns the number of classes of a head, 0 when there is no
	// such head.
	Classes(head string) int
	// Params returns the parameters in canonical order
	// (checkpoint.SortNames). The slice is the network's own: do not
	// modify it (the tensors it points to may be modified).
	Params() []*Param
	// Param returns the parameter with the given name, or nil.
	Param(name string) *Param
	// Logits runs inference on n examples x (n × InputSize values) and
	// returns the n × Classes(head) logits of head.
	Logits(x []float32, n int, head string) ([]float32, error)
	// Backward computes the mean loss of head on n examples and stores its
	// gradient with respect to every parameter in Param.Grad (overwriting
	// it; parameters of other heads get zero). y holds the labels for
	// CrossEntropy and is ignored for Entropy. With pass.InputGrad it also
	// returns the gradient with respect to x (n × InputSize values), else
	// nil.
	Backward(x []float32, n int, head string, y []int32, kind LossKind, pass Pass) (float64, []float32, error)
	// LinearInputs returns, in backbone order, every backbone layer that
	// multiplies flat inputs by a weight matrix, with its inputs of the last
	// forward pass (Logits or Backward). The slice is valid until the next
	// call on the network.
	LinearInputs() []LinearInput
	// Clone returns an independent copy: parameters copied, fresh buffers.
	Clone() Network
}

// Config describes one network of an architecture: what a checkpoint's
// metadata records (input, backbone, heads). Configs are immutable values;
// they build networks.
type Config interface {
	// Architecture is the name of the config's Architecture.
	Architecture() string
	// InputShape is the shape of one example: channels, height, width.
	InputShape() [3]int
	// WithHeads returns the config with its heads replaced (the heads of a
	// network are Network.Heads and Network.Classes).
	WithHeads(heads []Head) Config
	// Backbone describes the architecture and backbone (not the heads) in
	// words; two configs share a backbone exactly when their Backbone
	// strings are equal.
	Backbone() string
	// Groups lists the layer groups of the backbone, in backbone order: the
	// name prefix of each layer with parameters ("layers.1"), as
	// checkpoint.LayerGroup names its tensors. Heads are not included.
	Groups() []string
	// Metadata returns the checkpoint metadata entries that record the
	// config, which the architecture's Detect reads back.
	Metadata() map[string]string
	// New returns a network with freshly initialised parameters: every
	// parameter has its own random stream derived from seed and the
	// parameter's name. It needs at least one head.
	New(seed uint64) (Network, error)
	// FromTensors returns a network whose parameters are copies of tensors.
	// Every backbone parameter and every head of the config must be
	// present with the shape the config implies; heads present as tensors
	// but not listed are added (in name order, their class count taken
	// from the tensors). Any other tensor is an error.
	FromTensors(tensors []checkpoint.Tensor) (Network, error)
}

// Architecture is one kind of network evomerge runs natively.
type Architecture interface {
	// Name identifies the architecture in configs and messages.
	Name() string
	// Detect recognises a checkpoint of this architecture from its metadata
	// (the safetensors __metadata__ map) and config, the bytes of the
	// checkpoint's config.json (nil when it has none), and returns its
	// config. A checkpoint of another architecture gives an *Unrecognized
	// error saying why; any other error means the checkpoint claims this
	// architecture but its description is invalid.
	Detect(meta map[string]string, config []byte) (Config, error)
}

// Unrecognized is the error Architecture.Detect returns for a checkpoint of
// another architecture.
type Unrecognized struct {
	// Reason says why, e.g. "it has no evomerge.spec metadata".
	Reason string
}

func (u *Unrecognized) Error() string { return "not recognised: " + u.Reason }

// ErrUnknownArchitecture is wrapped by the error of Detect when no
// architecture recognises a checkpoint.
var ErrUnknownArchitecture = errors.New("not of a known architecture")

// Detect returns the config of a checkpoint from the first of archs whose
// Detect recognises it. path names the checkpoint in messages. When none
// does, the error (wrapping ErrUnknownArchitecture) names the checkpoint,
// lists the known architectures and says why each declined.
func Detect(archs []Architecture, path string, meta map[string]string, config []byte) (Config, error) {
	var names, reasons []string
	byReason := map[string][]string{}
	for _, a := range archs {
		names = append(names, a.Name())
		cfg, err := a.Detect(meta, config)
		if err == nil {
			return cfg, nil
		}
		var u *Unrecognized
		if !errors.As(err, &u) {
			return nil, fmt.Errorf("model: checkpoint %s (%s): %w", path, a.Name(), err)
		}
		if _, seen := byReason[u.Reason]; !seen {
			reasons = append(reasons, u.Reason)
		}
		byReason[u.Reason] = append(byReason[u.Reason], a.Name())
	}
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s (%s)", r, strings.Join(byReason[r], ", "))
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	why := strings.Join(parts, "; ")
	if why == "" {
		why = "no architecture is known"
	}
	return nil, fmt.Errorf("model: checkpoint %s is %w (known: %s): %s; its metadata keys are [%s]",
		path, ErrUnknownArchitecture, strings.Join(names, ", "), why, strings.Join(keys, ", "))
}
