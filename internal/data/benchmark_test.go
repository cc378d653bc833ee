package data

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/nn"
)

func smokeOptions(t *testing.T, name, cache string) Options {
	t.Helper()
	r, err := SmokeRecipe(name)
	if err != nil {
		t.Fatal(err)
	}
	m := loadRealMNIST(t)
	return Options{CacheDir: cache, MNISTDir: m.Dir, Recipe: &r}
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
	if man.Version != MNISTTasksVersion || man.Recipe.Name != "smoke" || man.Interference == nil || len(man.Interference.LambdaSweep) != len(taLambdas) {
		t.Fatalf("manifest incomplete: %+v", man)
	}
	for _, split := range []Split{Validation, Test} {
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
		if e, bs := man.Accuracy[Test]["expert-"+task][task], man.Accuracy[Test]["base"][task]; e <= bs {
			t.Errorf("expert %s accuracy %.3f not above base %.3f", task, e, bs)
		}
	}

	// Member checkpoints reload with metadata and a single own head.
	expert, err := nn.Load(filepath.Join(wantDir, "expert-rotated.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if heads := expert.Heads(); len(heads) != 1 || heads[0] != "rotated" {
		t.Fatalf("expert heads %v, want [rotated]", heads)
	}

	// Evaluating an expert reproduces the manifest's figures; other heads are borrowed.
	s, err := b.EvaluateFile(ctx, filepath.Join(wantDir, "expert-rotated.safetensors"), Test)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range s.Tasks {
		if ts.Accuracy != man.Accuracy[Test]["expert-rotated"][ts.Task] {
			t.Fatalf("task %s: evaluate %.4f, manifest %.4f", ts.Task, ts.Accuracy, man.Accuracy[Test]["expert-rotated"][ts.Task])
		}
		wantSource := HeadFromExpert
		if ts.Task == "rotated" {
			wantSource = HeadFromModel
			if ts.Normalized == nil || *ts.Normalized != 1 {
				t.Fatalf("expert's normalized accuracy on its own task = %v, want 1", ts.Normalized)
			}
		}
		if ts.HeadSource != wantSource || ts.Examples != 200 {
			t.Fatalf("task %s: head %s examples %d", ts.Task, ts.HeadSource, ts.Examples)
		}
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
