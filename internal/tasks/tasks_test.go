package tasks

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
)

// fixture is a small MLP with heads "a" (3 classes) and "b" (5) and n
// random labelled 2×3×3 examples for head "a".
func fixture(t testing.TB, n int) (model.Network, *data.Dataset) {
	t.Helper()
	net, err := mlp.Config{Input: [3]int{2, 3, 3}, Hidden: []int{7}, Heads: []model.Head{{Name: "a", Classes: 3}, {Name: "b", Classes: 5}}}.New(4)
	if err != nil {
		t.Fatal(err)
	}
	r := rng.New(9, "tasks-test")
	d := &data.Dataset{Name: "fix", C: 2, H: 3, W: 3, Classes: 3, X: make([]float32, n*18), Y: make([]int32, n)}
	for i := range d.X {
		d.X[i] = float32(r.NormFloat64())
	}
	for i := range d.Y {
		d.Y[i] = int32(r.IntN(3))
	}
	return net, d
}

// reference scores d with net's logits of the whole set at once: arg-max
// (ties to the lowest class) against the label, and LossAndGrad's mean
// cross-entropy.
func reference(t *testing.T, net model.Network, d *data.Dataset, head string) (acc, loss float64, correct []bool) {
	t.Helper()
	n := d.Len()
	logits, err := net.Logits(d.X, n, head)
	if err != nil {
		t.Fatal(err)
	}
	classes := net.Classes(head)
	right := 0
	for i := range n {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		correct = append(correct, int32(best) == d.Y[i])
		if correct[i] {
			right++
		}
	}
	loss, err = model.LossAndGrad(net, d.X, n, head, d.Y, model.CrossEntropy)
	if err != nil {
		t.Fatal(err)
	}
	return float64(right) / float64(n), loss, correct
}

func bitsOf(words []uint64, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = words[i>>6]&(1<<(uint(i)&63)) != 0
	}
	return out
}

func TestScoreDatasetAgreesWithTheLogits(t *testing.T) {
	const n = 131 // three words of correctness, the last partly used
	net, d := fixture(t, n)
	wantAcc, wantLoss, wantCorrect := reference(t, net, d, "a")
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var first Result
	for i, setting := range []struct{ procs, batch int }{{1, 0}, {2, 1}, {2, 7}, {1, n}, {2, 1000}} {
		runtime.GOMAXPROCS(setting.procs)
		words := make([]uint64, (n+63)/64)
		got, err := ScoreDataset(context.Background(), net, d, "a", ScoreOptions{Batch: setting.batch, Correct: words})
		if err != nil {
			t.Fatal(err)
		}
		if got.Examples != n || got.Accuracy != wantAcc || math.Abs(got.Loss-wantLoss) > 1e-9 {
			t.Fatalf("batch %d: %+v, want accuracy %v loss %v", setting.batch, got, wantAcc, wantLoss)
		}
		if !slices.Equal(bitsOf(words, n), wantCorrect) {
			t.Fatalf("batch %d: per-example correctness differs from the logits' arg-max", setting.batch)
		}
		if words[len(words)-1]>>(n%64) != 0 {
			t.Fatalf("batch %d: bits past the last example are set", setting.batch)
		}
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("batch %d, GOMAXPROCS %d: %+v differs from %+v: results depend on the batch or threads", setting.batch, setting.procs, got, first)
		}
	}
	// Without a correctness buffer the numbers are the same.
	got, err := ScoreDataset(context.Background(), net, d, "a", ScoreOptions{})
	if err != nil || got != first {
		t.Fatalf("no Correct: %+v %v, want %+v", got, err, first)
	}
}

