package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/rng"
)

// Model is a backbone of layers shared by all tasks plus one Linear classification head
// per task. It owns its parameters and its activation and gradient buffers, which are
// reused across calls: a Model is not safe for concurrent use (use Clone for one model
// per worker). Slices returned by Logits and LossAndInputGrad stay valid until the next
// call on the same model.
type Model struct {
	spec      Spec
	inShape   [3]int
	layers    []layer
	sizes     []int // sizes[i] is the per-example input size of layer i; sizes[len] the feature size
	heads     map[string]*linear
	headOrder []string
	params    []*Param
	byName    map[string]*Param

	capN      int
	acts      [][]float32
	logits    []float32
	dlogits   []float32
	gradA     []float32
	gradB     []float32
	inputGrad []float32
}

// New builds a model for spec with freshly initialised parameters. Linear and Conv2D
// weights and biases are drawn uniformly from ±1/sqrt(fan_in) (PyTorch's default
// initialisation), LayerNorm starts at weight 1, bias 0. Every parameter has its own
// random stream derived from seed and the parameter name, so adding a head does not
// change the initial backbone.
func New(spec Spec, seed uint64) (*Model, error) {
	m, err := build(spec)
	if err != nil {
		return nil, err
	}
	for _, l := range m.layers {
		initLayer(l, seed)
	}
	for _, name := range m.headOrder {
		initLayer(m.heads[name], seed)
	}
	return m, nil
}

