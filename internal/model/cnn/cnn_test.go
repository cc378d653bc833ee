package cnn

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/model"
)

var testHeads = []model.Head{{Name: "even", Classes: 2}, {Name: "digit", Classes: 5}}

// The metadata is exactly what evomerge has always written for a CNN, so
// existing checkpoints load unchanged.
func TestMetadataIsTheEvomergeSpec(t *testing.T) {
	c := Config{Input: [3]int{2, 8, 8}, Channels: []int{3, 4}, Hidden: []int{6}, Heads: testHeads}
	want := `{"arch":"cnn","input":[2,8,8],"layers":[{"kind":"conv2d","out":3,"kernel":3,"stride":1,"padding":1},{"kind":"relu"},{"kind":"maxpool","kernel":2,"stride":2},{"kind":"conv2d","out":4,"kernel":3,"stride":1,"padding":1},{"kind":"relu"},{"kind":"maxpool","kernel":2,"stride":2},{"kind":"flatten"},{"kind":"linear","out":6},{"kind":"relu"}],"heads":[{"name":"even","classes":2},{"name":"digit","classes":5}]}`
	meta := c.Metadata()
	if len(meta) != 1 || meta[model.SpecMetadataKey] != want {
		t.Fatalf("metadata %v, want %s: %s", meta, model.SpecMetadataKey, want)
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
	c := Config{Input: [3]int{1, 8, 8}, Channels: []int{4, 6}, Hidden: []int{5}, Heads: []model.Head{{Name: "b", Classes: 3}, {Name: "a", Classes: 2}}}
	if got := c.Groups(); !slices.Equal(got, []string{"layers.0", "layers.3", "layers.7"}) {
		t.Fatalf("groups %v", got)
	}
	net, err := c.New(1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range net.Params() {
		got = append(got, fmt.Sprintf("%s:%v", p.Name, p.Shape))
	}
	want := []string{
		"heads.a.bias:[2]", "heads.a.weight:[2 5]", "heads.b.bias:[3]", "heads.b.weight:[3 5]",
		"layers.0.bias:[4]", "layers.0.weight:[4 1 3 3]", "layers.3.bias:[6]", "layers.3.weight:[6 4 3 3]",
		"layers.7.bias:[5]", "layers.7.weight:[5 24]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("params:\n got %v\nwant %v", got, want)
	}
	if !reflect.DeepEqual(net.Config(), model.Config(c)) || net.InputSize() != 64 {
		t.Fatalf("network config %+v, input size %d", net.Config(), net.InputSize())
	}
	other := c.WithHeads(nil).(Config)
	other.Channels[0] = 99
	if c.Channels[0] != 4 || other.Backbone() == c.Backbone() {
		t.Fatal("WithHeads shares the channels, or Backbone ignores them")
	}
}

func TestDetect(t *testing.T) {
	detect := func(spec string) error {
		_, err := Architecture().Detect(map[string]string{model.SpecMetadataKey: spec}, nil)
		return err
	}
	var u *model.Unrecognized
	if err := detect(`{"arch":"mlp","input":[1,6,6],"layers":[{"kind":"flatten"}],"heads":[]}`); !errors.As(err, &u) || !strings.Contains(err.Error(), `names architecture "mlp"`) {
		t.Fatalf("mlp spec: %v", err)
	}
	conv := `{"kind":"conv2d","out":3,"kernel":3,"stride":1,"padding":1}`
	for _, tc := range []struct{ spec, want string }{
		{`{"arch":"cnn","input":[1,8,8],"layers":[],"heads":[]}`, "no flatten after the convolution blocks"},
		{`{"arch":"cnn","input":[1,8,8],"layers":[{"kind":"conv2d","out":3,"kernel":3,"stride":2,"padding":1},{"kind":"relu"},{"kind":"maxpool","kernel":2,"stride":2},{"kind":"flatten"}],"heads":[]}`, "layer 0 (conv2d) is not a 3×3 convolution with stride 1 and padding 1"},
		{`{"arch":"cnn","input":[1,8,8],"layers":[` + conv + `,{"kind":"gelu"}],"heads":[]}`, "layer 1 is not the relu after convolution 0"},
		{`{"arch":"cnn","input":[1,8,8],"layers":[` + conv + `,{"kind":"relu"},{"kind":"avgpool","kernel":2}],"heads":[]}`, "layer 2 is not the 2×2 max pooling"},
		{`{"arch":"cnn","input":[1,8,8],"layers":[` + conv + `,{"kind":"relu"},{"kind":"maxpool","kernel":2,"stride":2},{"kind":"layernorm"}],"heads":[]}`, "layer 3 (layernorm) is not a convolution or a plain flatten"},
		{`{"arch":"cnn","input":[1,8,8],"layers":[{"kind":"flatten"},{"kind":"linear","out":4},{"kind":"gelu"}],"heads":[]}`, "layer 2 is not the relu after linear layer 1"},
		{`{"arch":"cnn","input":[1,2,2],"layers":[` + conv + `,{"kind":"relu"},{"kind":"maxpool","kernel":2,"stride":2},` + conv + `,{"kind":"relu"},{"kind":"maxpool","kernel":2,"stride":2},{"kind":"flatten"}],"heads":[]}`, "does not fit the 1×1 input"},
	} {
		err := detect(tc.spec)
		if err == nil || errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
	if err := detect(`{"arch":"cnn","input":[1,8,8],"layers":[{"kind":"flatten"}],"heads":[]}`); err != nil {
		t.Fatalf("a cnn without convolutions or heads: %v", err)
	}
}
