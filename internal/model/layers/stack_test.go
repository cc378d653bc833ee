package layers

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
)

// blobs returns n examples of a separable problem: the class c example is a Gaussian
// blob around a class-specific centre in dim dimensions.
func blobs(seed uint64, n, dim, classes int) ([]float32, []int32) {
	r := rng.New(seed, "blobs")
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for d := range centres[c] {
			centres[c][d] = 2 * r.NormFloat64()
		}
	}
	x := make([]float32, n*dim)
	y := make([]int32, n)
	for i := range n {
		c := r.IntN(classes)
		y[i] = int32(c)
		for d := range dim {
			x[i*dim+d] = float32(centres[c][d] + 0.5*r.NormFloat64())
		}
	}
	return x, y
}

func testModels(t *testing.T) map[string]*Stack {
	t.Helper()
	heads := []model.Head{{Name: "even", Classes: 2}, {Name: "digit", Classes: 5}}
	specs := map[string]Spec{
		"mlp": mlpSpec([3]int{1, 6, 6}, []int{12, 8}, heads),
		"cnn": cnnSpec([3]int{2, 8, 8}, []int{3, 4}, []int{6}, heads),
		"mixed": {Arch: "mixed", Input: [3]int{1, 7, 7}, Heads: heads, Layers: []LayerSpec{
			{Kind: KindConv2D, Out: 3, Kernel: 3, Stride: 2, Padding: 1}, {Kind: KindGELU},
			{Kind: KindAvgPool, Kernel: 2}, {Kind: KindFlatten}, {Kind: KindLayerNorm},
			{Kind: KindDropout, P: 0.2}, {Kind: KindLinear, Out: 7}, {Kind: KindReLU},
		}},
	}
	out := map[string]*Stack{}
	for name, s := range specs {
		m, err := New(s, nil, 21)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = m
	}
	return out
}

func TestSaveLoadRoundTripIsBitIdentical(t *testing.T) {
	dir := t.TempDir()
	for name, m := range testModels(t) {
		x := randomValues(rng.New(4, name), 5*m.InputSize(), 1)
		path := filepath.Join(dir, name+".safetensors")
		if err := model.Save(path, m, map[string]string{"task": "unit-test"}); err != nil {
			t.Fatal(err)
		}
		loaded, err := load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(loaded.Spec(), m.Spec()) {
			t.Fatalf("%s: spec changed:\n%+v\n%+v", name, loaded.Spec(), m.Spec())
		}
		for _, head := range m.Heads() {
			want, err := m.Logits(x, 5, head)
			if err != nil {
				t.Fatal(err)
			}
			want = slices.Clone(want)
			got, err := loaded.Logits(x, 5, head)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s head %s: logit %d is %v after the round trip, want %v", name, head, i, got[i], want[i])
				}
			}
		}
		_, meta, err := checkpoint.LoadAll(path)
		if err != nil {
			t.Fatal(err)
		}
		if meta["task"] != "unit-test" || meta[model.SpecMetadataKey] == "" {
			t.Fatalf("%s: metadata %v lacks the extra entry or the spec", name, meta)
		}
	}
}

