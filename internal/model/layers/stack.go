package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
)

// Stack is the sequential network of a Spec: a backbone of layers shared by
// all tasks plus one Linear classification head per task. It implements
// model.Network. It owns its parameters and its activation and gradient
// buffers, which are reused across calls: a Stack is not safe for concurrent
// use (Clone gives one per worker), and slices it returns stay valid until
// the next call on it.
type Stack struct {
	spec      Spec
	cfg       model.Config // the architecture's config; Config() gives it the current heads
	inShape   [3]int
	layers    []layer
	sizes     []int // sizes[i] is the per-example input size of layer i; sizes[len] the feature size
	heads     map[string]*linear
	headOrder []string
	params    []*model.Param
	byName    map[string]*model.Param

	capN      int
	acts      [][]float32
	logits    []float32
	dlogits   []float32
	gradA     []float32
	gradB     []float32
	inputGrad []float32

	// The last forward pass, for LinearInputs.
	lastX   []float32
	lastN   int
	linears []model.LinearInput
	linearI []int // layer index of each entry of linears
}

var _ model.Network = (*Stack)(nil)

// New builds the stack of spec with freshly initialised parameters. Linear
// and Conv2D weights and biases are drawn uniformly from ±1/sqrt(fan_in)
// (PyTorch's default initialisation), LayerNorm starts at weight 1, bias 0.
// Every parameter has its own random stream derived from seed and the
// parameter name, so adding a head does not change the initial backbone.
// cfg is what Config reports (with the stack's heads); nil means spec
// itself.
func New(spec Spec, cfg model.Config, seed uint64) (*Stack, error) {
	s, err := build(spec, cfg)
	if err != nil {
		return nil, err
	}
	for _, l := range s.layers {
		initLayer(l, seed)
	}
	for _, name := range s.headOrder {
		initLayer(s.heads[name], seed)
	}
	return s, nil
}

// initUniform fills p from ±1/sqrt(fanIn) with the stream named by seed and
// p.Name. (The stream's name predates this package and fixes the initial
// weights of every benchmark: keep it.)
func initUniform(p *model.Param, fanIn int, seed uint64) {
	r := rng.New(seed, "nn/init", p.Name)
	bound := 1 / math.Sqrt(float64(fanIn))
	for i := range p.Data {
		p.Data[i] = float32((2*r.Float64() - 1) * bound)
	}
}

// initLayer initialises the parameters of layers that have random initial values.
func initLayer(l layer, seed uint64) {
	switch l := l.(type) {
	case *linear:
		initUniform(l.w, l.in, seed)
		initUniform(l.b, l.in, seed)
	case *conv2d:
		fanIn := l.inC * l.k * l.k
		initUniform(l.w, fanIn, seed)
		initUniform(l.b, fanIn, seed)
	}
}

// build creates the layers and buffers of spec with zero parameters.
func build(spec Spec, cfg model.Config) (*Stack, error) {
	shapes, err := spec.shapes(true)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = spec
	}
	s := &Stack{spec: cloneSpec(spec), cfg: cfg, inShape: spec.Input, heads: map[string]*linear{}, byName: map[string]*model.Param{}}
	in := spec.Input
	for i, ls := range spec.Layers {
		size := in[0] * in[1] * in[2]
		prefix := "layers." + strconv.Itoa(i)
		var l layer
		switch ls.Kind {
		case KindLinear:
			lin := newLinear(prefix, size, ls.Out)
			s.linears = append(s.linears, model.LinearInput{Weight: lin.w.Name, In: lin.in})
			s.linearI = append(s.linearI, i)
			l = lin
		case KindConv2D:
			l = newConv2D(prefix, in, ls)
		case KindReLU:
			l = relu{size: size}
		case KindGELU:
			l = &gelu{size: size}
		case KindMaxPool, KindAvgPool:
			l = newPool2D(in, ls)
		case KindFlatten:
			l = flatten{size: size}
		case KindLayerNorm:
			l = newLayerNorm(prefix, size)
		case KindDropout:
			l = &dropout{size: size, p: ls.P}
		}
		s.layers = append(s.layers, l)
		s.sizes = append(s.sizes, size)
		in = shapes[i]
	}
	s.sizes = append(s.sizes, in[0]*in[1]*in[2])
	s.spec.Heads = nil
	for _, h := range spec.Heads {
		s.addHead(h)
	}
	s.collectParams()
	return s, nil
}

func (s *Stack) addHead(h model.Head) *linear {
	l := newLinear(model.HeadPrefix+h.Name, s.features(), h.Classes)
	s.heads[h.Name] = l
	s.headOrder = append(s.headOrder, h.Name)
	s.spec.Heads = append(s.spec.Heads, h)
	return l
}

func (s *Stack) features() int { return s.sizes[len(s.sizes)-1] }

