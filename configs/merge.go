package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// MergeRecipe is the TOML schema of `evomerge merge RECIPE.toml`: one merge of
// checkpoints on disk. It is plain data; the values under params, groups,
// tensors and models[].params are checked against the chosen method's
// parameter specifications by the code that knows the method (operators).
//
//	method = "ties"                  # a method listed by `evomerge methods`
//	seed = 0                         # drives stochastic methods (dare, della)
//	base = "ckpt/base"               # θ0; optional for some methods
//	task_tensors = ["heads."]        # per-task tensors, copied, never merged
//
//	[[models]]                       # θ1..θN, in this order
//	name = "rot90"
//	path = "ckpt/rot90"
//	params = { weight = 1.0 }        # per-model parameters of this model
//
//	[params]                         # method level: scalars, or arrays of
//	density = 0.5                    # one value per model
//
//	[groups."layers.0"]              # per layer group
//	density = 0.3
//
//	[tensors."layers.2.weight"]      # per tensor
//	density = 0.9
//
//	[grouping]                       # explicit grouping (replaces the
//	early = ["layers.0.weight"]      # block-index groups)
//
//	[output]
//	dtype = "BF16"
//	max_shard_size = "2GB"
type MergeRecipe struct {
	Method string `toml:"method"`
	Seed   uint64 `toml:"seed"`
	// Base is the path of θ0 (a .safetensors file, an index, or a directory
	// holding either); "" for none.
	Base   string       `toml:"base"`
	Models []MergeModel `toml:"models"`
	// Params are method-level values: a scalar (for a per-model parameter,
	// the value of every model) or an array with one value per model.
	Params map[string]any `toml:"params"`
	// Groups maps a layer group name to values overriding Params for every
	// tensor of the group.
	Groups map[string]map[string]any `toml:"groups"`
	// Tensors maps a tensor name to values overriding Groups and Params.
	Tensors map[string]map[string]any `toml:"tensors"`
	// Grouping, when set, replaces the block-index layer groups: group name ->
	// tensor names.
	Grouping map[string][]string `toml:"grouping"`
	// TaskTensors are prefixes or globs of per-task tensors; empty means
	// ["heads."].
	TaskTensors []string    `toml:"task_tensors"`
	Output      MergeOutput `toml:"output"`

	file  string
	lines *lineIndex
}

// MergeModel is one expert model θi of a merge.
type MergeModel struct {
	Name string `toml:"name"`
	Path string `toml:"path"`
	// Params are method-level values of per-model parameters for this model.
	Params map[string]any `toml:"params"`
}

// MergeOutput controls how the merged checkpoint is stored.
type MergeOutput struct {
	// DType is the stored type of the merged floating-point tensors: "F32"
	// (default), "BF16" or "F16" (rounded to nearest, ties to even).
	// Tensors that are not floating point are copied as they are.
	DType string `toml:"dtype"`
	// MaxShardSize caps one shard's data, e.g. "2GB", "500MB", "1GiB" or a
	// byte count; "" or "0" writes a single file.
	MaxShardSize string `toml:"max_shard_size"`
}

// LoadMerge reads, strictly decodes and validates a merge recipe file.
// Relative model paths are resolved against the recipe's directory.
func LoadMerge(path string) (*MergeRecipe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("merge recipe: %w", err)
	}
	r, err := DecodeMerge(path, data)
	if err != nil {
		return nil, err
	}
	r.resolvePaths(filepath.Dir(path))
	return r, nil
}

// DecodeMerge strictly decodes and validates a merge recipe; file names the
// recipe in errors. Paths are kept as written.
func DecodeMerge(file string, data []byte) (*MergeRecipe, error) {
	var r MergeRecipe
	// DecodeStrict checks every key against the schema; the parameter tables
	// are map[string]any and are checked by Validate (and against the
	// method's specs by operators), so CheckUndecoded is not needed.
	if _, err := DecodeStrict(file, data, &r); err != nil {
		return nil, err
	}
	r.file = file
	r.lines = newLineIndex(data)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *MergeRecipe) resolvePaths(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	r.Base = abs(r.Base)
	for i := range r.Models {
		r.Models[i].Path = abs(r.Models[i].Path)
	}
}

// File is the name the recipe was decoded from ("" when built in code).
func (r *MergeRecipe) File() string { return r.file }

// Problem builds a Problem about the dotted key (as in "params.density" or
// "tensors.layers.2.weight.density"), with the key's line when it can be
// found, so checks made outside this package report like Validate does.
func (r *MergeRecipe) Problem(key, msg string) Problem {
	p := Problem{File: r.file, Key: key, Msg: msg}
	if r.lines != nil {
		p.Line = r.lines.findPath(key)
	}
	return p
}