// initUniform fills p from ±1/sqrt(fanIn) with the stream named by seed and p.Name.
func initUniform(p *Param, fanIn int, seed uint64) {
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
func build(spec Spec) (*Model, error) {
	shapes, err := spec.shapes()
	if err != nil {
		return nil, err
	}
	m := &Model{spec: cloneSpec(spec), inShape: spec.Input, heads: map[string]*linear{}, byName: map[string]*Param{}}
	in := spec.Input
	for i, ls := range spec.Layers {
		size := in[0] * in[1] * in[2]
		prefix := "layers." + strconv.Itoa(i)
		var l layer
		switch ls.Kind {
		case KindLinear:
			l = newLinear(prefix, size, ls.Out)
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
		m.layers = append(m.layers, l)
		m.sizes = append(m.sizes, size)
		in = shapes[i]
	}
	m.sizes = append(m.sizes, in[0]*in[1]*in[2])
	m.spec.Heads = nil
	for _, h := range spec.Heads {
		m.addHead(h)
	}
	m.collectParams()
	return m, nil
}

func (m *Model) addHead(h HeadSpec) *linear {
	l := newLinear("heads."+h.Name, m.features(), h.Classes)
	m.heads[h.Name] = l
	m.headOrder = append(m.headOrder, h.Name)
	m.spec.Heads = append(m.spec.Heads, h)
	return l
}

func (m *Model) features() int { return m.sizes[len(m.sizes)-1] }

func (m *Model) collectParams() {
	m.params = m.params[:0]
	for _, l := range m.layers {
		m.params = append(m.params, l.params()...)
	}
	for _, name := range m.headOrder {
		m.params = append(m.params, m.heads[name].params()...)
	}
	names := make([]string, len(m.params))
	for i, p := range m.params {
		names[i] = p.Name
		m.byName[p.Name] = p
	}
	checkpoint.SortNames(names)
	for i, name := range names {
		m.params[i] = m.byName[name]
	}
}

func cloneSpec(s Spec) Spec {
	s.Layers = slices.Clone(s.Layers)
	s.Heads = slices.Clone(s.Heads)
	return s
}

// AddHead adds a new task head with classes outputs, initialised like New does from
// seed. It returns an error if the name is invalid or already used.
func (m *Model) AddHead(name string, classes int, seed uint64) error {
	if err := checkHeadName(name); err != nil {
		return fmt.Errorf("nn: AddHead: %w", err)
	}
	if _, ok := m.heads[name]; ok {
		return fmt.Errorf("nn: AddHead: head %q already exists", name)
	}
	if _, ok := boundedProduct(maxTensorValues, classes, m.features()); classes < 1 || classes > maxDim || !ok {
		return fmt.Errorf("nn: AddHead %q: classes = %d, want between 1 and %d (and at most %d weights)", name, classes, maxDim, maxTensorValues)
	}
	l := m.addHead(HeadSpec{Name: name, Classes: classes})
	initLayer(l, seed)
	m.collectParams()
	m.capN = 0 // logits buffers may need more classes
	return nil
}

// Clone returns an independent copy of the model (parameters copied, fresh buffers).
func (m *Model) Clone() *Model {
	c, err := build(m.spec)
	if err != nil {
		panic("nn: Clone of a model whose spec no longer validates: " + err.Error())
	}
	for _, p := range m.params {
		copy(c.byName[p.Name].Data, p.Data)
	}
	return c
}

// Params returns the parameters in canonical order (checkpoint.SortNames). The slice
// is the model's own; do not modify it (the tensors it points to may be modified).
func (m *Model) Params() []*Param { return m.params }

// Param returns the parameter with the given name, or nil.
func (m *Model) Param(name string) *Param { return m.byName[name] }

// Spec returns the model's architecture, with Heads listing every head of the model.
func (m *Model) Spec() Spec { return cloneSpec(m.spec) }

// Heads returns the head names in the order they were added.
func (m *Model) Heads() []string { return slices.Clone(m.headOrder) }

// InputSize is the number of float32 values per example (C·H·W of Spec.Input).
func (m *Model) InputSize() int { return m.sizes[0] }

// Classes returns the number of classes of a head, or 0 if there is no such head.
func (m *Model) Classes(head string) int {
	if h, ok := m.heads[head]; ok {
		return h.out
	}
	return 0
}

// ensureCapacity grows every buffer to hold n examples.
func (m *Model) ensureCapacity(n int) {
	if n <= m.capN {
		return
	}
	maxSize := m.sizes[0]
	for _, s := range m.sizes {
		maxSize = max(maxSize, s)
	}
	maxClasses := 0
	for _, h := range m.heads {
		maxClasses = max(maxClasses, h.out)
	}
	m.acts = make([][]float32, len(m.layers))
	for i := range m.layers {
		m.acts[i] = make([]float32, n*m.sizes[i+1])
	}
	m.logits = make([]float32, n*maxClasses)
	m.dlogits = make([]float32, n*maxClasses)
	m.gradA = make([]float32, n*maxSize)
	m.gradB = make([]float32, n*maxSize)
	m.inputGrad = nil
	m.capN = n
}

func (m *Model) checkBatch(x []float32, n int, head string) (*linear, error) {
	h, ok := m.heads[head]
	if !ok {
		return nil, fmt.Errorf("nn: model has no head %q (heads: %s)", head, strings.Join(m.headOrder, ", "))
	}
	if n < 1 {
		return nil, fmt.Errorf("nn: batch of %d examples: pass at least one", n)
	}
	if len(x) != n*m.sizes[0] {
		return nil, fmt.Errorf("nn: input has %d values, want %d examples × %d values (C,H,W = %v) = %d", len(x), n, m.sizes[0], m.inShape, n*m.sizes[0])
	}
	return h, nil
}

// forward runs the backbone and head on n examples and returns the logits.
func (m *Model) forward(x []float32, n int, h *linear, train bool, r *rand.Rand) []float32 {
	m.ensureCapacity(n)
	cur := x
	for i, l := range m.layers {
		out := m.acts[i][:n*m.sizes[i+1]]
		l.forward(out, cur, n, train, r)
		cur = out
	}
	logits := m.logits[:n*h.out]
	h.forward(logits, cur, n, train, r)
	return logits
}

// Logits runs inference (dropout off) on n examples x (n × InputSize values, NCHW) and
// returns the n×classes logits of head, in a buffer reused by the next call.
func (m *Model) Logits(x []float32, n int, head string) ([]float32, error) {
	h, err := m.checkBatch(x, n, head)
	if err != nil {
		return nil, err
	}
	return m.forward(x, n, h, false, nil), nil
}

// LossAndGrad computes the mean loss of head on n examples (dropout off) and stores its
// gradient with respect to every parameter in Param.Grad (overwriting it; parameters
// of other heads get zero). y holds the labels for CrossEntropy and is ignored for
// Entropy.
func (m *Model) LossAndGrad(x []float32, n int, head string, y []int32, kind LossKind) (float64, error) {
	loss, _, err := m.lossAndGrad(x, n, head, y, kind, false, false, nil)
	return loss, err
}

// LossAndInputGrad is LossAndGrad that also returns the gradient of the loss with
// respect to the input x (n × InputSize values, valid until the next call).
func (m *Model) LossAndInputGrad(x []float32, n int, head string, y []int32, kind LossKind) (float64, []float32, error) {
	return m.lossAndGrad(x, n, head, y, kind, true, false, nil)
}

func (m *Model) lossAndGrad(x []float32, n int, head string, y []int32, kind LossKind, wantInput, train bool, r *rand.Rand) (float64, []float32, error) {
	h, err := m.checkBatch(x, n, head)
	if err != nil {
		return 0, nil, err
	}
	switch kind {
	case CrossEntropy:
		if err := checkLabels(y, n, h.out, head); err != nil {
			return 0, nil, err
		}
	case Entropy:
	default:
		return 0, nil, fmt.Errorf("nn: unknown loss kind %d: use CrossEntropy or Entropy", int(kind))
	}
	logits := m.forward(x, n, h, train, r)
	dlogits := m.dlogits[:n*h.out]
	loss := lossAndGrad(kind, dlogits, logits, n, h.out, y)
	for _, p := range m.params {
		clear(p.Grad)
	}
	var dx []float32
	if wantInput {
		if len(m.inputGrad) < n*m.sizes[0] {
			m.inputGrad = make([]float32, m.capN*m.sizes[0])
		}
		dx = m.inputGrad[:n*m.sizes[0]]
	}
	// Backward through the head, then the backbone from the last layer to the first.
	L := len(m.layers)
	features := x
	if L > 0 {
		features = m.acts[L-1][:n*m.sizes[L]]
	}
	dcur, dnext := m.gradA, m.gradB
	var dfeat []float32
	switch {
	case L > 0:
		dfeat = dcur[:n*m.sizes[L]]
	case wantInput:
		dfeat = dx
	}
	h.backward(dfeat, dlogits, features, logits, n)
	for i := L - 1; i >= 0; i-- {
		in := x
		if i > 0 {
			in = m.acts[i-1][:n*m.sizes[i]]
		}
		var dIn []float32
		switch {
		case i > 0:
			dIn = dnext[:n*m.sizes[i]]
		case wantInput:
			dIn = dx
		}
		m.layers[i].backward(dIn, dcur[:n*m.sizes[i+1]], in, m.acts[i][:n*m.sizes[i+1]], n)
		dcur, dnext = dnext, dcur
	}
	return loss, dx, nil
}

// Metrics summarises a head's predictions on labelled data.
type Metrics struct {
	Accuracy float64 // fraction of examples whose arg-max logit equals the label
	Loss     float64 // mean softmax cross-entropy
	Correct  []bool  // per example, in input order
}

// Evaluate runs inference on n labelled examples in batches of at most batch examples
// and returns accuracy, mean cross-entropy and per-example correctness. Ties in the
// arg-max go to the lowest class index. Results do not depend on batch.
func (m *Model) Evaluate(x []float32, y []int32, n int, head string, batch int) (Metrics, error) {
	h, err := m.checkBatch(x, n, head)
	if err != nil {
		return Metrics{}, err
	}
	if batch < 1 {
		return Metrics{}, fmt.Errorf("nn: evaluation batch size %d: use at least 1", batch)
	}
	if len(y) != n {
		return Metrics{}, fmt.Errorf("nn: %d labels for %d examples: pass one label per example", len(y), n)
	}
	if err := checkLabels(y, n, h.out, head); err != nil {
		return Metrics{}, err
	}
	res := Metrics{Correct: make([]bool, n)}
	var lossSum float64
	correct := 0
	size := m.sizes[0]
	for i0 := 0; i0 < n; i0 += batch {
		i1 := min(n, i0+batch)
		logits := m.forward(x[i0*size:i1*size], i1-i0, h, false, nil)
		for i := i0; i < i1; i++ {
			row := logits[(i-i0)*h.out : (i-i0+1)*h.out]
			lossSum += exampleLoss(CrossEntropy, row, y[i])
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if int32(best) == y[i] {
				res.Correct[i] = true
				correct++
			}
		}
	}
	res.Accuracy = float64(correct) / float64(n)
	res.Loss = lossSum / float64(n)
	return res, nil
}
