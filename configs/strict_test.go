package configs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

type testLevel string

func (l *testLevel) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low", "high":
		*l = testLevel(b)
		return nil
	}
	return errors.New("want low or high")
}

type testSearch struct {
	PopSize int            `toml:"pop_size"`
	Sigma   float64        `toml:"sigma"`
	Limit   time.Duration  `toml:"limit"`
	Params  toml.Primitive `toml:"params"`
}

type testModel struct {
	Path   string  `toml:"path"`
	Weight float64 `toml:"weight"`
}

type testConfig struct {
	Name    string             `toml:"name"`
	Seed    uint64             `toml:"seed"`
	Verbose bool               `toml:"verbose"`
	Level   testLevel          `toml:"level"`
	Search  testSearch         `toml:"search"`
	Models  []testModel        `toml:"models"`
	Tags    []string           `toml:"tags"`
	Bounds  map[string]float64 `toml:"bounds"`
}

func TestDecodeStrictAccepts(t *testing.T) {
	src := `name = "x"
seed = 7
level = "high"
tags = ["a", "b"]

[search]
pop_size = 8
sigma = 1        # an integer is a valid float
limit = "1h30m"

[search.params]
anything = "goes here"

[bounds]
lambda = 0.5

[[models]]
path = "a.safetensors"
weight = 0.25

[[models]]
path = "b.safetensors"
`
	var c testConfig
	md, err := DecodeStrict("ok.toml", []byte(src), &c)
	if err != nil {
		t.Fatalf("DecodeStrict: %v", err)
	}
	if c.Name != "x" || c.Seed != 7 || c.Level != "high" || c.Search.PopSize != 8 || c.Search.Sigma != 1 ||
		c.Search.Limit != 90*time.Minute || len(c.Models) != 2 || c.Models[0].Weight != 0.25 || c.Bounds["lambda"] != 0.5 {
		t.Fatalf("decoded %+v", c)
	}
	// The primitive table stays undecoded until a method-specific struct takes it.
	if err := CheckUndecoded("ok.toml", []byte(src), md); err == nil || !strings.Contains(err.Error(), "search.params.anything") {
		t.Fatalf("CheckUndecoded before PrimitiveDecode = %v, want search.params.anything reported", err)
	}
	var params struct {
		Anything string `toml:"anything"`
	}
	if err := md.PrimitiveDecode(c.Search.Params, &params); err != nil {
		t.Fatal(err)
	}
	if err := CheckUndecoded("ok.toml", []byte(src), md); err != nil {
		t.Fatalf("CheckUndecoded after PrimitiveDecode: %v", err)
	}
}

func TestDecodeStrictRejects(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each must appear in the error
	}{
		{"syntax error with position", "name = \"x\"\nseed = = 3\n", []string{"bad.toml:2", "syntax error"}},
		{"unknown key with suggestion", "naem = \"x\"\n", []string{"bad.toml:1: naem", `did you mean "name"`}},
		{"unknown key lists allowed", "[search]\nzzzzzz = 1\n", []string{"search.zzzzzz", "allowed here: limit, params, pop_size, sigma"}},
		{"wrong case", "[search]\nPOP_SIZE = 3\n", []string{"bad.toml:2: search.POP_SIZE", `write "pop_size"`}},
		{"wrong case table", "[Search]\npop_size = 3\n", []string{"Search", `write "search"`}},
		{"string for int", "[search]\npop_size = \"eight\"\n", []string{"search.pop_size", "want an integer", `got string "eight"`}},
		{"float for int", "[search]\npop_size = 8.5\n", []string{"want an integer", "number 8.5"}},
		{"negative unsigned", "seed = -1\n", []string{"seed", "non-negative"}},
		{"bad duration", "[search]\nlimit = \"soon\"\n", []string{"search.limit", "duration"}},
		{"bool wanted", "verbose = 1\n", []string{"verbose", "true or false"}},
		{"array wanted", "tags = \"a\"\n", []string{"tags", "want an array"}},
		{"array element type", "tags = [\"a\", 3]\n", []string{"tags[1]", "want a string"}},
		{"table wanted", "search = 3\n", []string{"search", "want a table"}},
		{"array of tables element", "[[models]]\npath = \"a\"\nwieght = 1\n", []string{"bad.toml:3: models[0].wieght", `did you mean "weight"`}},
		{"map value type", "[bounds]\nlambda = \"big\"\n", []string{"bounds.lambda", "want a number"}},
		{"text unmarshaler type", "level = 3\n", []string{"level", "want a string"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c testConfig
			_, err := DecodeStrict("bad.toml", []byte(tc.src), &c)
			if err == nil {
				t.Fatalf("accepted %q", tc.src)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not Problems", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDecodeStrictListsAllProblemsAtOnce(t *testing.T) {
	src := "naem = 1\nseed = \"x\"\n[search]\nPOP_SIZE = 2\nsigma = true\n"
	var c testConfig
	_, err := DecodeStrict("all.toml", []byte(src), &c)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	if len(ps) != 4 {
		t.Fatalf("got %d problems, want 4: %v", len(ps), err)
	}
	wantLines := []int{1, 2, 4, 5}
	for i, p := range ps {
		if p.Line != wantLines[i] {
			t.Errorf("problem %d (%s) on line %d, want %d", i, p.Key, p.Line, wantLines[i])
		}
	}
	if !strings.HasPrefix(err.Error(), "4 problems:") {
		t.Errorf("error text %q", err)
	}
}

func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		"name = \"x\"\n[search]\npop_size = 3\n",
		"[[models]]\npath = \"a\"\n[[models]]\nweight = 2.5\n",
		"[bounds]\na = 1\nb = 2.5\n",
		"tags = [1, \"a\", [2]]\n",
		"search = { pop_size = 1, sigma = \"x\" }\n",
		"[a.b.c]\nd = 1\n",
		"= 3\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var c testConfig
		_, err := DecodeStrict("fuzz.toml", []byte(src), &c)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %v is not a non-empty Problems", err)
			}
		}
	})
}

func TestExcerpt(t *testing.T) {
	src := []byte("a = 1\nb = = 2\n")
	tests := []struct {
		line, col int
		want      string
	}{
		{2, 5, "\n    b = = 2\n        ^"},
		{2, 0, "\n    b = = 2"},
		{0, 3, ""},
		{9, 1, ""},
	}
	for _, tc := range tests {
		if got := excerpt(src, tc.line, tc.col); got != tc.want {
			t.Errorf("excerpt(%d, %d) = %q, want %q", tc.line, tc.col, got, tc.want)
		}
	}
}
