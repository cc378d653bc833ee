package configs

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Special task names of objectives[].task.
const (
	// TaskAll expands into one objective per task of the model pool.
	TaskAll = "all"
	// TaskMean is the mean of the metric over every task.
	TaskMean = "mean"
)

// Benchmark preparation recipes accepted in models.recipe.
const (
	RecipeFull  = "full"
	RecipeSmoke = "smoke"
)

// DefaultRunsDir is the parent of run directories when experiment.output is
// not given: runs/<experiment name>.
const DefaultRunsDir = "runs"

// Experiment is the TOML schema of `evomerge run CONFIG`: what is merged,
// which parameters of the merge are searched, how, against which
// objectives, and where the run directory is. configs/quickstart.toml and
// configs/examples/*.toml document every key with its default.
//
// It is plain data. LoadExperiment and DecodeExperiment decode it strictly
// (every problem at once, with key and line), fill in defaults and validate
// ranges; checking the merge parameters against the operator's parameter
// specifications and the tasks against the model pool happens where those
// are known (internal/run), through Problem so messages name the key and
// line the same way.
type Experiment struct {
	Experiment ExperimentInfo `toml:"experiment"`
	Models     Models         `toml:"models"`
	Merge      MergeSearch    `toml:"merge"`
	Search     Search         `toml:"search"`
	Objectives []Objective    `toml:"objectives"`
	Evaluator  Evaluator      `toml:"evaluator"`
	Report     Report         `toml:"report"`
	// Format is the version of a resolved configuration (the config.toml
	// evomerge writes into a run directory); users leave it out. Resolved
	// files without it were written before explicit zeros existed: there a
	// 0 of a setting whose zero now means "off" meant its default, and
	// UpgradeResolved reads them so.
	Format int `toml:"format,omitzero"`

	file  string
	lines *lineIndex
}

// ExperimentInfo names the experiment.
type ExperimentInfo struct {
	// Name names the run directory; letters, digits, '.', '_' and '-'.
	Name string `toml:"name,omitempty"`
	// Seed is the master seed of every random stream of the run.
	Seed uint64 `toml:"seed,omitempty"`
	// Output is the run directory; "" means runs/<name>. A relative path is
	// relative to the working directory of `evomerge run`.
	Output string `toml:"output,omitempty"`
}

// Models is the model pool: a built-in benchmark (its base, experts and task
// data), or checkpoints on disk.
type Models struct {
	// Benchmark names a built-in benchmark (`evomerge bench prepare`). It
	// provides the task data the native evaluator scores on and, when
	// Experts is empty, the base and experts themselves.
	Benchmark string `toml:"benchmark,omitempty"`
	// Recipe is the benchmark's preparation recipe: "full" (default) or
	// "smoke" (tiny, for tests; its scores are not meaningful).
	Recipe string `toml:"recipe,omitempty"`
	// CacheDir holds prepared benchmarks; "" means $EVOMERGE_CACHE/bench or
	// the user cache directory.
	CacheDir string `toml:"cache_dir,omitempty"`
	// Base is the path of θ0 when Experts are given.
	Base string `toml:"base,omitempty"`
	// Experts are θ1..θN on disk, in this order.
	Experts []Expert `toml:"experts,omitempty"`
}

// Expert is one checkpoint of the pool.
type Expert struct {
	Name string `toml:"name,omitempty"`
	Path string `toml:"path,omitempty"`
	// Task is the benchmark task the expert was fine-tuned for (optional).
	Task string `toml:"task,omitempty"`
}

// MergeSearch is the merge operator, its fixed parameters and the searched
// ones.
type MergeSearch struct {
	// Operator is a merge method listed by `evomerge methods`.
	Operator string `toml:"operator,omitempty"`
	// Params are fixed method-level values, as in a merge recipe's [params].
	Params map[string]any `toml:"params,omitempty"`
	// Groups are fixed per-layer-group values, as in a recipe's [groups.G].
	Groups map[string]map[string]any `toml:"groups,omitempty"`
	// TaskTensors are per-task tensor patterns; empty means ["heads."].
	TaskTensors []string `toml:"task_tensors,omitempty"`
	// Search lists the searched parameters ([[merge.search]]).
	Search []SearchedParam `toml:"search,omitempty"`
}

