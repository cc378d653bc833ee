package mlp

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/layers"
)

var testHeads = []model.Head{{Name: "even", Classes: 2}, {Name: "digit", Classes: 5}}

// The metadata is exactly what evomerge has always written for an MLP, so
// existing checkpoints and benchmark caches load unchanged.
func TestMetadataIsTheEvomergeSpec(t *testing.T) {
	c := Config{Input: [3]int{1, 6, 6}, Hidden: []int{12, 8}, Heads: testHeads}
	want := `{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"},{"kind":"linear","out":12},{"kind":"relu"},{"kind":"linear","out":8},{"kind":"relu"}],"heads":[{"name":"even","classes":2},{"name":"digit","classes":5}]}`
	meta := c.Metadata()
	if len(meta) != 1 || meta[model.SpecMetadataKey] != want {
		t.Fatalf("metadata %v, want %s: %s", meta, model.SpecMetadataKey, want)
	}
	empty := Config{Input: [3]int{1, 6, 6}}
	if got := empty.Metadata()[model.SpecMetadataKey]; got != `{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"}],"heads":null}` {
		t.Fatalf("metadata without hidden layers or heads: %s", got)
	}
	back, err := Architecture().Detect(meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, model.Config(c)) {
		t.Fatalf("Detect gave %+v, want %+v", back, c)
	}
}

func TestConfigNamesAndGroups(t *testing.T) {
	c := Config{Input: [3]int{1, 6, 6}, Hidden: []int{12, 8}, Heads: testHeads}
	if got := c.Groups(); !slices.Equal(got, []string{"layers.1", "layers.3"}) {
		t.Fatalf("groups %v", got)
	}
	net, err := c.New(1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range net.Params() {
		names = append(names, p.Name)
	}
	want := []string{"heads.digit.bias", "heads.digit.weight", "heads.even.bias", "heads.even.weight", "layers.1.bias", "layers.1.weight", "layers.3.bias", "layers.3.weight"}
	if !slices.Equal(names, want) {
		t.Fatalf("params %v, want %v", names, want)
	}
	if w := net.Param("layers.3.weight"); !slices.Equal(w.Shape, []int{8, 12}) {
		t.Fatalf("layers.3.weight shape %v", w.Shape)
	}
	if !reflect.DeepEqual(net.Config(), model.Config(c)) || net.InputSize() != 36 {
		t.Fatalf("network config %+v, input size %d", net.Config(), net.InputSize())
	}
	other := c.WithHeads([]model.Head{{Name: "x", Classes: 3}}).(Config)
	other.Hidden[0] = 99
	if c.Hidden[0] != 12 || other.Backbone() == c.Backbone() {
		t.Fatal("WithHeads shares the hidden widths, or Backbone ignores them")
	}
	if c.WithHeads(nil).Backbone() != c.Backbone() {
		t.Fatal("Backbone depends on the heads")
	}
	if err := (Config{Input: [3]int{1, 6, 6}, Hidden: []int{4}}).Validate(); err == nil || !strings.Contains(err.Error(), "no heads") {
		t.Fatalf("config without heads: %v", err)
	}
}

func TestDetect(t *testing.T) {
	detect := func(spec string) error {
		_, err := Architecture().Detect(map[string]string{model.SpecMetadataKey: spec}, nil)
		return err
	}
	var u *model.Unrecognized
	if _, err := Architecture().Detect(map[string]string{"format": "pt"}, nil); !errors.As(err, &u) || !strings.Contains(err.Error(), "has no evomerge.spec metadata") {
		t.Fatalf("no spec: %v", err)
	}
	for _, tc := range []struct{ spec, want string }{
		{`{"arch":"cnn","input":[1,6,6],"layers":[{"kind":"flatten"}],"heads":[]}`, `names architecture "cnn"`},
		{`{not json`, "invalid JSON in metadata key evomerge.spec"},
	} {
		if err := detect(tc.spec); !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want model.Unrecognized containing %q", tc.spec, err, tc.want)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{`{"arch":"mlp","input":[1,6,6],"layers":[],"heads":[],"colour":"red"}`, `unknown field "colour"`},
		{`{"arch":"mlp","input":[1,6,6],"layers":[],"heads":[]}`, "layer 0 is not a plain flatten"},
		{`{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"},{"kind":"gelu"}],"heads":[]}`, "layer 1 (gelu) is not a linear layer"},
		{`{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"},{"kind":"linear","out":3}],"heads":[]}`, "layer 2 is not the relu after linear layer 1"},
		{`{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"},{"kind":"linear","out":0},{"kind":"relu"}],"heads":[]}`, "out = 0"},
		{`{"arch":"mlp","input":[0,6,6],"layers":[{"kind":"flatten"}],"heads":[]}`, "input[0] = 0"},
	} {
		err := detect(tc.spec)
		if err == nil || errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
	// A spec without heads is recognised: heads come from the tensors.
	if err := detect(`{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"}],"heads":[]}`); err != nil {
		t.Fatalf("spec without heads: %v", err)
	}
	if _, err := FromSpec(layers.Spec{Arch: "cnn"}); err == nil {
		t.Fatal("FromSpec accepted a cnn spec")
	}
}