func TestFromTensorsErrors(t *testing.T) {
	m := testModels(t)["mlp"]
	spec := m.Spec()
	base := model.Tensors(m)
	without := func(name string) []checkpoint.Tensor {
		var out []checkpoint.Tensor
		for _, tn := range base {
			if tn.Name != name {
				out = append(out, tn)
			}
		}
		return out
	}
	reshaped := slices.Clone(base)
	for i := range reshaped {
		if reshaped[i].Name == "layers.1.weight" {
			reshaped[i] = checkpoint.Tensor{Name: "layers.1.weight", Shape: []int{36, 12}, Data: reshaped[i].Data}
		}
	}
	extra := append(slices.Clone(base), checkpoint.Tensor{Name: "layers.9.weight", Shape: []int{1}, Data: []float32{1}})
	newHead := append(slices.Clone(base),
		checkpoint.Tensor{Name: "heads.parity.weight", Shape: []int{3, 8}, Data: make([]float32, 24)},
		checkpoint.Tensor{Name: "heads.parity.bias", Shape: []int{3}, Data: []float32{1, 2, 3}})
	halfHead := append(slices.Clone(base), checkpoint.Tensor{Name: "heads.parity.weight", Shape: []int{3, 8}, Data: make([]float32, 24)})
	badHeadShape := append(slices.Clone(base),
		checkpoint.Tensor{Name: "heads.parity.weight", Shape: []int{3, 9}, Data: make([]float32, 27)},
		checkpoint.Tensor{Name: "heads.parity.bias", Shape: []int{3}, Data: []float32{1, 2, 3}})
	tests := []struct {
		name    string
		tensors []checkpoint.Tensor
		wantErr string
	}{
		{"complete", base, ""},
		{"missing backbone tensor", without("layers.3.bias"), "tensor layers.3.bias (shape [8]) is missing"},
		{"missing head tensor", without("heads.digit.weight"), "tensor heads.digit.weight (shape [5 8]) is missing"},
		{"wrong shape", reshaped, "tensor layers.1.weight has shape [36 12] but the spec implies [12 36]"},
		{"extra tensor", extra, "unexpected tensor layers.9.weight"},
		{"head from tensors", newHead, ""},
		{"head without bias", halfHead, "tensor heads.parity.bias is missing"},
		{"head with wrong width", badHeadShape, "tensor heads.parity.weight has shape [3 9] but the spec implies [3 8]"},
	}
	for _, tc := range tests {
		got, err := FromTensors(spec, nil, tc.tensors)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.wantErr != "" && err == nil:
			t.Errorf("%s: no error, want %q", tc.name, tc.wantErr)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.wantErr)
		}
		if tc.name == "head from tensors" && err == nil {
			if got.Classes("parity") != 3 || got.Param("heads.parity.bias").Data[2] != 3 {
				t.Errorf("head parity not rebuilt from tensors: classes %d", got.Classes("parity"))
			}
		}
	}
	// Loading checkpoints (metadata, detection) is tested in internal/model/all.
}

func TestTrainReachesHighAccuracyAndIsReproducible(t *testing.T) {
	const n, dim, classes = 400, 8, 4
	x, y := blobs(1, n, dim, classes)
	spec := mlpSpec([3]int{1, 1, dim}, []int{16}, []model.Head{{Name: "blobs", Classes: classes}})
	for _, cfg := range []model.TrainConfig{
		{Head: "blobs", Epochs: 15, BatchSize: 32, Optimizer: "adam", LR: 0.01, WeightDecay: 1e-4, Seed: 5},
		{Head: "blobs", Epochs: 15, BatchSize: 32, Optimizer: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4, Seed: 5},
	} {
		var weights [][]float32
		for run := range 2 {
			m, err := New(spec, nil, 3)
			if err != nil {
				t.Fatal(err)
			}
			before, err := evaluate(m, x, y, n, "blobs", 64)
			if err != nil {
				t.Fatal(err)
			}
			if err := model.Train(context.Background(), m, x, y, n, cfg); err != nil {
				t.Fatal(err)
			}
			after, err := evaluate(m, x, y, n, "blobs", 64)
			if err != nil {
				t.Fatal(err)
			}
			if after.Accuracy < 0.97 || after.Loss >= before.Loss {
				t.Fatalf("%s run %d: accuracy %.3f (loss %.4f → %.4f), want ≥ 0.97 and a lower loss", cfg.Optimizer, run, after.Accuracy, before.Loss, after.Loss)
			}
			var flat []float32
			for _, p := range m.Params() {
				flat = append(flat, p.Data...)
			}
			weights = append(weights, flat)
		}
		for i := range weights[0] {
			if math.Float32bits(weights[0][i]) != math.Float32bits(weights[1][i]) {
				t.Fatalf("%s: two runs with the same seed differ at weight %d", cfg.Optimizer, i)
			}
		}
	}
}