// SearchedParam makes one operator parameter a dimension (or several) of
// the search space.
type SearchedParam struct {
	// Param is the parameter's name.
	Param string `toml:"param,omitempty"`
	// PerModel gives every expert its own value.
	PerModel bool `toml:"per_model,omitempty"`
	// PerGroup gives every layer group of the merged tensors its own value.
	PerGroup bool `toml:"per_group,omitempty"`
	// Groups lists layer groups that get their own values (instead of
	// PerGroup).
	Groups []string `toml:"groups,omitempty"`
	// Lower and Upper narrow the parameter's range; both are required when
	// the range is unbounded.
	Lower *float64 `toml:"lower,omitempty"`
	Upper *float64 `toml:"upper,omitempty"`
}

// Search is the search algorithm, its budget and its settings.
type Search struct {
	// Algorithm is random, nsga2, ga, cmaes, adamerging, fw, m2n2 or map.
	Algorithm string `toml:"algorithm,omitempty"`
	// MaxEvaluations stops the search after this many evaluations (0: no
	// limit; a budget in evaluations or time is required).
	MaxEvaluations int `toml:"max_evaluations,omitempty"`
	// MaxGenerations stops after this many ask/tell rounds (0: no limit).
	MaxGenerations int `toml:"max_generations,omitempty"`
	// MaxTime stops asking once this much wall time has passed, counted
	// over every session of a resumed run (0: no limit).
	MaxTime time.Duration `toml:"max_time,omitempty"`
	// Concurrency is the number of candidates evaluated at once (0: 1; each
	// evaluation's kernels already use every core). Results do not depend on
	// it.
	Concurrency int `toml:"concurrency,omitempty"`

	// Table is the chosen algorithm's own table ([search.<algorithm>]),
	// decoded by the algorithm's settings type (nil when the algorithm is
	// unknown). Its tag "*" lets [search] hold one sub-table of any name:
	// strict decoding leaves sub-tables to DecodeExperiment, which decodes
	// the algorithm's and rejects the others.
	Table Table `toml:"*"`
}

// Budget reports whether the search states a limit.
func (s Search) Budget() bool {
	return s.MaxEvaluations != 0 || s.MaxGenerations != 0 || s.MaxTime != 0
}

// Objective is one score the search optimises.
type Objective struct {
	// Task is a task name, "all" (one objective per task) or "mean" (the
	// mean over tasks).
	Task string `toml:"task,omitempty"`
	// Metric names a metric of the catalog (Catalog.MetricNames); absent,
	// the catalog's first.
	Metric string `toml:"metric,omitempty"`
	// Direction is maximize or minimize; default the metric's
	// (Catalog.MetricDirection).
	Direction string `toml:"direction,omitempty"`
}

// Evaluator says how candidates are scored: Kind selects an evaluator kind
// and the other keys of [evaluator] are that kind's own settings.
type Evaluator struct {
	// Kind names an evaluator kind of the catalog (native, command, nats);
	// absent, the catalog's first (native: Go-native inference on the
	// benchmark's fitness split).
	Kind string `toml:"kind,omitempty"`

	// Table is the kind's own settings: the keys of [evaluator] besides
	// kind, decoded by the kind's settings type (nil when the kind is
	// unknown). Its tag "+" lets [evaluator] hold keys of any name: strict
	// decoding leaves them to DecodeExperiment, which decodes the kind's
	// and names the kind that uses each of the others.
	Table Table `toml:"+"`
}

// Report controls the end-of-run outputs.
type Report struct {
	// TestScores re-scores every front member on the held-out test split
	// (default true).
	TestScores *bool `toml:"test_scores,omitempty"`
	// HTML writes report.html when a renderer is available (default true).
	HTML *bool `toml:"html,omitempty"`
	// Top limits the summary table to the first Top front members (the
	// chosen one first, then by mean normalized fitness-split accuracy;
	// 0: all).
	Top int `toml:"top,omitempty"`
	// Choose says how the recommended front member (the one the summary
	// names, status and the report mark, and export takes by default) is
	// picked, always on fitness-split scores: "" for the default (highest
	// mean normalized accuracy where the tasks have experts, else the best
	// first objective), "mean_normalized_accuracy", or an objective's name
	// (e.g. "digits/accuracy"). Checked against the run's objectives when
	// the run starts.
	Choose string `toml:"choose,omitempty"`
}

