package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/operators"
)

// tinyModel returns the tensors of a small layered model with one head.
func tinyModel(who, head string) []checkpoint.Tensor {
	r := rng.New(3, "merge-cmd-test", who)
	shapes := []struct {
		name  string
		shape []int
	}{
		{"layers.1.weight", []int{4, 3}}, {"layers.1.bias", []int{4}},
		{"layers.3.weight", []int{2, 4}}, {"layers.3.bias", []int{2}},
	}
	if head != "" {
		shapes = append(shapes, struct {
			name  string
			shape []int
		}{"heads." + head + ".weight", []int{3, 2}})
	}
	var ts []checkpoint.Tensor
	for _, s := range shapes {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(r.NormFloat64())
		}
		ts = append(ts, checkpoint.Tensor{Name: s.name, Shape: s.shape, Data: data})
	}
	return ts
}

// exampleWorkspace copies an example recipe next to tiny checkpoints at the
// paths the examples use and returns the recipe's path.
func exampleWorkspace(t *testing.T, example string) (recipe string, inputs map[string][]checkpoint.Tensor) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	recipe = filepath.Join(dir, example)
	if err := os.WriteFile(recipe, data, 0o644); err != nil {
		t.Fatal(err)
	}
	inputs = map[string][]checkpoint.Tensor{
		"base": tinyModel("base", ""), "digits": tinyModel("digits", "digits"), "rotated": tinyModel("rotated", "rotated"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, ts := range inputs {
		// Directories holding model.safetensors, as the examples' paths say.
		p := filepath.Join(dir, "models", name, checkpoint.SingleFileName)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		meta := map[string]string{"evomerge.spec": `{"who":"` + name + `"}`}
		if err := checkpoint.Write(p, ts, meta, checkpoint.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return recipe, inputs
}

// expectedMerge merges the inputs in memory with the recipe's settings.
func expectedMerge(t *testing.T, recipePath string, inputs map[string][]checkpoint.Tensor) map[string][]float32 {
	t.Helper()
	cfg, err := configs.LoadMerge(recipePath)
	if err != nil {
		t.Fatal(err)
	}
	r := recipeFromConfig(cfg)
	op, err := operators.Builtin().Get(r.Method)
	if err != nil {
		t.Fatal(err)
	}
	var base []checkpoint.Tensor
	if r.Base != "" {
		base = inputs["base"]
	}
	var models [][]checkpoint.Tensor
	for _, m := range r.Models {
		models = append(models, inputs[m.Name])
	}
	src, err := operators.NewMemSource(base, models...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Settings(op)
	if err != nil {
		t.Fatal(err)
	}
	tasks := r.TaskTensorPatterns()
	plan, err := operators.NewPlan(op, src, s, operators.PlanOptions{Seed: r.Seed, TaskTensors: &tasks})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	err = operators.MergeAll(context.Background(), plan, src,
		func(m operators.TensorMeta) []float32 { return make([]float32, m.NumElements()) },
		func(m operators.TensorMeta, dst []float32) error { out[m.Name] = dst; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCmdMergeExamples(t *testing.T) {
	for _, example := range []string{"merge-ties.toml", "merge-slerp.toml", "merge-dare.toml"} {
		t.Run(example, func(t *testing.T) {
			recipe, inputs := exampleWorkspace(t, example)
			out := filepath.Join(filepath.Dir(recipe), "merged")
			var stdout, stderr bytes.Buffer
			if err := cmdMerge(context.Background(), []string{recipe, "--out", out, "--workers", "2"}, &stdout, &stderr); err != nil {
				t.Fatalf("merge: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), "merged 6 tensors") {
				t.Errorf("summary = %q", stdout.String())
			}
			r, err := checkpoint.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			want := expectedMerge(t, recipe, inputs)
			bf16 := example == "merge-slerp.toml"
			for name, w := range want {
				info, ok := r.Info(name)
				if !ok {
					t.Fatalf("output lacks %s", name)
				}
				got, err := r.Read(name)
				if err != nil {
					t.Fatal(err)
				}
				if bf16 {
					if info.DType != checkpoint.BF16 {
						t.Errorf("%s stored as %s, want BF16", name, info.DType)
					}
					for i := range w {
						w[i] = checkpoint.BF16ToFloat32(checkpoint.Float32ToBF16(w[i]))
					}
				}
				if !slices.Equal(got, w) {
					t.Errorf("%s = %v, want %v", name, got, w)
				}
			}
			if len(r.Names()) != len(want) {
				t.Errorf("output has %d tensors, want %d", len(r.Names()), len(want))
			}
			meta := r.Metadata()
			rec, ok, err := operators.RecipeFromMetadata(meta)
			if err != nil || !ok || rec.Method == "" {
				t.Errorf("recipe metadata: ok=%v err=%v", ok, err)
			}
			if !strings.HasPrefix(meta["evomerge.spec"], `{"who":`) {
				t.Errorf("evomerge.spec not inherited: %q", meta["evomerge.spec"])
			}
		})
	}
}

func TestCmdMergeWorkersAndShards(t *testing.T) {
	recipe, _ := exampleWorkspace(t, "merge-dare.toml")
	dir := filepath.Dir(recipe)
	var files [][]byte
	for _, w := range []string{"1", "2"} {
		out := filepath.Join(dir, "w"+w)
		var stdout bytes.Buffer
		if err := cmdMerge(context.Background(), []string{"--workers", w, "--shard-size", "64B", recipe, "--out", out, "--mem"}, &stdout, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout.String(), "shards and an index") || !strings.Contains(stdout.String(), "peak Go heap") {
			t.Errorf("summary = %q", stdout.String())
		}
		index, err := os.ReadFile(filepath.Join(out, checkpoint.IndexFileName))
		if err != nil {
			t.Fatal(err)
		}
		shards, _ := filepath.Glob(filepath.Join(out, "model-*.safetensors"))
		all := index
		for _, s := range shards {
			b, _ := os.ReadFile(s)
			all = append(all, b...)
		}
		files = append(files, all)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("output with 1 and 2 workers differs")
	}
}

func TestCmdMergeErrors(t *testing.T) {
	recipe, _ := exampleWorkspace(t, "merge-ties.toml")
	dir := filepath.Dir(recipe)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	models := "\n[[models]]\nname = \"a\"\npath = \"models/digits\"\n[[models]]\nname = \"b\"\npath = \"models/rotated\"\n"
	cases := []struct {
		name  string
		args  []string
		usage bool
		want  []string
	}{
		{"no out", []string{recipe}, true, []string{"--out"}},
		{"no recipe", []string{"--out", "x"}, true, []string{"exactly one recipe"}},
		{"bad shard size", []string{recipe, "--out", "x", "--shard-size", "lots"}, true, []string{"--shard-size"}},
		{"bad workers", []string{recipe, "--out", "x", "--workers", "-2"}, true, []string{"--workers"}},
		{"missing file", []string{filepath.Join(dir, "none.toml"), "--out", "x"}, false, []string{"none.toml"}},
		{"unknown method", []string{write("m1.toml", "method = \"tiez\"\n"+models), "--out", filepath.Join(dir, "o1")}, false,
			[]string{"m1.toml:1: method:", `unknown merge method "tiez"`}},
		{"bad parameter", []string{write("m2.toml", "method = \"ties\"\nbase = \"models/base\"\n"+models+"[params]\ndensity = 1.5\nlamda = 1\n"), "--out", filepath.Join(dir, "o2")}, false,
			[]string{"m2.toml:11: params.density:", "out of range", "m2.toml:12: params.lamda:", "no parameter"}},
		{"needs base", []string{write("m3.toml", "method = \"ties\"\n"+models), "--out", filepath.Join(dir, "o3")}, false,
			[]string{"m3.toml", "base: missing"}},
		{"needs data", []string{write("m4.toml", "method = \"fisher\"\n"+models), "--out", filepath.Join(dir, "o4")}, false,
			[]string{"m4.toml:1: method:", "task data"}},
		{"missing model", []string{write("m5.toml", "method = \"linear\"\n[[models]]\nname = \"a\"\npath = \"models/gone\"\n"), "--out", filepath.Join(dir, "o5")}, false,
			[]string{"m5.toml", "model 1", "gone"}},
		{"tensor group typo", []string{write("m6.toml", "method = \"linear\"\n"+models+"[groups.\"layers.9\"]\nweight = 2\n"), "--out", filepath.Join(dir, "o6")}, false,
			[]string{`layer group "layers.9" does not exist`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := cmdMerge(context.Background(), c.args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil {
				t.Fatal("no error")
			}
			var ue usageError
			if errors.As(err, &ue) != c.usage {
				t.Errorf("usage error = %v, want %v (%v)", !c.usage, c.usage, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCmdMethods(t *testing.T) {
	var out bytes.Buffer
	if err := cmdMethods(context.Background(), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	reg := operators.Builtin()
	for _, info := range reg.List() {
		if !strings.Contains(text, info.Name+"  (base ") || !strings.Contains(text, info.Formula) {
			t.Errorf("listing lacks %s or its formula", info.Name)
		}
	}
	if !strings.Contains(text, "a float in [0, 1]") {
		t.Error("listing lacks allowed ranges")
	}

	out.Reset()
	if err := cmdMethods(context.Background(), []string{"--json"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var methods []methodJSON
	if err := json.Unmarshal(out.Bytes(), &methods); err != nil {
		t.Fatal(err)
	}
	if len(methods) != len(reg.Names()) {
		t.Fatalf("%d methods in JSON, want %d", len(methods), len(reg.Names()))
	}
	for _, m := range methods {
		op, _ := reg.Get(m.Name)
		if len(m.Params) != len(op.Params()) || m.Formula != op.Formula() {
			t.Errorf("%s: %d params, formula %q", m.Name, len(m.Params), m.Formula)
		}
		for i, p := range m.Params {
			spec := op.Params()[i]
			if p.Name != spec.Name || p.Scope != string(spec.Scope) || p.Type != string(spec.Kind) || p.Layered != spec.Layered {
				t.Errorf("%s.%s: %+v does not match its spec", m.Name, p.Name, p)
			}
			if spec.Kind == operators.KindFloat && (p.Min == nil || *p.Min != spec.Min || p.Default != spec.Default.Float) {
				t.Errorf("%s.%s: range/default %+v, want min %g default %g", m.Name, p.Name, p, spec.Min, spec.Default.Float)
			}
		}
		if m.Name == "fisher" && !slices.Contains(m.Needs, "fisher") {
			t.Errorf("fisher needs = %v", m.Needs)
		}
	}
	if err := cmdMethods(context.Background(), []string{"extra"}, &out, &bytes.Buffer{}); err == nil {
		t.Error("methods accepted a positional argument")
	}
}

// A merged internal/model network loads like its inputs: the spec is inherited and
// each expert's head is carried over.
func TestCmdMergeNNModelsLoad(t *testing.T) {
	dir := t.TempDir()
	spec := mlp.Config{Input: [3]int{1, 2, 2}, Hidden: []int{5}}
	var paths []string
	var models []model.Network
	for i, head := range []string{"a", "b"} {
		s := spec
		s.Heads = []model.Head{{Name: head, Classes: 3}}
		m, err := s.New(uint64(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, head+".safetensors")
		if err := model.Save(p, m, nil); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		models = append(models, m)
	}
	recipe := filepath.Join(dir, "r.toml")
	text := "method = \"linear\"\n[[models]]\nname = \"a\"\npath = \"a.safetensors\"\n[[models]]\nname = \"b\"\npath = \"b.safetensors\"\n[params]\nweight = [3, 1]\n"
	if err := os.WriteFile(recipe, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "merged")
	if err := cmdMerge(context.Background(), []string{recipe, "--out", out}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	merged, err := all.Load(out)
	if err != nil {
		t.Fatalf("merged checkpoint does not load as an nn model: %v", err)
	}
	if heads := merged.Heads(); !slices.Equal(heads, []string{"a", "b"}) {
		t.Errorf("heads = %v, want [a b]", heads)
	}
	for _, p := range merged.Params() {
		a, b := models[0].Param(p.Name), models[1].Param(p.Name)
		for j, v := range p.Data {
			var want float32
			switch {
			case a != nil && b != nil:
				want = float32(0.75)*a.Data[j] + float32(0.25)*b.Data[j]
			case a != nil:
				want = a.Data[j]
			default:
				want = b.Data[j]
			}
			if d := v - want; d > 1e-6 || d < -1e-6 {
				t.Fatalf("%s[%d] = %g, want %g", p.Name, j, v, want)
			}
		}
	}
}

func TestExecuteMergeExitCodes(t *testing.T) {
	recipe, _ := exampleWorkspace(t, "merge-slerp.toml")
	dir := filepath.Dir(recipe)
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("method = \"slerp\"\n[[models]]\nname = \"a\"\npath = \"models/digits\"\n[params]\nt = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"merge", recipe, "--out", filepath.Join(dir, "ok")}, exitOK},
		{[]string{"merge", recipe}, exitUsage},
		{[]string{"merge", bad, "--out", filepath.Join(dir, "bad")}, exitFailure},
		{[]string{"methods", "--json"}, exitOK},
		{[]string{"methods", "--nope"}, exitUsage},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if got := execute(context.Background(), c.args, &stdout, &stderr); got != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, got, c.code, stderr.String())
		}
	}
}

func TestCmdMergeF16Output(t *testing.T) {
	recipe, _ := exampleWorkspace(t, "merge-slerp.toml")
	data, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recipe, bytes.Replace(data, []byte(`dtype = "BF16"`), []byte(`dtype = "F16"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(filepath.Dir(recipe), "f16")
	var stdout bytes.Buffer
	if err := cmdMerge(context.Background(), []string{recipe, "--out", out}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	r, err := checkpoint.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, name := range r.Names() {
		if info, _ := r.Info(name); info.DType != checkpoint.F16 {
			t.Errorf("tensor %s stored as %s, want F16", name, info.DType)
		}
	}
	if !strings.Contains(stdout.String(), "merged ") || strings.Contains(stdout.String(), " 1 workers") {
		t.Errorf("summary %q", stdout.String())
	}
}

func TestCmdMergeRefusesNonFiniteInputs(t *testing.T) {
	recipe, inputs := exampleWorkspace(t, "merge-slerp.toml")
	dir := filepath.Dir(recipe)
	// The rotated expert diverged: one weight is NaN, one +Inf.
	ts := inputs["rotated"]
	for i := range ts {
		if ts[i].Name == "layers.3.weight" {
			ts[i].Data[3], ts[i].Data[5] = float32(math.NaN()), float32(math.Inf(1))
		}
	}
	path := filepath.Join(dir, "models", "rotated", checkpoint.SingleFileName)
	if err := checkpoint.Write(path, ts, map[string]string{"evomerge.spec": `{"who":"rotated"}`}, checkpoint.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "refused")
	err := cmdMerge(context.Background(), []string{recipe, "--out", out}, &bytes.Buffer{}, &bytes.Buffer{})
	for _, want := range []string{"model 2 (" + filepath.Join(dir, "models", "rotated"), `tensor "layers.3.weight" holds 2 non-finite values of 8 (the first, element 3, is NaN)`, "--allow-nonfinite"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	if _, statErr := os.Stat(out); statErr == nil {
		t.Error("a refused merge left its output directory")
	}
	if err := cmdMerge(context.Background(), []string{recipe, "--out", out, "--allow-nonfinite"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatalf("--allow-nonfinite: %v", err)
	}
}
