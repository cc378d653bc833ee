package testkit

import (
	"path/filepath"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/cnn"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
)

// TinyHeads are the two tasks of a tiny pool: "alpha" (3 classes) and
// "beta" (4 classes).
var TinyHeads = []model.Head{{Name: "alpha", Classes: 3}, {Name: "beta", Classes: 4}}

// TinyMLP is a tiny MLP on 1×3×3 inputs (hidden 6 and 5) with the given
// heads.
func TinyMLP(heads ...model.Head) model.Config {
	return mlp.Config{Input: [3]int{1, 3, 3}, Hidden: []int{6, 5}, Heads: heads}
}

// TinyCNN is a tiny CNN on 1×6×6 inputs (2 channels, hidden 5) with the
// given heads.
func TinyCNN(heads ...model.Head) model.Config {
	return cnn.Config{Input: [3]int{1, 6, 6}, Channels: []int{2}, Hidden: []int{5}, Heads: heads}
}

// TinyArchitectures are a tiny configuration of each architecture, by name.
func TinyArchitectures() map[string]func(heads ...model.Head) model.Config {
	return map[string]func(heads ...model.Head) model.Config{"mlp": TinyMLP, "cnn": TinyCNN}
}

// Pool is a tiny pool written to disk: a base with a "pretrain" head and
// one expert per head of TinyHeads whose backbone is the base plus a
// perturbation of σ = 0.3 and whose head is fresh.
type Pool struct {
	Base    string
	Experts []string
	Models  []model.Network // the experts as written
	Names   []string        // the experts' task names
}

// WritePool writes a tiny pool of arch (e.g. TinyMLP) into dir; meta is
// the experts' extra metadata (nil for none). The same arguments give the
// same files.
func WritePool(t testing.TB, dir string, arch func(heads ...model.Head) model.Config, meta map[string]string) *Pool {
	t.Helper()
	base, err := arch(model.Head{Name: "pretrain", Classes: 3}).New(1)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pool{Base: filepath.Join(dir, "base.safetensors")}
	if err := model.Save(p.Base, base, nil); err != nil {
		t.Fatal(err)
	}
	for i, h := range TinyHeads {
		m, err := arch(h).New(uint64(10 + i))
		if err != nil {
			t.Fatal(err)
		}
		r := rng.New(uint64(20+i), "test", "perturb")
		for _, q := range m.Params() {
			if bp := base.Param(q.Name); bp != nil {
				for j := range q.Data {
					q.Data[j] = bp.Data[j] + float32(r.NormFloat64()*0.3)
				}
			}
		}
		path := filepath.Join(dir, "expert-"+h.Name+".safetensors")
		if err := model.Save(path, m, meta); err != nil {
			t.Fatal(err)
		}
		p.Experts = append(p.Experts, path)
		p.Models = append(p.Models, m)
		p.Names = append(p.Names, h.Name)
	}
	return p
}

// RandomImages is a dataset of n random C×H×W images in [0, 1) with
// uniformly random labels of classes classes, from seed.
func RandomImages(name string, n, classes int, shape [3]int, seed uint64) *data.Dataset {
	r := rng.New(seed, "test", "data")
	size := shape[0] * shape[1] * shape[2]
	d := &data.Dataset{Name: name, C: shape[0], H: shape[1], W: shape[2], Classes: classes, X: make([]float32, n*size), Y: make([]int32, n)}
	for i := range d.X {
		d.X[i] = float32(r.Float64())
	}
	for i := range d.Y {
		d.Y[i] = int32(r.IntN(classes))
	}
	return d
}
