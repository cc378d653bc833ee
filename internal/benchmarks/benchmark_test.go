package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/internal/model/mlp"
)

func smokeOptions(t *testing.T, name, cache string) Options {
	t.Helper()
	r, err := SmokeRecipe(name)
	if err != nil {
		t.Fatal(err)
	}
	m := loadRealMNIST(t)
	return Options{CacheDir: cache, MNIST: m, Recipe: &r}
}

func TestPrepareMNISTTasksSmoke(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	opt := smokeOptions(t, MNISTTasksName, cache)
	var log bytes.Buffer
	opt.Log = &log
	b, err := Prepare(ctx, MNISTTasksName, opt)
	if err != nil {
		t.Fatal(err)
	}
	wantDir := filepath.Join(cache, "mnist-tasks-"+MNISTTasksVersion)
	if b.Dir != wantDir {
		t.Fatalf("cache dir %s, want %s", b.Dir, wantDir)
	}
	if len(b.Members) != 5 {
		t.Fatalf("%d members, want base + 4 experts", len(b.Members))
	}
	for _, mem := range b.Members {
		if _, err := os.Stat(mem.Path); err != nil {
			t.Fatalf("member %s not written: %v", mem.Name, err)
		}
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("cache root holds %d entries (temporary directories left behind?)", len(entries))
	}
	raw, err := os.ReadFile(filepath.Join(wantDir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var man Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	if man.Version != MNISTTasksVersion || man.Recipe.Name != "smoke" || man.Interference == nil || len(man.Interference.LambdaSweep) != len(opt.Recipe.Lambdas) {
		t.Fatalf("manifest incomplete: %+v", man)
	}
	for _, split := range []data.Split{data.Validation, data.Test} {
		for _, mem := range b.Members {
			for _, task := range b.TaskNames() {
				acc, ok := man.Accuracy[split][mem.Name][task]
				if !ok || acc < 0 || acc > 1 {
					t.Fatalf("accuracy of %s on %s/%s: %v %v", mem.Name, task, split, acc, ok)
				}
			}
		}
	}
	// Experts fit their task better than the base does (even in the smoke recipe,
	// fine-tuning on rotated/permuted images beats the plain-digit base there).
	for _, task := range []string{"rotated", "permuted"} {
		if e, bs := man.Accuracy[data.Test]["expert-"+task][task], man.Accuracy[data.Test]["base"][task]; e <= bs {
			t.Errorf("expert %s accuracy %.3f not above base %.3f", task, e, bs)
		}
	}

	// Member checkpoints reload with metadata and a single own head.
	expert, err := all.Load(filepath.Join(wantDir, "expert-rotated.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if heads := expert.Heads(); len(heads) != 1 || heads[0] != "rotated" {
		t.Fatalf("expert heads %v, want [rotated]", heads)
	}

	// Evaluating an expert reproduces the manifest's figures; other heads are borrowed.
	s, err := b.EvaluateFile(ctx, filepath.Join(wantDir, "expert-rotated.safetensors"), data.Test, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range s.Tasks {
		if ts.Accuracy != man.Accuracy[data.Test]["expert-rotated"][ts.Task] {
			t.Fatalf("task %s: evaluate %.4f, manifest %.4f", ts.Task, ts.Accuracy, man.Accuracy[data.Test]["expert-rotated"][ts.Task])
		}
		wantSource := HeadFromExpert
		if ts.Task == "rotated" {
			wantSource = HeadFromModel
			if ts.Normalized == nil || *ts.Normalized != 1 {
				t.Fatalf("expert's normalized accuracy on its own task = %v, want 1", ts.Normalized)
			}
		}
		if ts.HeadSource != wantSource || ts.Examples != 100 {
			t.Fatalf("task %s: head %s examples %d", ts.Task, ts.HeadSource, ts.Examples)
		}
	}

	// A model without the tasks' heads borrows every expert head; its backbone is kept.
	foreign, err := MNISTTasksConfig([]model.Head{{Name: "other", Classes: 5}}).New(9)
	if err != nil {
		t.Fatal(err)
	}
	withHeads, sources, err := b.WithTaskHeads(foreign)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sources, []string{HeadFromExpert, HeadFromExpert, HeadFromExpert, HeadFromExpert}) {
		t.Fatalf("head sources %v", sources)
	}
	if !slices.Equal(withHeads.Heads(), b.TaskNames()) {
		t.Fatalf("heads %v, want %v", withHeads.Heads(), b.TaskNames())
	}
	if !slices.Equal(withHeads.Param("layers.1.weight").Data, foreign.Param("layers.1.weight").Data) {
		t.Fatal("backbone not taken from the evaluated model")
	}
	mod3Expert, err := b.LoadMember("expert-mod3")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(withHeads.Param("heads.mod3.bias").Data, mod3Expert.Param("heads.mod3.bias").Data) {
		t.Fatal("mod3 head not taken from the mod3 expert")
	}
	// A model of another architecture is rejected with an explanation.
	alien, err := M2N2Config().New(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Evaluate(ctx, alien, data.Test); err == nil || !strings.Contains(err.Error(), "does not belong to benchmark mnist-tasks") {
		t.Fatalf("alien model: error %v", err)
	}
	// A cache built with another recipe is not reused.
	other := *opt.Recipe
	other.Seed++
	def, _ := lookupDefinition(MNISTTasksName)
	if _, err := readManifest(wantDir, def, other); err == nil || !strings.Contains(err.Error(), "recipe") {
		t.Fatalf("recipe mismatch not detected: %v", err)
	}

	// A second Prepare reads the cache without training.
	log.Reset()
	again, err := Prepare(ctx, MNISTTasksName, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "using cached") {
		t.Fatalf("second Prepare did not use the cache: %s", log.String())
	}
	if again.Manifest.Members[1].SHA256 != man.Members[1].SHA256 {
		t.Fatal("cached members differ")
	}

	// A damaged member file triggers a rebuild with identical results (determinism).
	if err := os.WriteFile(filepath.Join(wantDir, "expert-digits.safetensors"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	rebuilt, err := Prepare(ctx, MNISTTasksName, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "damaged") {
		t.Fatalf("damaged cache not reported: %s", log.String())
	}
	for i, mem := range rebuilt.Manifest.Members {
		if mem.SHA256 != man.Members[i].SHA256 {
			t.Fatalf("rebuilt %s differs from the first build: training is not deterministic", mem.Name)
		}
	}
}

func TestCombine(t *testing.T) {
	spec := mlp.Config{Input: [3]int{1, 1, 2}, Hidden: []int{2}, Heads: []model.Head{{Name: "a", Classes: 2}}}
	m1, _ := spec.New(1)
	m2, _ := spec.New(2)
	got, err := combine(spec, []model.Network{m1, m2}, []float64{0.25, 0.75}, func(string) model.Network { return m2 })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got.Params() {
		a, b := m1.Param(p.Name).Data, m2.Param(p.Name).Data
		for i, v := range p.Data {
			want := float32(0.25*float64(a[i]) + 0.75*float64(b[i]))
			if IsHeadTensor(p.Name) {
				want = b[i]
			}
			if v != want {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, i, v, want)
			}
		}
	}
	if _, err := combine(spec, []model.Network{m1}, []float64{1}, func(string) model.Network { return nil }); err == nil {
		t.Fatal("missing head source accepted")
	}
}

func TestPrepareErrors(t *testing.T) {
	if _, err := Prepare(context.Background(), "cifar", Options{CacheDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), MNISTTasksName) {
		t.Fatalf("unknown benchmark error %v should list the built-in ones", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cache := t.TempDir()
	if _, err := Prepare(ctx, MNISTTasksName, smokeOptions(t, MNISTTasksName, cache)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Prepare: %v", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Fatalf("cancelled Prepare left %d entries in the cache", len(entries))
	}
	t.Setenv(CacheEnv, "/some/where")
	if root, err := DefaultCacheRoot(); err != nil || root != filepath.Join("/some/where", "bench") {
		t.Fatalf("DefaultCacheRoot = %q, %v", root, err)
	}
}
