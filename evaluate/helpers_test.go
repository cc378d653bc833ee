package evaluate

import (
	"os"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/internal/testkit"
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

var synthTasks = testkit.TinyHeads

// newSynthetic writes the pool (testkit.WritePool) into t.TempDir(). n is
// the number of validation (fitness) and test examples per task.
func newSynthetic(t testing.TB, n int) *synthetic {
	t.Helper()
	s := &synthetic{dir: t.TempDir()}
	p := testkit.WritePool(t, s.dir, testkit.TinyMLP, map[string]string{"role": "expert"})
	s.base, s.experts, s.models = p.Base, p.Experts, p.Models
	for i, h := range synthTasks {
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
	return testkit.RandomImages(name, n, classes, [3]int{1, 3, 3}, seed)
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