// WantTestScores reports whether front members are scored on test data.
func (r Report) WantTestScores() bool { return r.TestScores == nil || *r.TestScores }

// WantHTML reports whether report.html is wanted.
func (r Report) WantHTML() bool { return r.HTML == nil || *r.HTML }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// LoadResolved reads a run directory's config.toml (the resolved
// configuration Encode wrote): LoadExperiment, then UpgradeResolved so files
// of older versions mean what they meant when their run started. Files
// written before each evaluator kind owned its keys hold the keys of every
// kind in [evaluator], those of other kinds without effect: they are
// ignored.
func LoadResolved(path string, cat Catalog) (*Experiment, error) {
	e, err := loadExperiment(path, cat, true)
	if err != nil {
		return nil, err
	}
	e.UpgradeResolved()
	return e, nil
}

// DecodeResolved is LoadResolved on a file's contents.
func DecodeResolved(name string, data []byte, cat Catalog) (*Experiment, error) {
	e, err := decodeExperiment(name, data, cat, true)
	if err != nil {
		return nil, err
	}
	e.UpgradeResolved()
	return e, nil
}

// ResolvedFormat is the Format evomerge writes into a run directory's
// config.toml.
const ResolvedFormat = 2

// UpgradeResolved reads a run directory's config.toml written before
// ResolvedFormat as it was meant when its run started (the component
// tables say what changed). Newer files are left as they are.
func (e *Experiment) UpgradeResolved() {
	if e.Format >= ResolvedFormat {
		return
	}
	for _, t := range []Table{e.Search.Table, e.Evaluator.Table} {
		if t != nil {
			t.UpgradeResolved(e.Format)
		}
	}
}

// LoadExperiment reads, strictly decodes and validates an experiment file.
// Relative checkpoint paths and cache_dir are resolved against the file's
// directory; experiment.output stays relative to the working directory.
func LoadExperiment(path string, cat Catalog) (*Experiment, error) {
	return loadExperiment(path, cat, false)
}

// loadExperiment is LoadExperiment, of a resolved configuration when
// resolved is set.
func loadExperiment(path string, cat Catalog, resolved bool) (*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	e, err := decodeExperiment(path, data, cat, resolved)
	if err != nil {
		return nil, err
	}
	e.resolvePaths(filepath.Dir(path))
	return e, nil
}

// DecodeExperiment strictly decodes an experiment (file names it in
// errors), decodes the chosen algorithm's table and the evaluator kind's
// keys into the types cat gives for them, rejects keys nobody read, fills
// defaults and validates. All problems are returned at once as Problems.
func DecodeExperiment(file string, data []byte, cat Catalog) (*Experiment, error) {
	return decodeExperiment(file, data, cat, false)
}