func (s *Stack) collectParams() {
	s.params = s.params[:0]
	for _, l := range s.layers {
		s.params = append(s.params, l.params()...)
	}
	for _, name := range s.headOrder {
		s.params = append(s.params, s.heads[name].params()...)
	}
	names := make([]string, len(s.params))
	for i, p := range s.params {
		names[i] = p.Name
		s.byName[p.Name] = p
	}
	checkpoint.SortNames(names)
	for i, name := range names {
		s.params[i] = s.byName[name]
	}
}

// AddHead adds a new task head with classes outputs, initialised like New
// does from seed. It returns an error if the name is invalid or already used.
func (s *Stack) AddHead(name string, classes int, seed uint64) error {
	if err := model.CheckHeadName(name); err != nil {
		return fmt.Errorf("layers: AddHead: %w", err)
	}
	if _, ok := s.heads[name]; ok {
		return fmt.Errorf("layers: AddHead: head %q already exists", name)
	}
	if _, ok := boundedProduct(maxTensorValues, classes, s.features()); classes < 1 || classes > maxDim || !ok {
		return fmt.Errorf("layers: AddHead %q: classes = %d, want between 1 and %d (and at most %d weights)", name, classes, maxDim, maxTensorValues)
	}
	l := s.addHead(model.Head{Name: name, Classes: classes})
	initLayer(l, seed)
	s.collectParams()
	s.capN = 0 // logits buffers may need more classes
	return nil
}

// Clone implements model.Network: an independent copy (parameters copied,
// fresh buffers).
func (s *Stack) Clone() model.Network {
	c, err := build(s.spec, s.cfg)
	if err != nil {
		panic("layers: Clone of a stack whose spec no longer validates: " + err.Error())
	}
	for _, p := range s.params {
		copy(c.byName[p.Name].Data, p.Data)
	}
	return c
}

// Params implements model.Network.
func (s *Stack) Params() []*model.Param { return s.params }

// Param implements model.Network.
func (s *Stack) Param(name string) *model.Param { return s.byName[name] }

// Spec returns the stack's spec, with Heads listing every head it has.
func (s *Stack) Spec() Spec { return cloneSpec(s.spec) }

// Config implements model.Network: the architecture's config with the
// stack's heads.
func (s *Stack) Config() model.Config { return s.cfg.WithHeads(s.spec.Heads) }

// Heads implements model.Network.
func (s *Stack) Heads() []string { return slices.Clone(s.headOrder) }

// InputSize implements model.Network: C·H·W of Spec.Input.
func (s *Stack) InputSize() int { return s.sizes[0] }

// Classes implements model.Network.
func (s *Stack) Classes(head string) int {
	if h, ok := s.heads[head]; ok {
		return h.out
	}
	return 0
}

// ensureCapacity grows every buffer to hold n examples.
func (s *Stack) ensureCapacity(n int) {
	if n <= s.capN {
		return
	}
	maxSize := s.sizes[0]
	for _, sz := range s.sizes {
		maxSize = max(maxSize, sz)
	}
	maxClasses := 0
	for _, h := range s.heads {
		maxClasses = max(maxClasses, h.out)
	}
	s.acts = make([][]float32, len(s.layers))
	for i := range s.layers {
		s.acts[i] = make([]float32, n*s.sizes[i+1])
	}
	s.logits = make([]float32, n*maxClasses)
	s.dlogits = make([]float32, n*maxClasses)
	s.gradA = make([]float32, n*maxSize)
	s.gradB = make([]float32, n*maxSize)
	s.inputGrad = nil
	s.capN = n
}

// forward runs the backbone and head on n examples and returns the logits.
func (s *Stack) forward(x []float32, n int, h *linear, train bool, r *rand.Rand) []float32 {
	s.ensureCapacity(n)
	s.lastX, s.lastN = x, n
	cur := x
	for i, l := range s.layers {
		out := s.acts[i][:n*s.sizes[i+1]]
		l.forward(out, cur, n, train, r)
		cur = out
	}
	logits := s.logits[:n*h.out]
	h.forward(logits, cur, n, train, r)
	return logits
}

// Logits implements model.Network: inference (dropout off) on n examples x
// (n × InputSize values, NCHW).
func (s *Stack) Logits(x []float32, n int, head string) ([]float32, error) {
	if err := model.CheckBatch(s, x, n, head); err != nil {
		return nil, err
	}
	return s.forward(x, n, s.heads[head], false, nil), nil
}

