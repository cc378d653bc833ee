package evaluate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

// statsMerge searches fisher's per-model weights over the pool.
func statsMerge(t *testing.T, pool *Pool, op operators.Operator) MergeConfig {
	t.Helper()
	spec := searchspace.Spec{Operator: op.Name(), Models: pool.ModelNames()}
	if op.Name() == "fisher" {
		spec.Targets = []searchspace.Target{{Param: "weight", PerModel: true}}
	} else {
		spec.Targets = []searchspace.Target{{Param: "alpha"}}
	}
	_, mapping, err := searchspace.Derive(op.Params(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return MergeConfig{Pool: pool, Operator: op, Mapping: mapping}
}

func TestNativeStatisticsSettings(t *testing.T) {
	s := &NativeSettings{}
	s.Defaults()
	if *s != (NativeSettings{}) {
		t.Errorf("Defaults filled %+v: the statistics settings stay absent", *s)
	}
	if got := s.Statistics(); got != (StatisticsOptions{Examples: DefaultStatisticsExamples, Labels: model.EmpiricalFisher}) || DefaultStatisticsExamples != 256 {
		t.Errorf("default statistics options %+v", got)
	}
	s = &NativeSettings{StatisticsExamples: 32, FisherLabels: "expected"}
	if got := s.Statistics(); got != (StatisticsOptions{Examples: 32, Labels: model.ExpectedFisher}) {
		t.Errorf("statistics options %+v", got)
	}
	var _ StatisticsComputer = s
	got := reported((&NativeSettings{StatisticsExamples: -4, FisherLabels: "true"}).Validate)
	want := []string{"statistics_examples: -4: give a positive count", `fisher_labels: unknown Fisher labels "true": use "empirical"`}
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %q, want %q", got[i], want[i])
		}
	}
	if got := reported((&NativeSettings{StatisticsExamples: 1, FisherLabels: "empirical"}).Validate); len(got) != 0 {
		t.Errorf("valid settings reported %q", got)
	}
	// The command kind computes no statistics.
	if _, ok := any(&CommandSettings{}).(StatisticsComputer); ok {
		t.Error("the command kind claims to compute statistics")
	}
}

func TestMergerNeedsStatisticsForDataAwareOperators(t *testing.T) {
	s := newSynthetic(t, 12)
	pool := s.pool(t)
	defer pool.Close()
	for _, op := range []operators.Operator{operators.Fisher(), operators.RegMean()} {
		_, err := NewMerger(statsMerge(t, pool, op))
		if err == nil || !strings.Contains(err.Error(), "the native evaluator computes them") || !strings.Contains(err.Error(), op.Name()) {
			t.Errorf("%s without statistics: %v", op.Name(), err)
		}
	}
}