// decodeExperiment is DecodeExperiment, of a resolved configuration when
// resolved is set (see LoadResolved).
func decodeExperiment(file string, data []byte, cat Catalog, resolved bool) (*Experiment, error) {
	var e Experiment
	md, err := DecodeStrict(file, data, &e)
	var schema Problems
	if err != nil {
		// Keys that are unknown or of the wrong type are left out and the
		// rest is decoded, so the other problems are listed with them.
		var ok bool
		if schema, ok = err.(Problems); !ok {
			return nil, err
		}
		if md, ok = lenientDecode(data, schema, &e); !ok {
			return nil, err
		}
	}
	e.file = file
	e.lines = newLineIndex(data)
	ps := append(Problems(nil), schema...)
	// The method tables are typed here, so their keys get the same
	// strictness as the rest; a table for another algorithm is an error.
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, Problems{{File: file, Msg: err.Error()}}
	}
	searchRaw, _ := raw["search"].(map[string]any)
	if t, ok := cat.AlgorithmTable(e.Search.Algorithm); ok {
		e.Search.Table = t
	}
	for _, name := range sortedKeys(searchRaw) {
		sub, isTable := searchRaw[name].(map[string]any)
		if !isTable {
			continue // a common key, checked by the schema
		}
		key := "search." + name
		if name != e.Search.Algorithm || e.Search.Table == nil {
			if _, known := cat.AlgorithmTable(name); known {
				ps = append(ps, e.Problem(key, fmt.Sprintf("settings for %s, but search.algorithm is %q: remove this table or change the algorithm", name, e.Search.Algorithm)))
			} else {
				ps = append(ps, e.Problem(key, fmt.Sprintf("unknown table: search.%s names no algorithm; the algorithms are %s", name, strings.Join(cat.AlgorithmNames(), ", "))))
			}
			continue
		}
		var typeProblems Problems
		checkValue(sub, reflect.TypeOf(e.Search.Table.Target()).Elem(), key, file, e.lines, &typeProblems)
		if len(typeProblems) > 0 {
			ps = append(ps, typeProblems...)
			// Decode the rest of the table, so its other problems are
			// listed with these.
			decodeWithout(sub, key, typeProblems, e.Search.Table.Target())
			continue
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(sub); err != nil {
			ps = append(ps, e.Problem(key, err.Error()))
			continue
		}
		if _, err := toml.Decode(buf.String(), e.Search.Table.Target()); err != nil {
			ps = append(ps, e.Problem(key, err.Error()))
		}
	}
	// The evaluator kind's keys are typed the same way.
	evRaw, _ := raw["evaluator"].(map[string]any)
	evProblems, evTyped := e.decodeEvaluator(evRaw, schema, cat, resolved)
	ps = append(ps, evProblems...)
	if len(ps) == 0 && len(schema) == 0 {
		if err := CheckUndecoded(file, data, md); err != nil {
			if more, ok := err.(Problems); ok {
				// Keys inside algorithm tables and the evaluator kind's keys
				// were checked above.
				for _, p := range more {
					if !isSearchTable(p.Key, searchRaw) && !strings.HasPrefix(p.Key, "evaluator.") {
						ps = append(ps, p)
					}
				}
			}
		}
	}
	e.applyDefaults(cat)
	if err := e.validate(cat); err != nil {
		if more, ok := err.(Problems); ok {
			for _, p := range more {
				// A value left out for its type is not also reported as
				// missing or out of range.
				if !relatedToAny(p.Key, schema) && !isOrInside(p.Key, evTyped) {
					ps = append(ps, p)
				}
			}
		}
	}
	if len(ps) > 0 {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
		return nil, ps
	}
	return &e, nil
}

// lenientDecode decodes data into e without the keys named by the schema
// problems; false when that is impossible (a syntax error).
func lenientDecode(data []byte, schema Problems, e *Experiment) (toml.MetaData, bool) {
	bad := map[string]bool{}
	for _, p := range schema {
		if p.Key == "" {
			return toml.MetaData{}, false
		}
		bad[p.Key] = true
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return toml.MetaData{}, false
	}
	dropKeys(raw, "", bad)
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
		return toml.MetaData{}, false
	}
	*e = Experiment{}
	md, err := toml.Decode(buf.String(), e)
	return md, err == nil
}

// decodeWithout decodes the table raw (at dotted key) into dst without
// the keys named by problems.
func decodeWithout(raw map[string]any, key string, problems Problems, dst any) {
	bad := map[string]bool{}
	for _, p := range problems {
		bad[p.Key] = true
	}
	rest := map[string]any{}
	for k, v := range raw {
		rest[k] = v
	}
	dropKeys(rest, key, bad)
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(rest); err != nil {
		return
	}
	_, _ = toml.Decode(buf.String(), dst)
}

// dropKeys deletes the entries of raw whose dotted paths (as checkTable
// writes them) are in bad.
func dropKeys(raw map[string]any, prefix string, bad map[string]bool) {
	for k, v := range raw {
		path := joinKey(prefix, k)
		if bad[path] {
			delete(raw, k)
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			dropKeys(x, path, bad)
		case []map[string]any:
			for i, item := range x {
				dropKeys(item, fmt.Sprintf("%s[%d]", path, i), bad)
			}
		case []any:
			for i, item := range x {
				if m, ok := item.(map[string]any); ok {
					dropKeys(m, fmt.Sprintf("%s[%d]", path, i), bad)
				}
			}
		}
	}
}

