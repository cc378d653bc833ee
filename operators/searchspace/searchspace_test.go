package searchspace

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
)

func testSpecs() []operators.ParamSpec {
	return []operators.ParamSpec{
		{Name: "weight", Kind: operators.KindFloat, Scope: operators.ScopeModel, Min: -1, Max: 2, Default: operators.F(1), Layered: true},
		{Name: "density", Kind: operators.KindFloat, Scope: operators.ScopeModel, Min: 0, Max: 1, Default: operators.F(0.5), Layered: true},
		{Name: "lambda", Kind: operators.KindFloat, Scope: operators.ScopeGlobal, Min: 0, Max: math.Inf(1), Default: operators.F(1)},
		{Name: "k", Kind: operators.KindInt, Scope: operators.ScopeGlobal, Min: 1, Max: 10, Default: operators.I(3)},
		{Name: "normalize", Kind: operators.KindBool, Scope: operators.ScopeGlobal, Default: operators.B(true)},
		{Name: "method", Kind: operators.KindChoice, Scope: operators.ScopeGlobal, Choices: []string{"sum", "mean"}, Default: operators.C("mean")},
	}
}

func fp(x float64) *float64 { return &x }

func TestDerive(t *testing.T) {
	spec := Spec{
		Operator: "ties",
		Models:   []string{"m1", "m2"},
		Targets: []Target{
			{Param: "weight", PerModel: true, Groups: []string{"layers.0", "layers.1"}, Lower: fp(0), Upper: fp(1.5)},
			{Param: "density"},
			{Param: "lambda", Lower: fp(0.5), Upper: fp(2)},
			{Param: "normalize"},
			{Param: "method"},
			{Param: "k", Upper: fp(4)},
		},
		Fixed: operators.Settings{
			Default: operators.Values{Global: map[string]operators.Value{"density": operators.F(0.9), "k": operators.I(2)}},
			Groups:  map[string]operators.Values{"layers.1": {Global: map[string]operators.Value{"weight": operators.F(0.3)}}},
		},
	}
	space, m, err := Derive(testSpecs(), spec)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range space.Dims() {
		names = append(names, d.Name)
	}
	wantNames := []string{"layers.0/weight[m1]", "layers.0/weight[m2]", "layers.1/weight[m1]", "layers.1/weight[m2]", "density", "lambda", "normalize", "method", "k"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("names = %q\nwant %q", names, wantNames)
	}
	d := space.Dim(0)
	if d.Lower != 0 || d.Upper != 1.5 || d.Default != 1 || d.Kind != population.KindFloat {
		t.Errorf("weight dim = %+v", d)
	}
	if d := space.Dim(6); d.Kind != population.KindChoice || d.Default != 1 || !slices.Equal(d.Choices, []string{"false", "true"}) {
		t.Errorf("bool dim = %+v", d)
	}
	if d := space.Dim(7); d.Default != 1 || d.Upper != 1 {
		t.Errorf("choice dim = %+v", d)
	}
	if d := space.Dim(8); d.Kind != population.KindInt || d.Lower != 1 || d.Upper != 4 || d.Default != 3 {
		t.Errorf("int dim = %+v", d)
	}
	x := []float64{0.1, 0.2, 0.3, 0.4, 0.7, 1.25, 0, 0, 4}
	s, err := m.Settings(x)
	if err != nil {
		t.Fatal(err)
	}
	g0 := s.Groups["layers.0"].Models["weight"]
	if len(g0) != 2 || g0[0].Float != 0.1 || g0[1].Float != 0.2 {
		t.Errorf("layers.0 weight = %+v", g0)
	}
	g1 := s.Groups["layers.1"]
	if _, still := g1.Global["weight"]; still {
		t.Error("fixed single weight of layers.1 not replaced by per-model values")
	}
	if w := g1.Models["weight"]; w[0].Float != 0.3 || w[1].Float != 0.4 {
		t.Errorf("layers.1 weight = %+v", w)
	}
	if v := s.Default.Global["density"]; v.Float != 0.7 {
		t.Errorf("density = %+v (searched value must replace the fixed one)", v)
	}
	if v := s.Default.Global["normalize"]; v.Bool {
		t.Error("normalize should be false")
	}
	if v := s.Default.Global["method"]; v.Choice != "sum" {
		t.Errorf("method = %q", v.Choice)
	}
	if v := s.Default.Global["k"]; v.Float != 4 {
		t.Errorf("k = %v", v.Float)
	}
	// The fixed settings are not modified by Settings.
	if spec.Fixed.Groups["layers.1"].Global["weight"].Float != 0.3 || spec.Fixed.Default.Global["density"].Float != 0.9 {
		t.Error("Settings modified the caller's fixed settings")
	}
	// The result passes the operators' own validation.
	tensors := []string{"layers.0.w", "layers.1.w"}
	group := func(n string) string { return n[:8] }
	res, err := operators.Resolve(testSpecs(), s, tensors, 2, group)
	if err != nil {
		t.Fatalf("Resolve rejected derived settings: %v", err)
	}
	if got := res.For("layers.1.w").ModelFloat("weight", 1); got != 0.4 {
		t.Errorf("resolved layers.1 weight[m2] = %v", got)
	}
	if got := res.For("layers.0.w").Float("density"); got != 0.7 {
		t.Errorf("resolved density = %v", got)
	}
	if gs, err := m.GenomeSettings(population.VectorGenome(x)); err != nil || gs.Default.Global["k"].Float != 4 {
		t.Errorf("GenomeSettings: %v", err)
	}
	if _, err := m.GenomeSettings(population.Genome{Recipe: &population.Recipe{Operator: "split-slerp", Parents: []string{"a"}}}); err == nil || !strings.Contains(err.Error(), "split-slerp") {
		t.Errorf("recipe genome: err = %v", err)
	}
	if _, err := m.Settings([]float64{0.1, 0.2, 0.3, 0.4, 0.7, 1.25, 0, 0, 5}); err == nil || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("out-of-range k: err = %v", err)
	}
}

func TestDeriveSpaceErrors(t *testing.T) {
	cases := []struct {
		name    string
		targets []Target
		models  []string
		want    []string
	}{
		{"none", nil, nil, []string{"nothing"}},
		{"unknown", []Target{{Param: "alpha"}}, nil, []string{`"alpha"`, "takes weight, density"}},
		{"global-per-model", []Target{{Param: "lambda", PerModel: true, Lower: fp(0), Upper: fp(1)}}, []string{"a"}, []string{"not per model"}},
		{"not-layered", []Target{{Param: "k", Groups: []string{"g"}}}, nil, []string{"cannot vary per layer group"}},
		{"unbounded", []Target{{Param: "lambda"}}, nil, []string{"unbounded"}},
		{"bound-outside", []Target{{Param: "weight", Lower: fp(-3)}}, nil, []string{"lower bound -3", "[-1, 2]"}},
		{"inverted", []Target{{Param: "weight", Lower: fp(1), Upper: fp(0)}}, nil, []string{"above upper"}},
		{"bool-bounds", []Target{{Param: "normalize", Lower: fp(0)}}, nil, []string{"bool"}},
		{"twice", []Target{{Param: "weight"}, {Param: "weight"}}, nil, []string{"searched twice"}},
		{"no-models", []Target{{Param: "weight", PerModel: true}}, nil, []string{"list of expert models"}},
		{"all-reported", []Target{{Param: "alpha"}, {Param: "lambda"}}, nil, []string{`"alpha"`, "unbounded"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Derive(testSpecs(), Spec{Operator: "ties", Models: c.models, Targets: c.targets})
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