// Backward implements model.Network.
func (s *Stack) Backward(x []float32, n int, head string, y []int32, kind model.LossKind, pass model.Pass) (float64, []float32, error) {
	if err := model.CheckBatch(s, x, n, head); err != nil {
		return 0, nil, err
	}
	h := s.heads[head]
	switch kind {
	case model.CrossEntropy:
		if err := model.CheckLabels(y, n, h.out, head); err != nil {
			return 0, nil, err
		}
	case model.Entropy:
	default:
		return 0, nil, fmt.Errorf("model: unknown loss kind %d: use CrossEntropy or Entropy", int(kind))
	}
	logits := s.forward(x, n, h, pass.Dropout != nil, pass.Dropout)
	dlogits := s.dlogits[:n*h.out]
	loss := model.LossGrad(kind, dlogits, logits, n, h.out, y)
	for _, p := range s.params {
		clear(p.Grad)
	}
	var dx []float32
	wantInput := pass.InputGrad
	if wantInput {
		if len(s.inputGrad) < n*s.sizes[0] {
			s.inputGrad = make([]float32, s.capN*s.sizes[0])
		}
		dx = s.inputGrad[:n*s.sizes[0]]
	}
	// Backward through the head, then the backbone from the last layer to the first.
	L := len(s.layers)
	features := x
	if L > 0 {
		features = s.acts[L-1][:n*s.sizes[L]]
	}
	dcur, dnext := s.gradA, s.gradB
	var dfeat []float32
	switch {
	case L > 0:
		dfeat = dcur[:n*s.sizes[L]]
	case wantInput:
		dfeat = dx
	}
	h.backward(dfeat, dlogits, features, logits, n)
	for i := L - 1; i >= 0; i-- {
		in := x
		if i > 0 {
			in = s.acts[i-1][:n*s.sizes[i]]
		}
		var dIn []float32
		switch {
		case i > 0:
			dIn = dnext[:n*s.sizes[i]]
		case wantInput:
			dIn = dx
		}
		s.layers[i].backward(dIn, dcur[:n*s.sizes[i+1]], in, s.acts[i][:n*s.sizes[i+1]], n)
		dcur, dnext = dnext, dcur
	}
	return loss, dx, nil
}

// LinearInputs implements model.Network: the Linear layers of the backbone
// with their inputs of the last forward pass.
func (s *Stack) LinearInputs() []model.LinearInput {
	for k, i := range s.linearI {
		s.linears[k].X = nil
		if s.lastN == 0 {
			continue
		}
		if i == 0 {
			s.linears[k].X = s.lastX
		} else {
			s.linears[k].X = s.acts[i-1][:s.lastN*s.sizes[i]]
		}
	}
	return s.linears
}

// FromTensors builds the stack of spec with parameters copied from tensors.
// Every backbone parameter and every head listed in spec must be present
// with the shape the spec implies. Heads present as heads.{name}.weight/bias
// but not listed in spec are added (in name order), with their class count
// taken from the tensors. Any other tensor is an error. cfg is as for New.
func FromTensors(spec Spec, cfg model.Config, tensors []checkpoint.Tensor) (*Stack, error) {
	// Discover heads that the tensors hold but the spec does not list.
	spec = cloneSpec(spec)
	listed := map[string]bool{}
	for _, h := range spec.Heads {
		listed[h.Name] = true
	}
	var extra []string
	extraClasses := map[string]int{}
	for _, t := range tensors {
		head, which, ok := model.ParseHeadTensor(t.Name)
		if !ok || listed[head] {
			continue
		}
		if _, seen := extraClasses[head]; !seen {
			extra = append(extra, head)
			extraClasses[head] = -1
		}
		if which == "bias" {
			if len(t.Shape) != 1 {
				return nil, fmt.Errorf("model: tensor %s has shape %v, want [classes]", t.Name, t.Shape)
			}
			extraClasses[head] = t.Shape[0]
		}
	}
	slices.Sort(extra)
	for _, head := range extra {
		if extraClasses[head] < 0 {
			return nil, fmt.Errorf("model: tensor %s is missing (found %s only): a head needs both weight and bias", model.HeadTensor(head, "bias"), model.HeadTensor(head, "weight"))
		}
		spec.Heads = append(spec.Heads, model.Head{Name: head, Classes: extraClasses[head]})
	}
	s, err := build(spec, cfg)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range tensors {
		p := s.byName[t.Name]
		if p == nil {
			return nil, fmt.Errorf("model: unexpected tensor %s: it is not a parameter of this %q architecture (parameters are layers.N.weight/bias and heads.<task>.weight/bias)", t.Name, spec.Arch)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("model: tensor %s appears twice", t.Name)
		}
		seen[t.Name] = true
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("model: tensor %s has shape %v but the spec implies %v", t.Name, t.Shape, p.Shape)
		}
		if len(t.Data) != len(p.Data) {
			return nil, fmt.Errorf("model: tensor %s has %d values, want %d for shape %v", t.Name, len(t.Data), len(p.Data), p.Shape)
		}
		copy(p.Data, t.Data)
	}
	for _, p := range s.params {
		if !seen[p.Name] {
			return nil, fmt.Errorf("model: tensor %s (shape %v) is missing", p.Name, p.Shape)
		}
	}
	return s, nil
}
