package operators

import (
	"context"
	"math"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/rng"
)

// model builds a checkpoint tensor list from name -> (shape, data).
type tspec struct {
	name  string
	shape []int
	data  []float32
}

func tensors(ts ...tspec) []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(ts))
	for i, t := range ts {
		out[i] = checkpoint.Tensor{Name: t.name, Shape: t.shape, Data: t.data}
	}
	return out
}

func vec(name string, data ...float32) tspec {
	return tspec{name: name, shape: []int{len(data)}, data: data}
}

// randomModel gives a small model with blocks, a non-block tensor and a head.
func randomModel(seed uint64, who string, scale float32) []checkpoint.Tensor {
	r := rng.New(seed, "test", who)
	mk := func(name string, shape ...int) checkpoint.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = scale * float32(r.NormFloat64())
		}
		return checkpoint.Tensor{Name: name, Shape: shape, Data: d}
	}
	return []checkpoint.Tensor{
		mk("layers.0.weight", 6, 5), mk("layers.0.bias", 6),
		mk("layers.1.weight", 4, 6), mk("layers.1.bias", 4),
		mk("layers.2.weight", 3, 4), mk("norm.weight", 3),
	}
}

// perturb returns base + scale·noise.
func perturb(base []checkpoint.Tensor, seed uint64, who string, scale float32) []checkpoint.Tensor {
	noise := randomModel(seed, who, scale)
	out := make([]checkpoint.Tensor, len(base))
	for i, t := range base {
		d := make([]float32, len(t.Data))
		for e := range d {
			d[e] = t.Data[e] + noise[i].Data[e]
		}
		out[i] = checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: d}
	}
	return out
}

func mustSource(t testing.TB, base []checkpoint.Tensor, models ...[]checkpoint.Tensor) *MemSource {
	t.Helper()
	src, err := NewMemSource(base, models...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// mergeAll merges every tensor and returns name -> data.
func mergeAll(t testing.TB, op Operator, src Source, s Settings, opt PlanOptions) map[string][]float32 {
	t.Helper()
	out, err := tryMerge(op, src, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryMerge(op Operator, src Source, s Settings, opt PlanOptions) (map[string][]float32, error) {
	plan, err := NewPlan(op, src, s, opt)
	if err != nil {
		return nil, err
	}
	out := map[string][]float32{}
	err = MergeAll(context.Background(), plan, src, func(m TensorMeta) []float32 {
		d := make([]float32, m.NumElements())
		out[m.Name] = d
		return d
	}, nil)
	return out, err
}

func globals(kv ...any) Settings {
	v := Values{Global: map[string]Value{}}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		switch x := kv[i+1].(type) {
		case float64:
			v.Global[name] = F(x)
		case int:
			v.Global[name] = I(x)
		case bool:
			v.Global[name] = B(x)
		case string:
			v.Global[name] = C(x)
		}
	}
	return Settings{Default: v}
}

func assertClose(t testing.TB, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func byName(ts []checkpoint.Tensor) map[string][]float32 {
	m := map[string][]float32{}
	for _, t := range ts {
		m[t.Name] = t.Data
	}
	return m
}

// fakeStats is a StatsSource over fixed tables.
type fakeStats struct {
	fisher map[int]map[string][]float32
	gram   map[int]map[string][]float64
	count  map[int]int
}

func (f fakeStats) Fisher(model int, tensor string, dst []float32) (bool, error) {
	d, ok := f.fisher[model][tensor]
	if !ok {
		return false, nil
	}
	copy(dst, d)
	return true, nil
}

func (f fakeStats) Gram(model int, tensor string, dst []float64) (int, bool, error) {
	d, ok := f.gram[model][tensor]
	if !ok {
		return 0, false, nil
	}
	copy(dst, d)
	c := f.count[model]
	if c == 0 {
		c = 1
	}
	return c, true, nil
}
