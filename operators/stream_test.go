package operators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/rng"
)

// streamTestOp is a small operator with every feature the executor must
// handle: per-model and global parameters and a model-wide pass. Its result
// is hand-computable: dst = [base] + Σ w_i θ_i + shift + passes, where passes
// is the number of mergeable tensors its Prepare visited.
type streamTestOp struct{ prepares *int }

func (streamTestOp) Name() string    { return "streamtest" }
func (streamTestOp) Formula() string { return "θ = θ0 + Σ w_i θ_i + shift + tensors seen" }
func (streamTestOp) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "weight", Kind: KindFloat, Scope: ScopeModel, Min: -10, Max: 10, Default: F(1), Layered: true},
		{Name: "shift", Kind: KindFloat, Scope: ScopeGlobal, Min: -100, Max: 100, Default: F(0), Layered: true},
		{Name: "mode", Kind: KindChoice, Scope: ScopeGlobal, Choices: []string{"plain", "other"}, Default: C("plain")},
		{Name: "steps", Kind: KindInt, Scope: ScopeGlobal, Min: 0, Max: 5, Default: I(1)},
	}
}
func (streamTestOp) Requirements() Requirements {
	return Requirements{Base: BaseOptional, MinModels: 1, ModelWide: true}
}
func (op streamTestOp) Prepare(ctx context.Context, src Source, p *Plan) (any, error) {
	if op.prepares != nil {
		*op.prepares++
	}
	seen := 0
	err := forEachMergeable(ctx, p, src, func(*TensorPlan, *TensorInputs) error { seen++; return nil })
	return seen, err
}
func (streamTestOp) Merge(dst []float32, in *TensorInputs, env *Env, s *Scratch) error {
	shift := float32(env.Params.Float("shift")) + float32(env.State.(int))
	for e := range dst {
		var v float32
		if in.Base != nil {
			v = in.Base[e]
		}
		for i, m := range in.Models {
			v += float32(env.Params.ModelFloat("weight", i)) * m[e]
		}
		dst[e] = v + shift
	}
	return nil
}

