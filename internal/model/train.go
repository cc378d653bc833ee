package model

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/evomerge/evomerge/internal/rng"
)

// TrainConfig configures Train.
//
// Optimizer "adam" (the default when empty) is Adam with bias correction (β1 0.9,
// β2 0.999, ε 1e-8); WeightDecay is then decoupled (AdamW: w -= LR·WeightDecay·w each
// step). Optimizer "sgd" is SGD with optional momentum in PyTorch's form (v = μv + g,
// w -= LR·v) and WeightDecay as an L2 term added to the gradient.
//
// Trainable, when set, selects the parameters to update by name (for example only the
// backbone, or only "heads.<task>."); parameters of heads other than Head are never
// updated.
type TrainConfig struct {
	Head        string
	Epochs      int
	BatchSize   int
	Optimizer   string
	LR          float64
	Momentum    float64
	WeightDecay float64
	Seed        uint64
	Trainable   func(name string) bool
}

func (c TrainConfig) validate(net Network) error {
	if net.Classes(c.Head) == 0 {
		return fmt.Errorf("model: train: network has no head %q (heads: %s)", c.Head, strings.Join(net.Heads(), ", "))
	}
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("model: train: epochs = %d, want ≥ 1", c.Epochs)
	case c.BatchSize < 1:
		return fmt.Errorf("model: train: batch size = %d, want ≥ 1", c.BatchSize)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("model: train: learning rate = %v, want a positive number", c.LR)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return fmt.Errorf("model: train: momentum = %v, want 0 ≤ momentum < 1", c.Momentum)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("model: train: weight decay = %v, want ≥ 0", c.WeightDecay)
	}
	switch c.Optimizer {
	case "", "adam":
	case "sgd":
	default:
		return fmt.Errorf("model: train: unknown optimizer %q: use \"adam\" or \"sgd\"", c.Optimizer)
	}
	if c.Optimizer != "sgd" && c.Momentum != 0 {
		return fmt.Errorf("model: train: momentum is an SGD setting: set optimizer = \"sgd\" or remove momentum")
	}
	return nil
}

// optimizer updates parameters from their gradients.
type optimizer interface {
	step(params []*Param)
}

// adam is Adam with bias correction and decoupled weight decay.
type adam struct {
	lr, wd, beta1, beta2, eps float64
	t                         int
	m, v                      map[*Param][]float32
}

func newAdam(lr, wd float64) *adam {
	return &adam{lr: lr, wd: wd, beta1: 0.9, beta2: 0.999, eps: 1e-8, m: map[*Param][]float32{}, v: map[*Param][]float32{}}
}

func (o *adam) step(params []*Param) {
	o.t++
	c1 := 1 - math.Pow(o.beta1, float64(o.t))
	c2 := 1 - math.Pow(o.beta2, float64(o.t))
	for _, p := range params {
		m, ok := o.m[p]
		if !ok {
			m = make([]float32, len(p.Data))
			o.m[p] = m
			o.v[p] = make([]float32, len(p.Data))
		}
		v := o.v[p]
		for i, g32 := range p.Grad {
			g := float64(g32)
			mi := o.beta1*float64(m[i]) + (1-o.beta1)*g
			vi := o.beta2*float64(v[i]) + (1-o.beta2)*g*g
			m[i], v[i] = float32(mi), float32(vi)
			w := float64(p.Data[i])
			w -= o.lr * o.wd * w
			w -= o.lr * (mi / c1) / (math.Sqrt(vi/c2) + o.eps)
			p.Data[i] = float32(w)
		}
	}
}

// sgd is SGD with momentum and L2 weight decay.
type sgd struct {
	lr, momentum, wd float64
	vel              map[*Param][]float32
}

func (o *sgd) step(params []*Param) {
	for _, p := range params {
		v, ok := o.vel[p]
		if !ok && o.momentum > 0 {
			v = make([]float32, len(p.Data))
			o.vel[p] = v
		}
		for i, g32 := range p.Grad {
			g := float64(g32) + o.wd*float64(p.Data[i])
			if o.momentum > 0 {
				g = o.momentum*float64(v[i]) + g
				v[i] = float32(g)
			}
			p.Data[i] = float32(float64(p.Data[i]) - o.lr*g)
		}
	}
}

// Train fits net to n labelled examples (x: n × InputSize values, y: labels of
// head cfg.Head) with mini-batch gradient descent on the cross-entropy, in
// training mode (dropout on). Every epoch visits the examples in a fresh order
// drawn from cfg.Seed; dropout masks come from a stream of the same seed. With
// the same network, data and config two runs give bit-identical weights. Train
// checks ctx between mini-batches and returns ctx.Err() when cancelled (the
// weights then hold the updates made so far). It returns an error if the loss
// becomes NaN or infinite.
func Train(ctx context.Context, net Network, x []float32, y []int32, n int, cfg TrainConfig) error {
	if err := cfg.validate(net); err != nil {
		return err
	}
	if err := CheckBatch(net, x, n, cfg.Head); err != nil {
		return fmt.Errorf("model: train: %w", err)
	}
	if len(y) != n {
		return fmt.Errorf("model: train: %d labels for %d examples: pass one label per example", len(y), n)
	}
	if err := CheckLabels(y, n, net.Classes(cfg.Head), cfg.Head); err != nil {
		return fmt.Errorf("model: train: %w", err)
	}
	var trainable []*Param
	for _, p := range net.Params() {
		if head, _, ok := ParseHeadTensor(p.Name); ok && head != cfg.Head {
			continue
		}
		if cfg.Trainable == nil || cfg.Trainable(p.Name) {
			trainable = append(trainable, p)
		}
	}
	if len(trainable) == 0 {
		return fmt.Errorf("model: train: the Trainable filter selects no parameter of head %q or the backbone", cfg.Head)
	}
	var opt optimizer
	if cfg.Optimizer == "sgd" {
		opt = &sgd{lr: cfg.LR, momentum: cfg.Momentum, wd: cfg.WeightDecay, vel: map[*Param][]float32{}}
	} else {
		opt = newAdam(cfg.LR, cfg.WeightDecay)
	}
	// The stream names predate the package's name and fix the trained
	// weights of every benchmark: keep them.
	shuffle := rng.New(cfg.Seed, "nn/train/shuffle")
	dropRNG := rng.New(cfg.Seed, "nn/train/dropout")
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	size := net.InputSize()
	bs := min(cfg.BatchSize, n)
	xb := make([]float32, bs*size)
	yb := make([]int32, bs)
	pass := Pass{Dropout: dropRNG}
	for epoch := range cfg.Epochs {
		shuffle.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for b0 := 0; b0 < n; b0 += bs {
			if err := ctx.Err(); err != nil {
				return err
			}
			b1 := min(n, b0+bs)
			k := b1 - b0
			for i, idx := range order[b0:b1] {
				copy(xb[i*size:(i+1)*size], x[idx*size:(idx+1)*size])
				yb[i] = y[idx]
			}
			loss, _, err := net.Backward(xb[:k*size], k, cfg.Head, yb[:k], CrossEntropy, pass)
			if err != nil {
				return fmt.Errorf("model: train: %w", err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("model: train: loss became %v at epoch %d, batch starting at %d: lower the learning rate", loss, epoch+1, b0)
			}
			opt.step(trainable)
		}
	}
	return nil
}