// relatedToAny reports whether key is one of the problems' keys, inside one,
// or contains one: a consequence of a key already reported.
func relatedToAny(key string, ps Problems) bool {
	for _, p := range ps {
		if strings.EqualFold(key, p.Key) || strings.HasPrefix(key, p.Key+".") || strings.HasPrefix(key, p.Key+"[") ||
			strings.HasPrefix(p.Key, key+".") || strings.HasPrefix(p.Key, key+"[") {
			return true
		}
	}
	return false
}

// isOrInside reports whether key is one of the problems' keys or lies
// inside one.
func isOrInside(key string, ps Problems) bool {
	for _, p := range ps {
		if key == p.Key || strings.HasPrefix(key, p.Key+".") || strings.HasPrefix(key, p.Key+"[") {
			return true
		}
	}
	return false
}

// isSearchTable reports whether key lies inside a sub-table of [search].
func isSearchTable(key string, searchRaw map[string]any) bool {
	rest, ok := strings.CutPrefix(key, "search.")
	if !ok {
		return false
	}
	name, _, _ := strings.Cut(rest, ".")
	_, isTable := searchRaw[name].(map[string]any)
	return isTable
}

// applyDefaults fills the documented defaults of optional fields; an
// objective's metric and direction default to the catalog's.
func (e *Experiment) applyDefaults(cat Catalog) {
	if e.Models.Benchmark != "" && e.Models.Recipe == "" {
		e.Models.Recipe = RecipeFull
	}
	if len(e.Objectives) == 0 {
		e.Objectives = []Objective{{Task: TaskAll}}
	}
	for i := range e.Objectives {
		o := &e.Objectives[i]
		if names := cat.MetricNames(); o.Metric == "" && len(names) > 0 {
			o.Metric = names[0]
		}
		if o.Direction == "" {
			if dir, ok := cat.MetricDirection(o.Metric); ok {
				o.Direction = dir
			}
		}
	}
}

func (e *Experiment) resolvePaths(dir string) {
	e.MapPaths(func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	})
}

// MapPaths rewrites every file path the experiment names (checkpoints, the
// cache directory, and the paths in the algorithm's and the evaluator's
// tables) with f.
func (e *Experiment) MapPaths(f func(string) string) {
	e.Models.Base = f(e.Models.Base)
	e.Models.CacheDir = f(e.Models.CacheDir)
	for i := range e.Models.Experts {
		e.Models.Experts[i].Path = f(e.Models.Experts[i].Path)
	}
	for _, t := range []Table{e.Search.Table, e.Evaluator.Table} {
		if t != nil {
			t.MapPaths(f)
		}
	}
}

// CiteAs makes e's problems name other's file and lines: the resolved
// copy a run decodes from its directory reports problems in the user's
// file, where they can be fixed.
func (e *Experiment) CiteAs(other *Experiment) { e.file, e.lines = other.file, other.lines }

// File is the name the experiment was decoded from.
func (e *Experiment) File() string { return e.file }

// Problem builds a Problem about a dotted key of the experiment, with its
// line when it can be found.
func (e *Experiment) Problem(key, msg string) Problem {
	p := Problem{File: e.file, Key: key, Msg: msg}
	if e.lines != nil {
		// A key the file does not have (a missing value) points at the
		// nearest table that is there.
		for k := key; p.Line == 0 && k != ""; {
			p.Line = findIndexed(e.lines, k)
			i := strings.LastIndexByte(k, '.')
			if i < 0 {
				break
			}
			k = k[:i]
		}
	}
	return p
}

var indexedRE = regexp.MustCompile(`^(.*?)\[(\d+)\](.*)$`)

