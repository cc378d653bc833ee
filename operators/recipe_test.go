package operators

import (
	"strings"
	"testing"
)

func recipeModels(n int) []RecipeModel {
	ms := make([]RecipeModel, n)
	for i := range ms {
		ms[i] = RecipeModel{Name: string(rune('a' + i)), Path: "p"}
	}
	return ms
}

func TestRecipeSettingsLevels(t *testing.T) {
	r := &Recipe{
		Method: "streamtest",
		Models: recipeModels(3),
		Params: map[string]any{"shift": int64(2), "mode": "other", "steps": 3.0},
		Groups: map[string]map[string]any{
			"layers.1": {"weight": []any{1.0, 2.0, 3.0}},
		},
		Tensors: map[string]map[string]any{
			"layers.1.bias": {"weight": 0.5, "shift": -1.0},
		},
	}
	r.Models[1].Params = map[string]any{"weight": 4.0}
	s, err := r.Settings(streamTestOp{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(streamTestOp{}.Params(), s, []string{"layers.0.weight", "layers.1.weight", "layers.1.bias"}, 3, func(n string) string {
		return n[:strings.LastIndexByte(n, '.')]
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tensor  string
		weights []float64
		shift   float64
	}{
		{"layers.0.weight", []float64{1, 4, 1}, 2}, // models[1].params.weight; others keep the default 1
		{"layers.1.weight", []float64{1, 2, 3}, 2}, // group array
		{"layers.1.bias", []float64{0.5, 0.5, 0.5}, -1},
	}
	for _, c := range cases {
		p := res.For(c.tensor)
		for i, w := range c.weights {
			if got := p.ModelFloat("weight", i); got != w {
				t.Errorf("%s weight[%d] = %g, want %g", c.tensor, i, got, w)
			}
		}
		if got := p.Float("shift"); got != c.shift {
			t.Errorf("%s shift = %g, want %g", c.tensor, got, c.shift)
		}
		if p.Choice("mode") != "other" || p.Int("steps") != 3 {
			t.Errorf("%s mode/steps = %q/%d", c.tensor, p.Choice("mode"), p.Int("steps"))
		}
	}
}

func TestRecipeSettingsErrors(t *testing.T) {
	r := &Recipe{
		Method: "streamtest",
		Models: recipeModels(2),
		Params: map[string]any{
			"wieght": 1.0,             // unknown
			"shift":  []any{1.0, 2.0}, // global given as array
			"weight": []any{1.0},      // wrong length
			"steps":  2.5,             // not an integer
			"mode":   "fancy",         // not a choice
		},
		Groups:  map[string]map[string]any{"layers.0": {"mode": "plain"}}, // not layered
		Tensors: map[string]map[string]any{"x.weight": {"weight": []any{1.0, 99.0}}},
	}
	r.Models[0].Params = map[string]any{"shift": 1.0, "weight": 2.0}
	_, err := r.Settings(streamTestOp{})
	es, ok := AsRecipeErrors(err)
	if !ok {
		t.Fatalf("error = %v, want RecipeErrors", err)
	}
	want := map[string]string{
		"params.wieght":              "no parameter",
		"params.shift":               "is global",
		"params.weight":              "one per model (2)",
		"params.steps":               "not an integer",
		"params.mode":                "not allowed",
		"groups.layers.0.mode":       "cannot vary per layer group",
		"tensors.x.weight.weight[1]": "out of range",
		"models[0].params.shift":     "global, not per model",
		"models[0].params.weight":    "also given under [params]",
	}
	got := map[string]string{}
	for _, e := range es {
		got[e.Key] = e.Err.Error()
	}
	for key, frag := range want {
		if !strings.Contains(got[key], frag) {
			t.Errorf("key %s: error %q, want it to contain %q", key, got[key], frag)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(got), len(want), err)
	}
}

func TestRecipeJSONRoundTrip(t *testing.T) {
	r := &Recipe{
		Method: "streamtest", Seed: 1<<63 + 5, Base: "b",
		Models:      recipeModels(2),
		Params:      map[string]any{"weight": []any{0.25, int64(2)}, "steps": int64(4)},
		TaskTensors: []string{"heads.", "classifier.*"},
	}
	text, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, ok, err := RecipeFromMetadata(map[string]string{RecipeMetadataKey: text})
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if back.Seed != r.Seed || back.Base != "b" || len(back.Models) != 2 || back.TaskTensors[1] != "classifier.*" {
		t.Errorf("round trip = %+v", back)
	}
	// Values decoded from JSON (float64) resolve like the originals.
	s1, err1 := r.Settings(streamTestOp{})
	s2, err2 := back.Settings(streamTestOp{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if s1.Default.Models["weight"][1] != s2.Default.Models["weight"][1] || s1.Default.Global["steps"] != s2.Default.Global["steps"] {
		t.Errorf("settings differ after round trip: %+v vs %+v", s1.Default, s2.Default)
	}
	if _, ok, _ := RecipeFromMetadata(map[string]string{}); ok {
		t.Error("empty metadata reported a recipe")
	}
	if _, _, err := RecipeFromMetadata(map[string]string{RecipeMetadataKey: "{"}); err == nil {
		t.Error("broken JSON accepted")
	}
}