func TestTrainWithDropoutIsReproducible(t *testing.T) {
	x, y := blobs(2, 120, 6, 3)
	spec := Spec{Arch: "drop", Input: [3]int{6, 1, 1}, Heads: []model.Head{{Name: "t", Classes: 3}}, Layers: []LayerSpec{
		{Kind: KindLinear, Out: 10}, {Kind: KindReLU}, {Kind: KindDropout, P: 0.3},
	}}
	var results [][]float32
	for _, seed := range []uint64{9, 9, 10} {
		m, _ := New(spec, nil, 1)
		if err := model.Train(context.Background(), m, x, y, 120, model.TrainConfig{Head: "t", Epochs: 2, BatchSize: 16, LR: 0.01, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		results = append(results, slices.Clone(m.Param("layers.0.weight").Data))
	}
	if !slices.Equal(results[0], results[1]) {
		t.Fatal("same seed, different weights")
	}
	if slices.Equal(results[0], results[2]) {
		t.Fatal("different seeds gave identical weights: the seed does not reach shuffling or dropout")
	}
}

func TestTrainTrainableFilterAndHeads(t *testing.T) {
	x, y := blobs(3, 64, 6, 3)
	spec := mlpSpec([3]int{6, 1, 1}, []int{5}, []model.Head{{Name: "a", Classes: 3}, {Name: "b", Classes: 3}})
	m, _ := New(spec, nil, 1)
	snapshot := func() map[string][]float32 {
		out := map[string][]float32{}
		for _, p := range m.Params() {
			out[p.Name] = slices.Clone(p.Data)
		}
		return out
	}
	before := snapshot()
	cfg := model.TrainConfig{Head: "a", Epochs: 1, BatchSize: 16, LR: 0.01, WeightDecay: 0.1, Seed: 1,
		Trainable: func(name string) bool { return strings.HasPrefix(name, "heads.") }}
	if err := model.Train(context.Background(), m, x, y, 64, cfg); err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	for name, v := range before {
		changed := !slices.Equal(v, after[name])
		want := strings.HasPrefix(name, "heads.a.")
		if changed != want {
			t.Errorf("%s: changed = %v, want %v (only head a is trainable)", name, changed, want)
		}
	}
}

func TestTrainCancellationAndConfigErrors(t *testing.T) {
	x, y := blobs(4, 32, 4, 2)
	m, _ := New(mlpSpec([3]int{4, 1, 1}, []int{3}, []model.Head{{Name: "t", Classes: 2}}), nil, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := model.Train(ctx, m, x, y, 32, model.TrainConfig{Head: "t", Epochs: 1, BatchSize: 8, LR: 0.1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Train returned %v, want context.Canceled", err)
	}
	good := model.TrainConfig{Head: "t", Epochs: 1, BatchSize: 8, LR: 0.1}
	tests := []struct {
		name    string
		mutate  func(*model.TrainConfig)
		labels  []int32
		wantErr string
	}{
		{"unknown head", func(c *model.TrainConfig) { c.Head = "zz" }, y, `no head "zz"`},
		{"zero epochs", func(c *model.TrainConfig) { c.Epochs = 0 }, y, "epochs = 0"},
		{"zero batch", func(c *model.TrainConfig) { c.BatchSize = 0 }, y, "batch size = 0"},
		{"negative lr", func(c *model.TrainConfig) { c.LR = -1 }, y, "learning rate = -1"},
		{"bad optimizer", func(c *model.TrainConfig) { c.Optimizer = "rmsprop" }, y, `unknown optimizer "rmsprop"`},
		{"momentum with adam", func(c *model.TrainConfig) { c.Momentum = 0.9 }, y, "momentum is an SGD setting"},
		{"nothing trainable", func(c *model.TrainConfig) { c.Trainable = func(string) bool { return false } }, y, "selects no parameter"},
		{"label out of range", func(*model.TrainConfig) {}, append(slices.Clone(y[:31]), 2), "label 2 of example 31"},
	}
	for _, tc := range tests {
		cfg := good
		tc.mutate(&cfg)
		err := model.Train(context.Background(), m, x, tc.labels, 32, cfg)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
	bad := slices.Clone(x)
	bad[5] = float32(math.Inf(1))
	if err := model.Train(context.Background(), m, bad, y, 32, good); err == nil || !strings.Contains(err.Error(), "loss became NaN") {
		t.Errorf("non-finite loss: error %v, want one containing \"loss became NaN\"", err)
	}
}

func TestInferenceInputErrors(t *testing.T) {
	m := testModels(t)["cnn"]
	x := make([]float32, 2*m.InputSize())
	if _, err := m.Logits(x, 2, "nope"); err == nil || !strings.Contains(err.Error(), "heads: even, digit") {
		t.Errorf("unknown head: %v", err)
	}
	if _, err := m.Logits(x[:len(x)-1], 2, "even"); err == nil || !strings.Contains(err.Error(), "want 2 examples × 128 values") {
		t.Errorf("short input: %v", err)
	}
	if _, err := m.Logits(nil, 0, "even"); err == nil {
		t.Error("empty batch accepted")
	}
	if _, err := model.LossAndGrad(m, x, 2, "even", []int32{0, 5}, model.CrossEntropy); err == nil || !strings.Contains(err.Error(), "label 5 of example 1") {
		t.Errorf("bad label: %v", err)
	}
	if _, err := model.LossAndGrad(m, x, 2, "even", nil, model.LossKind(7)); err == nil {
		t.Error("unknown loss kind accepted")
	}
	if _, err := evaluate(m, x, []int32{0, 1}, 2, "even", -1); err == nil {
		t.Error("evaluation batch -1 accepted")
	}
	if _, err := model.LossAndGrad(m, x, 2, "even", nil, model.Entropy); err != nil {
		t.Errorf("entropy loss needs no labels, got %v", err)
	}
}

func TestEvaluateIndependentOfBatchAndThreads(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for name, m := range testModels(t) {
		const n = 37
		r := rng.New(8, name)
		x := randomValues(r, n*m.InputSize(), 1)
		y := make([]int32, n)
		for i := range y {
			y[i] = int32(r.IntN(5))
		}
		var ref metrics
		var refLogits []float32
		for i, setting := range []struct{ procs, batch int }{{1, n}, {2, n}, {2, 5}, {3, 1}} {
			runtime.GOMAXPROCS(setting.procs)
			got, err := evaluate(m, x, y, n, "digit", setting.batch)
			if err != nil {
				t.Fatal(err)
			}
			logits, _ := m.Logits(x, n, "digit")
			if i == 0 {
				ref, refLogits = got, slices.Clone(logits)
				continue
			}
			if got.Loss != ref.Loss || got.Accuracy != ref.Accuracy || !slices.Equal(got.Correct, ref.Correct) {
				t.Fatalf("%s: metrics differ with GOMAXPROCS %d, batch %d: %+v vs %+v", name, setting.procs, setting.batch, got, ref)
			}
			for j := range logits {
				if math.Float32bits(logits[j]) != math.Float32bits(refLogits[j]) {
					t.Fatalf("%s: logit %d differs with GOMAXPROCS %d", name, j, setting.procs)
				}
			}
		}
		// Accuracy agrees with Correct, and Loss with the per-example cross-entropy.
		count := 0
		for _, c := range ref.Correct {
			if c {
				count++
			}
		}
		if ref.Accuracy != float64(count)/n {
			t.Fatalf("%s: accuracy %v but %d of %d correct", name, ref.Accuracy, count, n)
		}
		loss, err := model.LossAndGrad(m, x, n, "digit", y, model.CrossEntropy)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(loss-ref.Loss) > 1e-9 {
			t.Fatalf("%s: Evaluate loss %v, LossAndGrad loss %v", name, ref.Loss, loss)
		}
	}
}

// metrics are tasks.ScoreDataset's results with the correctness unpacked.
type metrics struct {
	tasks.Result
	Correct []bool
}

// evaluate scores n labelled examples x, y with the one scoring loop
// (tasks.ScoreDataset) in batches of batch examples.
func evaluate(m model.Network, x []float32, y []int32, n int, head string, batch int) (metrics, error) {
	shape := m.Config().InputShape()
	d := &data.Dataset{Name: "test", C: shape[0], H: shape[1], W: shape[2], Classes: m.Classes(head), X: x, Y: y[:min(n, len(y))]}
	bits := make([]uint64, (n+63)/64)
	r, err := tasks.ScoreDataset(context.Background(), m, d, head, tasks.ScoreOptions{Batch: batch, Correct: bits})
	if err != nil {
		return metrics{}, err
	}
	out := metrics{Result: r, Correct: make([]bool, n)}
	for i := range out.Correct {
		out.Correct[i] = bits[i>>6]&(1<<(uint(i)&63)) != 0
	}
	return out, nil
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	for name, m := range testModels(t) {
		const n = 16
		x := randomValues(rng.New(1, name), n*m.InputSize(), 1)
		y := make([]int32, n)
		if _, err := model.LossAndGrad(m, x, n, "even", y, model.CrossEntropy); err != nil { // warm-up
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(10, func() { _, _ = m.Logits(x, n, "even") }); a > 0 {
			t.Errorf("%s: Logits allocates %.1f times per batch after warm-up", name, a)
		}
		if a := testing.AllocsPerRun(10, func() { _, _ = m.Logits(x[:8*m.InputSize()], 8, "digit") }); a > 0 {
			t.Errorf("%s: Logits on a smaller batch allocates %.1f times", name, a)
		}
		if a := testing.AllocsPerRun(10, func() { _, _ = model.LossAndGrad(m, x, n, "even", y, model.CrossEntropy) }); a > 0 {
			t.Errorf("%s: LossAndGrad allocates %.1f times per batch after warm-up", name, a)
		}
	}
}

func TestCloneAndAddHead(t *testing.T) {
	m := testModels(t)["mixed"]
	c := m.Clone()
	x := randomValues(rng.New(2, "clone"), 3*m.InputSize(), 1)
	a, _ := m.Logits(x, 3, "even")
	a = slices.Clone(a)
	b, _ := c.Logits(x, 3, "even")
	if !slices.Equal(a, b) {
		t.Fatal("clone gives different logits")
	}
	c.Param("layers.0.weight").Data[0] += 1
	a2, _ := m.Logits(x, 3, "even")
	if !slices.Equal(a, a2) {
		t.Fatal("changing the clone changed the original")
	}
	backbone := slices.Clone(m.Param("layers.0.weight").Data)
	if err := m.AddHead("parity", 3, 99); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(backbone, m.Param("layers.0.weight").Data) || m.Classes("parity") != 3 {
		t.Fatal("AddHead changed the backbone or lost the head")
	}
	if logits, err := m.Logits(x, 3, "parity"); err != nil || len(logits) != 9 {
		t.Fatalf("logits of the new head: %v (len %d)", err, len(logits))
	}
	if err := m.AddHead("parity", 3, 1); err == nil {
		t.Fatal("duplicate head accepted")
	}
	if got := m.Spec().Heads; len(got) != 3 || got[2] != (model.Head{Name: "parity", Classes: 3}) {
		t.Fatalf("spec heads %v", got)
	}
}

func TestTrainIdenticalAcrossGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	const n = 48
	var results [][]float32
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		m := testModels(t)["mixed"]
		r := rng.New(6, "train-procs")
		x := randomValues(r, n*m.InputSize(), 1)
		y := make([]int32, n)
		for i := range y {
			y[i] = int32(r.IntN(5))
		}
		if err := model.Train(context.Background(), m, x, y, n, model.TrainConfig{Head: "digit", Epochs: 2, BatchSize: 16, LR: 0.01, Seed: 3}); err != nil {
			t.Fatal(err)
		}
		var flat []float32
		for _, p := range m.Params() {
			flat = append(flat, p.Data...)
		}
		results = append(results, flat)
	}
	for k := 1; k < len(results); k++ {
		for i := range results[0] {
			if math.Float32bits(results[k][i]) != math.Float32bits(results[0][i]) {
				t.Fatalf("weights differ at %d between GOMAXPROCS settings", i)
			}
		}
	}
}