// findIndexed locates a dotted key whose first array index refers to an
// array of tables ("objectives[1].task" is in the second [[objectives]]
// table), falling back to the index-free lookup.
func findIndexed(li *lineIndex, key string) int {
	m := indexedRE.FindStringSubmatch(key)
	if m == nil {
		return li.findPath(key)
	}
	table, rest := m[1], strings.TrimPrefix(m[3], ".")
	n := 0
	for _, c := range m[2] {
		n = n*10 + int(c-'0')
	}
	seen := -1
	for i, line := range li.lines {
		h := headerRE.FindStringSubmatch(line)
		if h == nil || !strings.HasPrefix(strings.TrimSpace(line), "[[") {
			continue
		}
		if strings.ReplaceAll(h[1], " ", "") != table {
			continue
		}
		seen++
		if seen != n {
			continue
		}
		if rest == "" {
			return i + 1
		}
		// The key inside this table: an assignment before the next header.
		leaf := arrayIndexRE.ReplaceAllString(rest, "")
		for j := i + 1; j < len(li.lines); j++ {
			if headerRE.MatchString(li.lines[j]) {
				break
			}
			k, _, ok := strings.Cut(li.lines[j], "=")
			if ok && strings.ReplaceAll(strings.TrimSpace(k), " ", "") == leaf {
				return j + 1
			}
		}
		return i + 1
	}
	return li.findPath(key)
}

// RunDir is the run directory: experiment.output, or runs/<name>.
func (e *Experiment) RunDir() string {
	if e.Experiment.Output != "" {
		return e.Experiment.Output
	}
	return filepath.Join(DefaultRunsDir, e.Experiment.Name)
}