func TestScoreReadsTheTaskSplit(t *testing.T) {
	net, d := fixture(t, 20)
	_, other := fixture(t, 5)
	task := New("t", "a", data.Validation, d).WithData(data.Test, other)
	got, err := Score(context.Background(), net, &task, data.Validation, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ScoreDataset(context.Background(), net, d, "a", ScoreOptions{})
	if got != want {
		t.Fatalf("Score %+v, ScoreDataset of the split %+v", got, want)
	}
	if got, err := Score(context.Background(), net, &task, data.Test, ScoreOptions{}); err != nil || got.Examples != 5 {
		t.Fatalf("test split: %+v %v", got, err)
	}
	if _, err := Score(context.Background(), net, &task, data.Train, ScoreOptions{}); err == nil || !strings.Contains(err.Error(), "no train examples") {
		t.Fatalf("a split the task lacks: %v", err)
	}
}

func TestScoreDatasetRefusals(t *testing.T) {
	net, d := fixture(t, 10)
	ctx := context.Background()
	bad := *d
	bad.Y = slices.Clone(d.Y)
	bad.Y[4] = 3
	tokens := &data.Dataset{Name: "tok", Kind: data.Tokens, SeqLen: 4, Classes: 3, Tokens: make([]int32, 8), Y: []int32{0, 1}}
	cases := []struct {
		name string
		d    *data.Dataset
		head string
		opt  ScoreOptions
		want string
	}{
		{"missing head", d, "zz", ScoreOptions{}, `no head "zz"`},
		{"label outside the head", &bad, "a", ScoreOptions{}, "label 3 of example 4"},
		{"mis-sized inputs", &data.Dataset{Name: "x", C: 1, H: 2, W: 2, Classes: 3, X: make([]float32, 8), Y: []int32{0, 1}}, "a", ScoreOptions{}, "want 2 examples"},
		{"empty", &data.Dataset{Name: "e", C: 2, H: 3, W: 3, Classes: 3}, "a", ScoreOptions{}, "at least one"},
		{"negative batch", d, "a", ScoreOptions{Batch: -1}, "batch size -1"},
		{"short correctness", &data.Dataset{Name: "big", C: 2, H: 3, W: 3, Classes: 3, X: make([]float32, 65*18), Y: make([]int32, 65)}, "a", ScoreOptions{Correct: make([]uint64, 1)}, "correctness words"},
		{"token sequences", tokens, "a", ScoreOptions{}, "images only"},
	}
	for _, tc := range cases {
		if _, err := ScoreDataset(ctx, net, tc.d, tc.head, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ScoreDataset(cancelled, net, d, "a", ScoreOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// The loop allocates nothing once the network's buffers have grown.
func TestScoreDoesNotAllocate(t *testing.T) {
	net, d := fixture(t, 100)
	task := New("t", "a", data.Validation, d)
	words := make([]uint64, 2)
	opt := ScoreOptions{Batch: 32, Correct: words}
	if _, err := Score(context.Background(), net, &task, data.Validation, opt); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(10, func() { _, _ = Score(context.Background(), net, &task, data.Validation, opt) }); a != 0 {
		t.Errorf("Score allocates %v times per call", a)
	}
}

func TestMetricList(t *testing.T) {
	if got := MetricNames(); !slices.Equal(got, []string{MetricAccuracy, MetricNormalized, MetricLoss}) {
		t.Fatalf("metrics %v", got)
	}
	r := Result{Accuracy: 0.6, Loss: 1.25, Examples: 10}
	ref := 0.8
	cases := []struct {
		name      string
		dir       fitness.Direction
		reference bool
		value     float64 // with reference 0.8
	}{
		{MetricAccuracy, fitness.Maximize, false, 0.6},
		{MetricNormalized, fitness.Maximize, true, r.Accuracy / ref},
		{MetricLoss, fitness.Minimize, false, 1.25},
	}
	for _, tc := range cases {
		m, ok := LookupMetric(tc.name)
		if !ok || m.Name != tc.name || m.Direction != tc.dir || m.NeedsReference != tc.reference || m.Summary == "" {
			t.Fatalf("%s: %+v %v", tc.name, m, ok)
		}
		if v := m.Value(r, ref); v != tc.value {
			t.Errorf("%s = %v, want %v", tc.name, v, tc.value)
		}
		if v := m.Value(r, 0); m.NeedsReference != math.IsNaN(v) {
			t.Errorf("%s without a reference = %v", tc.name, v)
		}
	}
	if _, ok := LookupMetric("f1"); ok {
		t.Error("unknown metric found")
	}
	if err := UnknownMetric("f1"); err.Error() != `unknown metric "f1": use "accuracy", "normalized_accuracy" or "loss"` {
		t.Errorf("UnknownMetric: %v", err)
	}
	ms := Metrics()
	ms[0].Name = "changed"
	if MetricNames()[0] != MetricAccuracy {
		t.Error("Metrics returned the list itself")
	}
}

func TestTaskCopies(t *testing.T) {
	_, d := fixture(t, 30)
	task := New("t", "a", data.Validation, d)
	task.ExpertAccuracy = map[data.Split]float64{data.Validation: 0.5}
	if task.Fitness() != d || task.Data(data.Test) != nil || task.FitnessSplit != data.Validation {
		t.Fatalf("New: %+v", task)
	}
	withTest := task.WithData(data.Test, d.Head(3))
	withTest.ExpertAccuracy[data.Test] = 0.25
	if task.Data(data.Test) != nil || len(task.ExpertAccuracy) != 1 || withTest.Data(data.Test).Len() != 3 || withTest.Fitness() != d {
		t.Fatal("WithData changed the task it copied")
	}
	if none := withTest.WithData(data.Test, nil); none.Data(data.Test) != nil || withTest.Data(data.Test) == nil {
		t.Fatal("WithData(nil) did not remove the split from the copy only")
	}
	ts := []Task{task, withTest}
	kept := ts[1]
	LimitFitness(ts, 7)
	if ts[0].Fitness().Len() != 7 || ts[1].Fitness().Len() != 7 || task.Fitness().Len() != 30 || kept.Fitness().Len() != 30 {
		t.Fatal("LimitFitness cut the wrong data")
	}
	if ts[1].Data(data.Test).Len() != 3 {
		t.Fatal("LimitFitness lost another split")
	}
	LimitFitness(ts, 0)
	if ts[0].Fitness().Len() != 7 {
		t.Fatal("LimitFitness(0) changed the data")
	}
	if got := Names(ts); !slices.Equal(got, []string{"t", "t"}) {
		t.Fatalf("Names %v", got)
	}
}
