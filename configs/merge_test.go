package configs

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMergeExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "merge-*.toml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("found %d example merge recipes (%v), want at least 3", len(files), err)
	}
	for _, f := range files {
		r, err := LoadMerge(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if r.Method == "" || len(r.Models) < 2 {
			t.Errorf("%s: method %q, %d models", f, r.Method, len(r.Models))
		}
		for _, m := range r.Models {
			if !strings.HasPrefix(m.Path, "examples"+string(filepath.Separator)) {
				t.Errorf("%s: model path %q not resolved against the recipe's directory", f, m.Path)
			}
		}
	}
}

func TestDecodeMergeValues(t *testing.T) {
	src := `
method = "ties"
seed = 7
base = "/abs/base"
task_tensors = ["heads.", "cls.*"]

[[models]]
name = "a"
path = "a.safetensors"
params = { weight = 0.5 }

[[models]]
name = "b"
path = "b"

[params]
density = [0.2, 0.3]
lambda = 1
trim_scope = "model"

[groups."layers.3"]
density = 0.9

[tensors."layers.3.weight"]
lambda = 0.5

[grouping]
g = ["x", "y"]

[output]
dtype = "BF16"
max_shard_size = "1.5GiB"
`
	r, err := DecodeMerge("r.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "ties" || r.Seed != 7 || r.Base != "/abs/base" || len(r.TaskTensors) != 2 {
		t.Errorf("top level = %+v", r)
	}
	if r.Models[0].Params["weight"] != 0.5 || r.Models[1].Path != "b" {
		t.Errorf("models = %+v", r.Models)
	}
	if d, ok := r.Params["density"].([]any); !ok || len(d) != 2 || d[1] != 0.3 {
		t.Errorf("params.density = %#v", r.Params["density"])
	}
	if r.Params["lambda"] != int64(1) || r.Params["trim_scope"] != "model" {
		t.Errorf("params = %#v", r.Params)
	}
	if r.Groups["layers.3"]["density"] != 0.9 || r.Tensors["layers.3.weight"]["lambda"] != 0.5 {
		t.Errorf("groups = %v, tensors = %v", r.Groups, r.Tensors)
	}
	if len(r.Grouping["g"]) != 2 || r.Output.DType != "BF16" {
		t.Errorf("grouping = %v, output = %+v", r.Grouping, r.Output)
	}
	if n, _ := ParseByteSize(r.Output.MaxShardSize); n != 1536<<20 {
		t.Errorf("max_shard_size = %d", n)
	}
	p := r.Problem("tensors.layers.3.weight.lambda", "bad")
	if p.Line != 25 || p.File != "r.toml" {
		t.Errorf("Problem located at %s:%d, want r.toml:25", p.File, p.Line)
	}
}

func TestDecodeMergeProblems(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string // "key: fragment"
	}{
		{"empty", ``, []string{"method: missing", "models: missing"}},
		{"unknown and miscased keys", `
method = "linear"
Seed = 1
[[models]]
name = "a"
pth = "x"
`, []string{"Seed: keys are case-sensitive", "models[0].pth: did you mean \"path\""}},
		{"model problems", `
method = "linear"
[[models]]
name = "a"
path = "x"
[[models]]
name = "a"
path = "y"
params = { weight = [1, 2] }
[[models]]
path = "z"
`, []string{"models[1].name: used twice", "models[1].params.weight: want a single value", "models[2].name: missing"}},
		{"parameter values", `
method = "ties"
[[models]]
name = "a"
path = "x"
[params]
density = []
lambda = [1, "x"]
weird = { a = 1 }
[tensors."layers.0.weight"]
density = 2020-01-01
`, []string{"params.density: empty array", "params.lambda: item 1", "params.weird: wrong type", "tensors.layers.0.weight.density: wrong type"}},
		{"output and grouping", `
method = "linear"
task_tensors = [""]
[[models]]
name = "a"
path = "x"
[grouping]
g1 = ["t"]
g2 = ["t"]
g3 = []
[output]
dtype = "F8_E4M3"
max_shard_size = "2 parsecs"
`, []string{"output.dtype: unsupported dtype", "output.max_shard_size: unknown unit", "grouping.g2: in both group", "grouping.g3: lists no tensors", "task_tensors[0]: empty pattern"}},
		{"wrong types", `
method = 3
seed = -1
[[models]]
name = "a"
path = "x"
`, []string{"method: wrong type", "seed: a non-negative integer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeMerge("m.toml", []byte(c.src))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error = %v, want Problems", err)
			}
			for _, w := range c.want {
				key, frag, _ := strings.Cut(w, ": ")
				found := false
				for _, p := range ps {
					if p.Key == key && strings.Contains(p.Msg, frag) && p.File == "m.toml" {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem %q in:\n%v", w, err)
				}
			}
			if len(ps) != len(c.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(ps), len(c.want), err)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"123", 123, true}, {"2GB", 2e9, true}, {"2 gb", 2e9, true},
		{"500MB", 5e8, true}, {"1GiB", 1 << 30, true}, {"1.5KiB", 1536, true}, {"64kib", 64 << 10, true},
		{"GB", 0, false}, {"-1GB", 0, false}, {"1.2.3MB", 0, false}, {"3 XB", 0, false}, {"1e30TB", 0, false},
	}
	for _, c := range cases {
		got, err := ParseByteSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestFormatByteSize(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {3 << 29, "1.5 GiB"}, {1 << 62, "4.0 EiB"}, {^uint64(0), "16.0 EiB"}} {
		if got := FormatByteSize(tt.n); got != tt.want {
			t.Errorf("FormatByteSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	// What it prints reads back (to its rounding) with ParseByteSize.
	if n, err := ParseByteSize(FormatByteSize(3 << 29)); err != nil || n != 3<<29 {
		t.Errorf("ParseByteSize(FormatByteSize(1.5 GiB)) = %d, %v", n, err)
	}
}