// validate checks everything that does not depend on the operator or the
// model pool and returns all problems at once.
func (e *Experiment) validate(cat Catalog) error {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, e.Problem(key, fmt.Sprintf(format, args...)))
	}
	// [experiment]
	switch {
	case strings.TrimSpace(e.Experiment.Name) == "":
		add("experiment.name", "missing: name the experiment (it names the run directory runs/<name>)")
	case !nameRE.MatchString(e.Experiment.Name):
		add("experiment.name", "%q: use letters, digits, '.', '_' and '-' only, starting with a letter or digit", e.Experiment.Name)
	}
	// [models]
	m := e.Models
	if m.Benchmark == "" && len(m.Experts) == 0 {
		add("models", "missing: name a built-in benchmark (models.benchmark = \"mnist-tasks\") or list checkpoints as [[models.experts]] with name and path")
	}
	switch m.Recipe {
	case "", RecipeFull, RecipeSmoke:
		if m.Recipe != "" && m.Benchmark == "" {
			add("models.recipe", "a preparation recipe applies only to a built-in benchmark: set models.benchmark or remove it")
		}
	default:
		add("models.recipe", "unknown recipe %q: use %q or %q", m.Recipe, RecipeFull, RecipeSmoke)
	}
	if m.Base != "" && len(m.Experts) == 0 {
		add("models.base", "a base without experts: list the experts as [[models.experts]] too, or remove the base to use the benchmark's")
	}
	names := map[string]int{}
	for i, x := range m.Experts {
		key := fmt.Sprintf("models.experts[%d]", i)
		switch {
		case strings.TrimSpace(x.Name) == "":
			add(key+".name", "missing: give each expert a name")
		case names[x.Name] > 0:
			add(key+".name", "expert name %q is used twice (also by expert %d); names must be unique", x.Name, names[x.Name]-1)
		default:
			names[x.Name] = i + 1
		}
		if strings.TrimSpace(x.Path) == "" {
			add(key+".path", "missing: give the checkpoint path (a .safetensors file, an index .json, or a directory)")
		}
	}
	// [merge]
	if strings.TrimSpace(e.Merge.Operator) == "" {
		add("merge.operator", "missing: name the merge operator, e.g. operator = \"task_arithmetic\" (`evomerge methods` lists them)")
	}
	for _, k := range sortedKeys(e.Merge.Params) {
		if err := checkParamValue(e.Merge.Params[k], true); err != nil {
			add("merge.params."+k, "%v", err)
		}
	}
	for _, g := range sortedKeys(e.Merge.Groups) {
		for _, k := range sortedKeys(e.Merge.Groups[g]) {
			if err := checkParamValue(e.Merge.Groups[g][k], true); err != nil {
				add("merge.groups."+g+"."+k, "%v", err)
			}
		}
	}
	for i, p := range e.Merge.TaskTensors {
		if strings.TrimSpace(p) == "" {
			add(fmt.Sprintf("merge.task_tensors[%d]", i), "empty pattern; give a prefix such as \"heads.\" or a glob")
		}
	}
	for i, s := range e.Merge.Search {
		key := fmt.Sprintf("merge.search[%d]", i)
		if strings.TrimSpace(s.Param) == "" {
			add(key+".param", "missing: name the operator parameter to search")
		}
		if s.PerGroup && len(s.Groups) > 0 {
			add(key+".groups", "give either per_group = true (every layer group) or a list of groups, not both")
		}
		for j, g := range s.Groups {
			if strings.TrimSpace(g) == "" {
				add(fmt.Sprintf("%s.groups[%d]", key, j), "empty layer group name")
			}
		}
		for _, b := range []struct {
			name string
			v    *float64
		}{{"lower", s.Lower}, {"upper", s.Upper}} {
			if b.v != nil && (math.IsNaN(*b.v) || math.IsInf(*b.v, 0)) {
				add(key+"."+b.name, "%v is not a finite number", *b.v)
			}
		}
		if s.Lower != nil && s.Upper != nil && *s.Lower > *s.Upper {
			add(key+".lower", "lower bound %g is above upper bound %g: swap them", *s.Lower, *s.Upper)
		}
	}
	// [search]
	sr := e.Search
	switch {
	case sr.Algorithm == "":
		add("search.algorithm", "missing: choose one of %s", strings.Join(cat.AlgorithmNames(), ", "))
	case sr.Table == nil:
		add("search.algorithm", "unknown algorithm %q: choose one of %s", sr.Algorithm, strings.Join(cat.AlgorithmNames(), ", "))
	default:
		// The algorithm's defaults and checks, of its table and of what it
		// constrains elsewhere (the operator, [[merge.search]], the budget).
		sr.Table.Complete(e, func(key, msg string) { ps = append(ps, e.Problem(key, msg)) })
	}
	if sr.MaxEvaluations < 0 {
		add("search.max_evaluations", "%d: give a positive count (0 means no limit)", sr.MaxEvaluations)
	}
	if sr.MaxGenerations < 0 {
		add("search.max_generations", "%d: give a positive count (0 means no limit)", sr.MaxGenerations)
	}
	if sr.MaxTime < 0 {
		add("search.max_time", "%v: give a positive duration such as \"10m\" (0 means no limit)", sr.MaxTime)
	}
	if sr.Concurrency < 0 {
		add("search.concurrency", "%d: give a positive count (0 means 1; each evaluation already uses every core)", sr.Concurrency)
	}
	// [[objectives]]
	seen := map[string]int{}
	for i, o := range e.Objectives {
		key := fmt.Sprintf("objectives[%d]", i)
		if strings.TrimSpace(o.Task) == "" {
			add(key+".task", "missing: give a task name, %q (one objective per task) or %q (mean over tasks)", TaskAll, TaskMean)
		}
		if _, ok := cat.MetricDirection(o.Metric); !ok && o.Metric != "" {
			kind := e.Evaluator.Kind
			if kind == "" {
				if names := cat.EvaluatorNames(); len(names) > 0 {
					kind = names[0]
				}
			}
			switch {
			case !cat.AnyMetric(kind):
				add(key+".metric", "unknown metric %q: use %s (an evaluator of kind \"command\" may report metrics of its own)", o.Metric, quotedList(cat.MetricNames(), "or"))
			case o.Direction == "":
				add(key+".direction", "missing: %q is a metric of your evaluator, not one evomerge knows, so say whether it is better high or low: direction = \"maximize\" or \"minimize\"", o.Metric)
			}
		}
		switch strings.ToLower(o.Direction) {
		case "", "maximize", "minimize":
			if o.Direction != strings.ToLower(o.Direction) {
				add(key+".direction", "write %q in lower case", strings.ToLower(o.Direction))
			}
		default:
			add(key+".direction", "unknown direction %q: use \"maximize\" or \"minimize\"", o.Direction)
		}
		id := o.Task + "/" + o.Metric
		if j, dup := seen[id]; dup {
			add(key, "the same objective as objectives[%d] (%s); list each once", j, id)
		}
		seen[id] = i
	}
	// [evaluator]: the kind's defaults and checks, of its keys and of what
	// it needs elsewhere (a benchmark's task data).
	if ev := e.Evaluator; ev.Table == nil {
		add("evaluator.kind", "unknown evaluator %q: use %s", ev.Kind, quotedList(cat.EvaluatorNames(), "or"))
	} else {
		ev.Table.Complete(e, func(key, msg string) { ps = append(ps, e.Problem(key, msg)) })
	}
	// [report]
	if e.Report.Top < 0 {
		add("report.top", "%d: give a positive count (0 means every front member)", e.Report.Top)
	}
	return ps.Err()
}