// writeCheckpoint stores tensors at path (a file) or, with maxShard > 0, as
// a sharded checkpoint in directory path.
func writeCheckpoint(t *testing.T, path string, ts []checkpoint.Tensor, meta map[string]string, dt checkpoint.DType, maxShard int64) {
	t.Helper()
	if maxShard == 0 {
		if err := checkpoint.Write(path, ts, meta, checkpoint.WriteOptions{DType: dt}); err != nil {
			t.Fatal(err)
		}
		return
	}
	plan := make([]checkpoint.TensorInfo, len(ts))
	for i, x := range ts {
		plan[i] = checkpoint.TensorInfo{Name: x.Name, Shape: x.Shape}
	}
	w, err := checkpoint.NewShardedWriter(path, plan, meta, checkpoint.ShardOptions{DType: dt, MaxShardBytes: maxShard})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if err := w.WriteTensor(x.Name, x.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func tensorOf(name string, shape []int, data ...float32) checkpoint.Tensor {
	return checkpoint.Tensor{Name: name, Shape: shape, Data: data}
}

func loadTensors(t *testing.T, path string) (map[string]checkpoint.Tensor, map[string]string) {
	t.Helper()
	ts, meta, err := checkpoint.LoadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]checkpoint.Tensor{}
	for _, x := range ts {
		m[x.Name] = x
	}
	return m, meta
}

// handInputs: a base (sharded, F32), model 1 (BF16, values exact in bf16)
// with head "a", model 2 (F32) with head "b".
func handInputs(t *testing.T, dir string) (base string, models []string) {
	base = filepath.Join(dir, "base")
	writeCheckpoint(t, base, []checkpoint.Tensor{
		tensorOf("layers.0.weight", []int{2, 3}, 1, 2, 3, 4, 5, 6),
		tensorOf("layers.0.bias", []int{2}, 0.5, -0.5),
		tensorOf("layers.1.weight", []int{1, 2}, 10, 20),
	}, map[string]string{"evomerge.spec": `{"arch":"mlp"}`, "origin": "base"}, checkpoint.F32, 16)
	m1 := filepath.Join(dir, "m1.safetensors")
	writeCheckpoint(t, m1, []checkpoint.Tensor{
		tensorOf("layers.0.weight", []int{2, 3}, 0.5, 1, 1.5, 2, 2.5, 3),
		tensorOf("layers.0.bias", []int{2}, 1, 1),
		tensorOf("layers.1.weight", []int{1, 2}, -1, 0.25),
		tensorOf("heads.a.weight", []int{2, 2}, 7, 8, 9, 10),
	}, map[string]string{"origin": "m1"}, checkpoint.BF16, 0)
	m2 := filepath.Join(dir, "m2.safetensors")
	writeCheckpoint(t, m2, []checkpoint.Tensor{
		tensorOf("layers.0.weight", []int{2, 3}, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
		tensorOf("layers.0.bias", []int{2}, 2, 3),
		tensorOf("layers.1.weight", []int{1, 2}, 4, 5),
		tensorOf("heads.b.weight", []int{1, 3}, -1, -2, -3),
	}, nil, checkpoint.F32, 0)
	return base, []string{m1, m2}
}

func TestStreamMergeHandComputed(t *testing.T) {
	dir := t.TempDir()
	base, models := handInputs(t, dir)
	src, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	prepares := 0
	op := streamTestOp{prepares: &prepares}
	recipe := &Recipe{
		Method: "streamtest", Base: base,
		Models:  []RecipeModel{{Name: "m1", Path: models[0]}, {Name: "m2", Path: models[1]}},
		Params:  map[string]any{"weight": []any{2.0, int64(-1)}},
		Groups:  map[string]map[string]any{"layers.1": {"shift": 100.0}},
		Tensors: map[string]map[string]any{"layers.0.bias": {"weight": []any{0.0, 1.0}}},
	}
	plan, err := recipe.Plan(op, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	recipeJSON, err := recipe.JSON()
	if err != nil {
		t.Fatal(err)
	}
	meta := src.Metadata()
	meta[RecipeMetadataKey] = recipeJSON
	out := filepath.Join(dir, "out")
	var progress []int
	rep, err := StreamMerge(context.Background(), plan, src, out, StreamOptions{Workers: 2, MaxShardBytes: 20, Metadata: meta,
		Progress: func(done, total int) { progress = append(progress, done*100+total) }})
	if err != nil {
		t.Fatal(err)
	}
	if prepares != 1 {
		t.Errorf("Prepare ran %d times, want 1", prepares)
	}
	if want := []int{105, 205, 305, 405, 505}; !slices.Equal(progress, want) {
		t.Errorf("progress = %v, want %v", progress, want)
	}
	// 3 mergeable tensors seen by Prepare: every merged value gets +3.
	want := map[string][]float32{
		"layers.0.weight": {1 + 1 - 0.1 + 3, 2 + 2 - 0.2 + 3, 3 + 3 - 0.3 + 3, 4 + 4 - 0.4 + 3, 5 + 5 - 0.5 + 3, 6 + 6 - 0.6 + 3},
		"layers.0.bias":   {0.5 + 0 + 2 + 3, -0.5 + 0 + 3 + 3},
		"layers.1.weight": {10 - 2 - 4 + 100 + 3, 20 + 0.5 - 5 + 100 + 3},
		"heads.a.weight":  {7, 8, 9, 10},
		"heads.b.weight":  {-1, -2, -3},
	}
	got, gotMeta := loadTensors(t, out)
	if len(got) != len(want) {
		t.Fatalf("output has %d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		for e := range w {
			if math.Abs(float64(g.Data[e]-w[e])) > 1e-5 {
				t.Errorf("%s[%d] = %g, want %g", name, e, g.Data[e], w[e])
			}
		}
	}
	if gotMeta["evomerge.spec"] != `{"arch":"mlp"}` || gotMeta["origin"] != "base" {
		t.Errorf("base metadata not carried over: %v", gotMeta)
	}
	back, ok, err := RecipeFromMetadata(gotMeta)
	if err != nil || !ok {
		t.Fatalf("recipe not recorded: ok=%v err=%v", ok, err)
	}
	if back.Method != "streamtest" || len(back.Models) != 2 || back.Models[1].Path != models[1] {
		t.Errorf("recorded recipe = %+v", back)
	}
	// Small shards: several files plus the index.
	if len(rep.Files) < 3 || filepath.Base(rep.Files[len(rep.Files)-1]) != checkpoint.IndexFileName {
		t.Errorf("files = %v, want several shards and an index", rep.Files)
	}
	if rep.Tensors != 5 || rep.LargestTensor != 6 || rep.Workers != 2 {
		t.Errorf("report = %+v", rep)
	}
	if rep.BufferBound != 2*4*6*4 {
		t.Errorf("buffer bound = %d, want workers·(inputs+1)·largest·4 = %d", rep.BufferBound, 2*4*6*4)
	}
	if rep.InputBytes != 3*(6+2+2)*4 || rep.PrepareBytes != rep.InputBytes {
		t.Errorf("input bytes = %d, prepare bytes = %d, want %d", rep.InputBytes, rep.PrepareBytes, 3*(6+2+2)*4)
	}
}

// randomInputs writes a base and n models with tensors of assorted sizes,
// some models sharded or stored as BF16.
func randomInputs(t *testing.T, dir string, n int) (base string, models []string) {
	shapes := []struct {
		name  string
		shape []int
	}{
		{"embed.weight", []int{50, 16}},
		{"layers.0.weight", []int{300, 400}},
		{"layers.0.bias", []int{300}},
		{"layers.1.weight", []int{64, 300}},
		{"layers.2.weight", []int{7}},
		{"layers.10.weight", []int{33, 65}},
		{"norm.weight", []int{64}},
		{"heads.t0.weight", []int{10, 64}},
	}
	gen := func(who string, scale float32) []checkpoint.Tensor {
		r := rng.New(7, "stream-test", who)
		var ts []checkpoint.Tensor
		for _, s := range shapes {
			x := tensorOf(s.name, s.shape)
			x.Data = make([]float32, TensorMeta{Shape: x.Shape}.NumElements())
			for i := range x.Data {
				x.Data[i] = scale * float32(r.NormFloat64())
			}
			ts = append(ts, x)
		}
		return ts
	}
	base = filepath.Join(dir, "base.safetensors")
	writeCheckpoint(t, base, gen("base", 1), map[string]string{"k": "v"}, checkpoint.F32, 0)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("m%d", i))
		dt := checkpoint.F32
		if i%2 == 1 {
			dt = checkpoint.BF16
		}
		ts := gen(fmt.Sprint("m", i), 1.1)
		writeCheckpoint(t, p, ts, nil, dt, 200_000)
		models = append(models, p)
	}
	return base, models
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// Output bytes must not depend on the number of workers, and must equal the
// in-memory merge of the same inputs.
func TestStreamMergeBitIdenticalAcrossWorkers(t *testing.T) {
	dir := t.TempDir()
	base, models := randomInputs(t, dir, 3)
	reg := Builtin()
	for _, method := range []string{"linear", "task_arithmetic", "ties", "dare"} {
		op, err := reg.Get(method)
		if err != nil {
			t.Logf("%s not registered: %v", method, err)
			continue
		}
		t.Run(method, func(t *testing.T) {
			var first map[string][]byte
			for _, workers := range []int{1, 2, 3} {
				src, err := OpenCheckpointSource(base, models)
				if err != nil {
					t.Fatal(err)
				}
				plan, err := NewPlan(op, src, Settings{}, PlanOptions{Seed: 11})
				if err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, fmt.Sprintf("%s-w%d", method, workers))
				if _, err := StreamMerge(context.Background(), plan, src, out, StreamOptions{Workers: workers, MaxShardBytes: 300_000}); err != nil {
					t.Fatal(err)
				}
				src.Close()
				files := readAll(t, out)
				if first == nil {
					first = files
					continue
				}
				if len(files) != len(first) {
					t.Fatalf("workers=%d wrote %d files, workers=1 wrote %d", workers, len(files), len(first))
				}
				for name, b := range first {
					if !bytes.Equal(files[name], b) {
						t.Errorf("workers=%d: %s differs from workers=1", workers, name)
					}
				}
			}
			// Same as merging everything in memory.
			baseTs, _, _ := checkpoint.LoadAll(base)
			var modelTs [][]checkpoint.Tensor
			for _, m := range models {
				ts, _, err := checkpoint.LoadAll(m)
				if err != nil {
					t.Fatal(err)
				}
				modelTs = append(modelTs, ts)
			}
			mem, err := NewMemSource(baseTs, modelTs...)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := NewPlan(op, mem, Settings{}, PlanOptions{Seed: 11})
			if err != nil {
				t.Fatal(err)
			}
			streamed, _ := loadTensors(t, filepath.Join(dir, method+"-w2"))
			err = MergeAll(context.Background(), plan, mem,
				func(m TensorMeta) []float32 { return make([]float32, m.NumElements()) },
				func(m TensorMeta, dst []float32) error {
					if !slices.Equal(streamed[m.Name].Data, dst) {
						return fmt.Errorf("tensor %s differs between streaming and in-memory merge", m.Name)
					}
					return nil
				})
			if err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStreamMergeMissingTensor(t *testing.T) {
	dir := t.TempDir()
	base, models := handInputs(t, dir)
	m3 := filepath.Join(dir, "m3.safetensors")
	writeCheckpoint(t, m3, []checkpoint.Tensor{
		tensorOf("layers.0.weight", []int{2, 3}, 1, 1, 1, 1, 1, 1),
		tensorOf("layers.0.bias", []int{2}, 1, 1),
	}, nil, checkpoint.F32, 0)
	src, err := OpenCheckpointSource(base, append(models, m3))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	plan, err := NewPlan(streamTestOp{}, src, Settings{}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	_, err = StreamMerge(context.Background(), plan, src, out, StreamOptions{})
	if err == nil || !strings.Contains(err.Error(), `"layers.1.weight"`) || !strings.Contains(err.Error(), "model 3 ("+m3) {
		t.Fatalf("error = %v, want one naming layers.1.weight and model 3", err)
	}
	if _, statErr := os.Stat(out); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("output directory exists after a failed merge: %v", statErr)
	}
	// Declaring "layers.1." per-task copies it from its owner instead.
	tasks := TaskTensors{Patterns: []string{"heads.", "layers.1."}}
	plan, err = NewPlan(streamTestOp{}, src, Settings{}, PlanOptions{TaskTensors: &tasks})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StreamMerge(context.Background(), plan, src, out, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := loadTensors(t, out)
	if d := got["layers.1.weight"].Data; !slices.Equal(d, []float32{-1, 0.25}) {
		t.Errorf("per-task layers.1.weight = %v, want model 1's [-1 0.25]", d)
	}
}

func TestStreamMergeMissingFromBase(t *testing.T) {
	dir := t.TempDir()
	_, models := handInputs(t, dir)
	base := filepath.Join(dir, "small-base.safetensors")
	writeCheckpoint(t, base, []checkpoint.Tensor{
		tensorOf("layers.0.weight", []int{2, 3}, 1, 1, 1, 1, 1, 1),
		tensorOf("layers.0.bias", []int{2}, 1, 1),
	}, nil, checkpoint.F32, 0)
	src, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	plan, err := NewPlan(streamTestOp{}, src, Settings{}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = StreamMerge(context.Background(), plan, src, filepath.Join(dir, "out"), StreamOptions{})
	if err == nil || !strings.Contains(err.Error(), "base "+base) || !strings.Contains(err.Error(), `"layers.1.weight"`) {
		t.Fatalf("error = %v, want one naming the base and layers.1.weight", err)
	}
}

func TestCheckpointSourceShapeMismatch(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.safetensors")
	b := filepath.Join(dir, "b.safetensors")
	writeCheckpoint(t, a, []checkpoint.Tensor{tensorOf("layers.0.weight", []int{2, 2}, 1, 2, 3, 4)}, nil, checkpoint.F32, 0)
	writeCheckpoint(t, b, []checkpoint.Tensor{tensorOf("layers.0.weight", []int{4}, 1, 2, 3, 4)}, nil, checkpoint.F32, 0)
	_, err := OpenCheckpointSource("", []string{a, b})
	if err == nil || !strings.Contains(err.Error(), `"layers.0.weight"`) || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Fatalf("error = %v, want one naming the tensor and both files", err)
	}
	if _, err := OpenCheckpointSource("", []string{filepath.Join(dir, "nope")}); err == nil || !strings.Contains(err.Error(), "model 1") {
		t.Errorf("missing file: error = %v, want one naming model 1", err)
	}
}

func TestStreamMergeCancelledLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	base, models := randomInputs(t, dir, 2)
	src, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	plan, err := NewPlan(streamTestOp{}, src, Settings{}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = StreamMerge(ctx, plan, src, out, StreamOptions{Workers: 1, MaxShardBytes: 100_000, Progress: func(done, total int) {
		if done == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 0 {
		t.Errorf("cancelled merge left %d files in %s: %v", len(entries), out, entries)
	}
	// The directory existed before, so it is kept (empty); it can be reused.
	if _, err := StreamMerge(context.Background(), plan, src, out, StreamOptions{}); err != nil {
		t.Fatalf("merge into the emptied directory: %v", err)
	}
	// Now it holds a checkpoint: a second merge there is refused.
	_, err = StreamMerge(context.Background(), plan, src, out, StreamOptions{})
	if err == nil || !strings.Contains(err.Error(), "already holds a checkpoint") {
		t.Errorf("error = %v, want a refusal to overwrite", err)
	}
}

// A merge error in one worker stops the others and removes the output.
func TestStreamMergeOperatorErrorAborts(t *testing.T) {
	dir := t.TempDir()
	base, models := randomInputs(t, dir, 2)
	src, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	op, err := Builtin().Get("linear")
	if err != nil {
		t.Skip("linear not registered")
	}
	s := Settings{Tensors: map[string]Values{"layers.1.weight": {Models: map[string][]Value{"weight": {F(0), F(0)}}}}}
	plan, err := NewPlan(op, src, s, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	_, err = StreamMerge(context.Background(), plan, src, out, StreamOptions{Workers: 2})
	if err == nil || !strings.Contains(err.Error(), "layers.1.weight") {
		t.Fatalf("error = %v, want the linear Σw=0 error for layers.1.weight", err)
	}
	if _, statErr := os.Stat(out); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("output left behind after an operator error")
	}
}

// Workers' conversion buffers survive tensors that some inputs lack (heads),
// so a steady-state load does not allocate; the base is skipped on request.
func TestCheckpointSourceLoadIntoReusesBuffers(t *testing.T) {
	dir := t.TempDir()
	base, models := handInputs(t, dir)
	src, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var in TensorInputs
	var bufs InputBuffers
	load := func(name string, withBase bool) {
		if err := src.LoadInto(name, &in, &bufs, withBase); err != nil {
			t.Fatal(err)
		}
	}
	load("layers.0.weight", true)
	first := &in.Models[1][0]
	load("heads.a.weight", true) // model 2 and the base lack it
	if in.Models[1] != nil || in.Base != nil || !slices.Equal(in.Models[0], []float32{7, 8, 9, 10}) {
		t.Fatalf("head load: base %v, models %v", in.Base, in.Models)
	}
	load("layers.0.weight", true)
	if &in.Models[1][0] != first {
		t.Error("model 2's buffer was reallocated after a tensor it lacks")
	}
	if !slices.Equal(in.Models[1], []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}) || !slices.Equal(in.Base, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("values: base %v, model 2 %v", in.Base, in.Models[1])
	}
	load("layers.0.bias", false)
	if in.Base != nil {
		t.Error("base read although not requested")
	}
	allocs := testing.AllocsPerRun(20, func() {
		load("layers.0.weight", true)
		load("heads.b.weight", true)
		load("layers.1.weight", true)
	})
	if allocs != 0 {
		t.Errorf("steady-state loads allocate %.1f times", allocs)
	}
}