func TestComputeStatisticsMatchesModelComputeStats(t *testing.T) {
	s := newSynthetic(t, 12)
	pool := s.pool(t)
	defer pool.Close()
	ctx := context.Background()
	for _, tt := range []struct {
		op     operators.Operator
		labels model.FisherLabels
	}{{operators.Fisher(), model.ExpectedFisher}, {operators.Fisher(), model.EmpiricalFisher}, {operators.RegMean(), ""}} {
		// The experts listed against the tasks in reverse: each model gets
		// the task named for it, not the task at its index.
		rev := []string{"alpha", "beta"}
		ts := slices.Clone(s.tasks)
		slices.Reverse(ts)
		st, err := ComputeStatistics(ctx, pool, tt.op, ts, rev, StatisticsOptions{Examples: 8, Labels: tt.labels}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var sets []model.TaskData
		for _, task := range s.tasks {
			d := task.Data(data.Validation)
			sets = append(sets, model.TaskData{Head: task.Head, X: d.X, Y: d.Y, N: d.Len()})
		}
		req := tt.op.Requirements()
		want, err := model.ComputeStats(ctx, s.models, sets, model.StatsOptions{Fisher: req.Fisher, Labels: tt.labels, Gram: req.Gram, Examples: 8})
		if err != nil {
			t.Fatal(err)
		}
		for m := range 2 {
			for _, p := range s.models[m].Params() {
				if req.Fisher {
					a, b := make([]float32, len(p.Data)), make([]float32, len(p.Data))
					okA, _ := st.Source.Fisher(m, p.Name, a)
					okB, _ := want.Fisher(m, p.Name, b)
					if okA != okB || !slices.Equal(a, b) {
						t.Errorf("%s model %d %s: Fisher differs", tt.op.Name(), m, p.Name)
					}
				}
				if req.Gram && len(p.Shape) == 2 {
					a, b := make([]float64, p.Shape[1]*p.Shape[1]), make([]float64, p.Shape[1]*p.Shape[1])
					na, okA, _ := st.Source.Gram(m, p.Name, a)
					nb, okB, _ := want.Gram(m, p.Name, b)
					if okA != okB || na != nb || !slices.Equal(a, b) {
						t.Errorf("%s model %d %s: Gram differs", tt.op.Name(), m, p.Name)
					}
				}
			}
		}
		spec := string(st.Spec)
		if req.Fisher != strings.Contains(spec, `"labels":"`+string(tt.labels)+`"`) || !strings.Contains(spec, `{"model":"alpha","task":"alpha","head":"alpha","split":"validation","examples":8,"data":"`) {
			t.Errorf("spec %s", spec)
		}
		// The merge reads them and describes them.
		cfg := statsMerge(t, pool, tt.op)
		cfg.Statistics = st
		m, err := NewMerger(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.desc, `"statistics":`+spec) {
			t.Errorf("merge description lacks the statistics: %s", m.desc)
		}
		if _, err := m.Materialize(ctx, population.Genome{Values: m.mapping.Space().Defaults()}); err != nil {
			t.Errorf("%s: %v", tt.op.Name(), err)
		}
	}
	// A data-free merge given statistics ignores them.
	cfg := linearMerge(t, pool, false)
	plain, err := NewMerger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Statistics = &Statistics{Source: model.NewStats(nil, nil), Spec: []byte(`{}`)}
	with, err := NewMerger(cfg)
	if err != nil || with.desc != plain.desc || strings.Contains(plain.desc, "statistics") {
		t.Errorf("a linear merge's description changed with statistics: %v\n%s\n%s", err, with.desc, plain.desc)
	}
}

func TestComputeStatisticsErrors(t *testing.T) {
	s := newSynthetic(t, 12)
	pool := s.pool(t)
	defer pool.Close()
	ctx := context.Background()
	opt := StatisticsOptions{Examples: 8}
	testSplit := s.tasks[0]
	testSplit.FitnessSplit = data.Test
	for _, tt := range []struct {
		name  string
		op    operators.Operator
		tasks []string
		test  bool // alpha's fitness split is test
		want  string
	}{
		{"data-free operator", operators.Linear(), []string{"alpha", "beta"}, false, "linear reads no statistics"},
		{"tasks unknown", operators.Fisher(), nil, false, "the tasks of the pool's 2 models are not known"},
		{"a model without a task", operators.Fisher(), []string{"alpha", ""}, false, "model 2 (beta): its task is not known"},
		{"an unknown task", operators.RegMean(), []string{"alpha", "gamma"}, false, `model 2 (beta): unknown task "gamma": the run's tasks are alpha, beta`},
		{"a task the model has no head for", operators.Fisher(), []string{"beta", "beta"}, false, `model 1 (alpha): it has no head "beta"`},
		{"the test split", operators.Fisher(), []string{"alpha", "beta"}, true, "the test split cannot give statistics"},
	} {
		ts := s.tasks
		if tt.test {
			ts = []tasks.Task{testSplit, s.tasks[1]}
		}
		_, err := ComputeStatistics(ctx, pool, tt.op, ts, tt.tasks, opt, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