// Validate checks everything that does not depend on the method's parameter
// specifications and returns all problems at once.
func (r *MergeRecipe) Validate() error {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, r.Problem(key, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(r.Method) == "" {
		add("method", "missing: name the merge method, e.g. method = \"ties\" (`evomerge methods` lists them)")
	}
	if len(r.Models) == 0 {
		add("models", "missing: list the models to merge as [[models]] tables with name and path")
	}
	names := map[string]int{}
	for i, m := range r.Models {
		key := fmt.Sprintf("models[%d]", i)
		switch {
		case strings.TrimSpace(m.Name) == "":
			add(key+".name", "missing: give each model a name (used in messages and per-model tables)")
		case names[m.Name] > 0:
			add(key+".name", "model name %q is used twice (also by model %d); names must be unique", m.Name, names[m.Name])
		default:
			names[m.Name] = i + 1
		}
		if strings.TrimSpace(m.Path) == "" {
			add(key+".path", "missing: give the checkpoint path (a .safetensors file, an index .json, or a directory)")
		}
		for _, k := range sortedKeys(m.Params) {
			if err := checkParamValue(m.Params[k], false); err != nil {
				add(key+".params."+k, "%v", err)
			}
		}
	}
	checkLevel := func(prefix string, vals map[string]any) {
		for _, k := range sortedKeys(vals) {
			if err := checkParamValue(vals[k], true); err != nil {
				add(joinKey(prefix, k), "%v", err)
			}
		}
	}
	checkLevel("params", r.Params)
	for _, g := range sortedKeys(r.Groups) {
		if g == "" {
			add("groups", "a layer group has an empty name")
		}
		checkLevel("groups."+g, r.Groups[g])
	}
	for _, t := range sortedKeys(r.Tensors) {
		if t == "" {
			add("tensors", "a tensor has an empty name")
		}
		checkLevel("tensors."+t, r.Tensors[t])
	}
	inGroup := map[string]string{}
	for _, g := range sortedKeys(r.Grouping) {
		if len(r.Grouping[g]) == 0 {
			add("grouping."+g, "group %q lists no tensors", g)
		}
		for _, t := range r.Grouping[g] {
			if prev, ok := inGroup[t]; ok {
				add("grouping."+g, "tensor %q is in both group %q and group %q; put it in one", t, prev, g)
				continue
			}
			inGroup[t] = g
		}
	}
	for i, p := range r.TaskTensors {
		if strings.TrimSpace(p) == "" {
			add(fmt.Sprintf("task_tensors[%d]", i), "empty pattern; give a prefix such as \"heads.\" or a glob")
		}
	}
	switch strings.ToUpper(r.Output.DType) {
	case "", "F32", "BF16", "F16":
		if r.Output.DType != strings.ToUpper(r.Output.DType) {
			add("output.dtype", "write %q in upper case", strings.ToUpper(r.Output.DType))
		}
	default:
		add("output.dtype", "unsupported dtype %q; use \"F32\", \"BF16\" or \"F16\"", r.Output.DType)
	}
	if _, err := ParseByteSize(r.Output.MaxShardSize); err != nil {
		add("output.max_shard_size", "%v", err)
	}
	return ps.Err()
}

// checkParamValue accepts a scalar (bool, integer, float, string) or, when
// arrays are allowed, a non-empty array of scalars of one type.
func checkParamValue(v any, arrays bool) error {
	switch x := v.(type) {
	case bool, int64, float64, string:
		return nil
	case []any:
		if !arrays {
			return fmt.Errorf("wrong type: want a single value (this table already is one model's), got an array")
		}
		if len(x) == 0 {
			return fmt.Errorf("empty array: give one value per model, or a single value for all")
		}
		for i, item := range x {
			switch item.(type) {
			case bool, int64, float64, string:
			default:
				return fmt.Errorf("item %d: want a number, boolean or string, got %s", i, describe(item))
			}
			if kindOf(item) != kindOf(x[0]) {
				return fmt.Errorf("item %d is %s but item 0 is %s; give values of one type", i, describe(item), describe(x[0]))
			}
		}
		return nil
	}
	return fmt.Errorf("wrong type: want a number, boolean, string or an array of one value per model, got %s", describe(v))
}

func kindOf(v any) string {
	switch v.(type) {
	case int64, float64:
		return "number"
	case bool:
		return "bool"
	case string:
		return "string"
	}
	return "other"
}

// ParseByteSize parses a size such as "2GB", "500 MB", "1.5GiB", "64KiB" or
// "123456" (bytes). Decimal units (KB, MB, GB, TB) are powers of 1000, binary
// units (KiB, MiB, GiB, TiB) powers of 1024. "" parses as 0.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	i := 0
	for i < len(t) && (t[i] == '.' || unicode.IsDigit(rune(t[i]))) {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	x, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, e.g. \"2GB\" or \"500MiB\"", s)
	}
	mult, ok := byteUnits[strings.ToUpper(unit)]
	if !ok {
		units := make([]string, 0, len(byteUnits))
		for u := range byteUnits {
			if u != "" {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		return 0, fmt.Errorf("size %q: unknown unit %q; use one of %s", s, unit, strings.Join(units, ", "))
	}
	v := x * float64(mult)
	if v >= 1<<62 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v), nil
}

var byteUnits = map[string]int64{
	"": 1, "B": 1,
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40,
}

// FormatByteSize writes a byte count with a binary unit ("512 B",
// "1.5 GiB"), the way messages and summaries print sizes; ParseByteSize
// reads it back.
func FormatByteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
