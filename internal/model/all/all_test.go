package all_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/internal/model/cnn"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
)

var heads = []model.Head{{Name: "even", Classes: 2}, {Name: "digit", Classes: 5}}

func configs() map[string]model.Config {
	return map[string]model.Config{
		"mlp": mlp.Config{Input: [3]int{1, 6, 6}, Hidden: []int{12, 8}, Heads: heads},
		"cnn": cnn.Config{Input: [3]int{2, 8, 8}, Channels: []int{3, 4}, Hidden: []int{6}, Heads: heads},
	}
}

func TestArchitecturesAreMLPThenCNN(t *testing.T) {
	var names []string
	for _, a := range all.Architectures() {
		names = append(names, a.Name())
	}
	if !slices.Equal(names, []string{"mlp", "cnn"}) {
		t.Fatalf("architectures %v, want [mlp cnn]", names)
	}
}

func TestSaveLoadRoundTripIsBitIdentical(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range configs() {
		m, err := cfg.New(21)
		if err != nil {
			t.Fatal(err)
		}
		r := rng.New(4, name)
		x := make([]float32, 5*m.InputSize())
		for i := range x {
			x[i] = float32(2*r.Float64() - 1)
		}
		path := filepath.Join(dir, name+".safetensors")
		if err := model.Save(path, m, map[string]string{"task": "unit-test"}); err != nil {
			t.Fatal(err)
		}
		loaded, err := all.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(loaded.Config(), m.Config()) || loaded.Config().Architecture() != name {
			t.Fatalf("%s: config changed:\n%+v\n%+v", name, loaded.Config(), m.Config())
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
		if meta["task"] != "unit-test" || meta[model.SpecMetadataKey] != cfg.Metadata()[model.SpecMetadataKey] {
			t.Fatalf("%s: metadata %v lacks the extra entry or the spec", name, meta)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	m, err := configs()["mlp"].New(21)
	if err != nil {
		t.Fatal(err)
	}
	base := model.Tensors(m)
	if _, err := all.Load(filepath.Join(t.TempDir(), "absent.safetensors")); err == nil {
		t.Error("Load of a missing file returned no error")
	}
	plain := filepath.Join(t.TempDir(), "plain.safetensors")
	if err := checkpoint.Write(plain, base, map[string]string{"format": "pt"}, checkpoint.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = all.Load(plain)
	if !errors.Is(err, model.ErrUnknownArchitecture) {
		t.Errorf("Load without spec metadata: error %v does not wrap model.ErrUnknownArchitecture", err)
	}
	for _, want := range []string{plain, "not of a known architecture (known: mlp, cnn)", "has no " + model.SpecMetadataKey + " metadata", "[format]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load without spec metadata: error %v, want one containing %q", err, want)
		}
	}
	for _, bad := range []struct{ spec, want string }{
		{"{not json", "invalid JSON in metadata key " + model.SpecMetadataKey},
		{`{"arch":"mlp","input":[1,6,6],"layers":[],"heads":[],"colour":"red"}`, `unknown field "colour"`},
		{`{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"}],"heads":[]}`, "tensor heads.digit.weight has shape [5 8] but the spec implies [5 36]"},
		{`{"arch":"transformer","input":[1,6,6],"layers":[],"heads":[]}`, `names architecture "transformer" (mlp, cnn)`},
		{`{"arch":"cnn","input":[1,6,6],"layers":[{"kind":"conv2d","out":2,"kernel":3,"stride":1,"padding":1},{"kind":"relu"},{"kind":"maxpool","kernel":2,"stride":2},{"kind":"flatten"}],"heads":[]}`, "tensor heads.digit.weight has shape [5 8] but the spec implies [5 18]"},
	} {
		path := filepath.Join(t.TempDir(), "bad.safetensors")
		if err := checkpoint.Write(path, base, map[string]string{model.SpecMetadataKey: bad.spec}, checkpoint.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := all.Load(path); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load with spec %s: error %v, want one naming the file and containing %q", bad.spec, err, bad.want)
		}
	}
	if err := model.Save(plain, m, map[string]string{model.SpecMetadataKey: "x"}); err == nil {
		t.Error("Save accepted extra metadata overriding the spec")
	}
}

// Detect takes the checkpoint's config file too; a config.json beside a
// checkpoint is read (and ignored by mlp and cnn).
func TestConfigFileIsRead(t *testing.T) {
	dir := t.TempDir()
	m, err := configs()["cnn"].New(3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.safetensors")
	if err := model.Save(path, m, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := model.ConfigFile(path); err != nil || b != nil {
		t.Fatalf("no config.json: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, model.ConfigFileName), []byte(`{"model_type":"bert"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, dir} {
		if b, err := model.ConfigFile(p); err != nil || string(b) != `{"model_type":"bert"}` {
			t.Fatalf("config.json of %s: %q, %v", p, b, err)
		}
	}
	if _, err := all.Load(path); err != nil {
		t.Fatal(err)
	}
}