// resolvedSearch is Search as written to a resolved config; the chosen
// algorithm's settings follow as [search.<algorithm>].
type resolvedSearch struct {
	Algorithm      string        `toml:"algorithm"`
	MaxEvaluations int           `toml:"max_evaluations,omitzero"`
	MaxGenerations int           `toml:"max_generations,omitzero"`
	MaxTime        time.Duration `toml:"max_time,omitzero"`
	Concurrency    int           `toml:"concurrency,omitzero"`
}

// resolvedHead is the resolved config before the algorithm's table.
type resolvedHead struct {
	Format     int            `toml:"format"`
	Experiment ExperimentInfo `toml:"experiment"`
	Models     Models         `toml:"models"`
	Merge      MergeSearch    `toml:"merge"`
	Search     resolvedSearch `toml:"search"`
}

// resolvedObjectives and resolvedReport are the tables around
// [evaluator], which holds the evaluator kind's settings.
type resolvedObjectives struct {
	Objectives []Objective `toml:"objectives"`
}

type resolvedReport struct {
	Report Report `toml:"report"`
}

// Encode renders the experiment, defaults filled in, as TOML that
// DecodeExperiment reads back to the same values: the run directory's
// config.toml.
func (e *Experiment) Encode() ([]byte, error) {
	head := resolvedHead{
		Format:     ResolvedFormat,
		Experiment: e.Experiment, Models: e.Models, Merge: e.Merge,
		Search: resolvedSearch{
			Algorithm: e.Search.Algorithm, MaxEvaluations: e.Search.MaxEvaluations,
			MaxGenerations: e.Search.MaxGenerations, MaxTime: e.Search.MaxTime,
			Concurrency: e.Search.Concurrency,
		},
	}
	var buf bytes.Buffer
	buf.WriteString("# Resolved experiment configuration: defaults filled in (settings whose default\n# depends on the search space, such as mutation_prob = 1/n, stay absent and are\n# computed when the run starts). `evomerge resume` rebuilds the run from this\n# file; do not edit it.\n\n")
	encode := func(w *bytes.Buffer, v any) error {
		enc := toml.NewEncoder(w)
		enc.Indent = ""
		return enc.Encode(v)
	}
	if err := encode(&buf, head); err != nil {
		return nil, fmt.Errorf("experiment: encode: %w", err)
	}
	if e.Search.Table != nil {
		var table bytes.Buffer
		if err := encode(&table, map[string]map[string]any{"search": {e.Search.Algorithm: e.Search.Table.Target()}}); err != nil {
			return nil, fmt.Errorf("experiment: encode search.%s: %w", e.Search.Algorithm, err)
		}
		// [search] is above already; its sub-table follows it.
		buf.WriteString("\n")
		buf.Write(bytes.TrimPrefix(table.Bytes(), []byte("[search]\n")))
	}
	buf.WriteString("\n")
	if err := encode(&buf, resolvedObjectives{Objectives: e.Objectives}); err != nil {
		return nil, fmt.Errorf("experiment: encode: %w", err)
	}
	var ev bytes.Buffer
	if err := encode(&ev, map[string]any{"evaluator": e.Evaluator.target()}); err != nil {
		return nil, fmt.Errorf("experiment: encode evaluator: %w", err)
	}
	// kind comes first in [evaluator], before the kind's settings.
	var kind bytes.Buffer
	if err := encode(&kind, struct {
		Kind string `toml:"kind"`
	}{e.Evaluator.Kind}); err != nil {
		return nil, fmt.Errorf("experiment: encode evaluator: %w", err)
	}
	buf.WriteString("\n[evaluator]\n")
	buf.Write(kind.Bytes())
	buf.Write(bytes.TrimPrefix(ev.Bytes(), []byte("[evaluator]\n")))
	buf.WriteString("\n")
	if err := encode(&buf, resolvedReport{Report: e.Report}); err != nil {
		return nil, fmt.Errorf("experiment: encode: %w", err)
	}
	return buf.Bytes(), nil
}
