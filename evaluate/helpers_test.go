package evaluate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

// synthetic is a tiny pool on disk: a base with head "pretrain" and two
// experts fine-tuned from it (perturbed), expert i with head task i, plus a
// dataset per task.
type synthetic struct {
	dir     string
	base    string
	experts []string
	models  []model.Network // the experts as loaded
	tasks   []tasks.Task
}

var synthTasks = []model.Head{{Name: "alpha", Classes: 3}, {Name: "beta", Classes: 4}}

func synthSpec(heads ...model.Head) model.Config {
	return mlp.Config{Input: [3]int{1, 3, 3}, Hidden: []int{6, 5}, Heads: heads}
}

// newSynthetic writes the pool into t.TempDir(). n is the number of
// validation (fitness) and test examples per task.
func newSynthetic(t testing.TB, n int) *synthetic {
	t.Helper()
	s := &synthetic{dir: t.TempDir()}
	base, err := synthSpec(model.Head{Name: "pretrain", Classes: 3}).New(1)
	if err != nil {
		t.Fatal(err)
	}
	s.base = filepath.Join(s.dir, "base.safetensors")
	if err := model.Save(s.base, base, nil); err != nil {
		t.Fatal(err)
	}
	for i, h := range synthTasks {
		fresh, err := synthSpec(h).New(uint64(10 + i))
		if err != nil {
			t.Fatal(err)
		}
		// backbone = base + a perturbation; head fresh.
		r := rng.New(uint64(20+i), "test", "perturb")
		for _, p := range fresh.Params() {
			if bp := base.Param(p.Name); bp != nil {
				for j := range p.Data {
					p.Data[j] = bp.Data[j] + float32(r.NormFloat64()*0.3)
				}
			}
		}
		path := filepath.Join(s.dir, "expert-"+h.Name+".safetensors")
		if err := model.Save(path, fresh, map[string]string{"role": "expert"}); err != nil {
			t.Fatal(err)
		}
		s.experts = append(s.experts, path)
		s.models = append(s.models, fresh)
		s.tasks = append(s.tasks, tasks.Task{
			Name: h.Name, Head: h.Name, FitnessSplit: data.Validation,
			Splits: map[data.Split]*data.Dataset{
				data.Validation: synthData(h.Name+"/validation", n, h.Classes, uint64(30+i)),
				data.Test:       synthData(h.Name+"/test", n, h.Classes, uint64(40+i)),
			},
			ExpertAccuracy: map[data.Split]float64{data.Validation: 0.5, data.Test: 0.25},
		})
	}
	return s
}

func synthData(name string, n, classes int, seed uint64) *data.Dataset {
	r := rng.New(seed, "test", "data")
	d := &data.Dataset{Name: name, C: 1, H: 3, W: 3, Classes: classes, X: make([]float32, n*9), Y: make([]int32, n)}
	for i := range d.X {
		d.X[i] = float32(r.Float64())
	}
	for i := range d.Y {
		d.Y[i] = int32(r.IntN(classes))
	}
	return d
}

func (s *synthetic) pool(t testing.TB) *Pool {
	t.Helper()
	p, err := LoadPool(PoolFiles{Base: s.base, Models: s.experts, Names: []string{"alpha", "beta"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// linearMerge searches the per-model weights of linear (normalize fixed).
func linearMerge(t testing.TB, pool *Pool, normalize bool) MergeConfig {
	t.Helper()
	op := operators.Linear()
	lo, hi := -2.0, 2.0
	_, mapping, err := searchspace.Derive(op.Params(), searchspace.Spec{
		Operator: op.Name(), Models: pool.ModelNames(),
		Targets: []searchspace.Target{{Param: "weight", PerModel: true, Lower: &lo, Upper: &hi}},
		Fixed:   operators.Settings{Default: operators.Values{Global: map[string]operators.Value{"normalize": operators.B(normalize)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return MergeConfig{Pool: pool, Operator: op, Mapping: mapping}
}

// taskArithmeticGroups searches λ per layer group of task arithmetic.
func taskArithmeticGroups(t testing.TB, pool *Pool) MergeConfig {
	t.Helper()
	op := operators.TaskArithmetic()
	_, mapping, err := searchspace.Derive(op.Params(), searchspace.Spec{
		Operator: op.Name(), Models: pool.ModelNames(),
		Targets: []searchspace.Target{{Param: "lambda", Groups: []string{"layers.1", "layers.3"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: 7}
}

func accuracyObjectives(names ...string) []fitness.Objective {
	var out []fitness.Objective
	for _, task := range names {
		out = append(out, fitness.Objective{Name: task + "/accuracy", Task: task, Metric: tasks.MetricAccuracy, Direction: fitness.Maximize})
	}
	return out
}

func candidates(points ...[]float64) []*population.Candidate {
	out := make([]*population.Candidate, len(points))
	for i, p := range points {
		out[i] = &population.Candidate{Genome: population.VectorGenome(p), Status: population.StatusPending}
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
