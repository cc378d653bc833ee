package operators

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// A MappedSource gives the values a CheckpointSource converts, aliases the
// F32 inputs instead of copying them (two loads of one tensor share its
// memory), converts the BF16 input into buffers of its own, and merges to
// the same bits.
func TestMappedSourceReadsInPlace(t *testing.T) {
	dir := t.TempDir()
	base, models := handInputs(t, dir) // base F32 (sharded), m1 BF16, m2 F32
	cs, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ms := NewMappedSource(cs)
	if ms.NumModels() != 2 || !ms.HasBase() || len(ms.Tensors()) != len(cs.Tensors()) {
		t.Fatalf("mapped source: %d models, base %v, %d tensors", ms.NumModels(), ms.HasBase(), len(ms.Tensors()))
	}
	same := func(what string, a, b []float32) {
		t.Helper()
		if (a == nil) != (b == nil) || len(a) != len(b) {
			t.Fatalf("%s: %v vs %v", what, a, b)
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: %v vs %v", what, i, a[i], b[i])
			}
		}
	}
	var want, got, again TensorInputs
	for _, meta := range cs.Tensors() {
		if err := cs.Load(meta.Name, &want); err != nil {
			t.Fatal(err)
		}
		if err := ms.Load(meta.Name, &got); err != nil {
			t.Fatal(err)
		}
		var bufs InputBuffers
		if err := ms.LoadInto(meta.Name, &again, &bufs, true); err != nil {
			t.Fatal(err)
		}
		same(meta.Name+" base", got.Base, want.Base)
		for i := range want.Models {
			same(meta.Name+" model", got.Models[i], want.Models[i])
		}
		if got.Base != nil && &got.Base[0] != &again.Base[0] {
			t.Errorf("%s: the F32 base was copied", meta.Name)
		}
		if m := got.Models[1]; m != nil && &m[0] != &again.Models[1][0] {
			t.Errorf("%s: F32 model 2 was copied", meta.Name)
		}
		if m := got.Models[0]; m != nil && &m[0] == &again.Models[0][0] {
			t.Errorf("%s: BF16 model 1 shares a buffer across TensorInputs", meta.Name)
		}
	}
	for _, op := range []Operator{Linear(), TaskArithmetic(), TIES()} {
		s := globals()
		if op.Name() == "ties" {
			s = globals("trim_scope", "model")
		}
		a := mergeAll(t, op, cs, s, PlanOptions{})
		b := mergeAll(t, op, ms, s, PlanOptions{})
		for name, v := range a {
			same(op.Name()+" "+name, b[name], v)
		}
	}
}

// Exporting through a MappedSource writes the bytes a CheckpointSource
// export writes.
func TestMappedSourceStreamMerge(t *testing.T) {
	dir := t.TempDir()
	base, models := handInputs(t, dir)
	cs, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	out := map[string][]byte{}
	for name, src := range map[string]Source{"checkpoint": cs, "mapped": NewMappedSource(cs)} {
		p, err := NewPlan(TaskArithmetic(), src, globals("lambda", 0.5), PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o := filepath.Join(dir, "out-"+name)
		if _, err := StreamMerge(context.Background(), p, src, o, StreamOptions{Workers: 2}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(o, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	if string(out["checkpoint"]) != string(out["mapped"]) {
		t.Error("the merge through a MappedSource differs from the one through its CheckpointSource")
	}
}

// Steady-state loads allocate nothing, whether the buffers are the
// caller's (LoadInto) or kept with the TensorInputs (Load), across tensors
// some inputs lack and dtypes that convert or alias.
func TestMappedSourceLoadDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	base, models := handInputs(t, dir)
	cs, err := OpenCheckpointSource(base, models)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ms := NewMappedSource(cs)
	var in, in2 TensorInputs
	var bufs InputBuffers
	load := func() {
		for _, name := range []string{"layers.0.weight", "heads.a.weight", "layers.1.weight", "heads.b.weight"} {
			if err := ms.Load(name, &in); err != nil {
				t.Fatal(err)
			}
			if err := ms.LoadInto(name, &in2, &bufs, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	load()
	if a := testing.AllocsPerRun(20, load); a != 0 {
		t.Errorf("steady-state loads allocate %.1f times", a)
	}
}
