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

// Search algorithm names accepted in search.algorithm.
const (
	AlgorithmRandom = "random"
	AlgorithmNSGA2  = "nsga2"
	AlgorithmGA     = "ga"
	AlgorithmCMAES  = "cmaes"
)

// Algorithms lists the search algorithms an experiment may name, in the
// order the documentation lists them.
func Algorithms() []string {
	return []string{AlgorithmRandom, AlgorithmNSGA2, AlgorithmGA, AlgorithmCMAES,
		AlgorithmAdaMerging, AlgorithmFW, AlgorithmM2N2, AlgorithmMAP}
}

// Evaluator kinds accepted in evaluator.kind.
const (
	EvaluatorNative  = "native"
	EvaluatorCommand = "command"
	// EvaluatorNATS sends candidates to `evomerge worker` processes through
	// NATS JetStream; workers score them natively.
	EvaluatorNATS = "nats"
)

// Objective metrics accepted in objectives[].metric.
const (
	MetricAccuracy   = "accuracy"
	MetricNormalized = "normalized_accuracy"
	MetricLoss       = "loss"
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

	// Method tables, decoded only for the chosen algorithm.
	RandomTable toml.Primitive `toml:"random,omitempty"`
	NSGA2Table  toml.Primitive `toml:"nsga2,omitempty"`
	GATable     toml.Primitive `toml:"ga,omitempty"`
	CMAESTable  toml.Primitive `toml:"cmaes,omitempty"`
	AdaTable    toml.Primitive `toml:"adamerging,omitempty"`
	FWTable     toml.Primitive `toml:"fw,omitempty"`
	M2N2Table   toml.Primitive `toml:"m2n2,omitempty"`
	MAPTable    toml.Primitive `toml:"map,omitempty"`

	// The decoded settings of the chosen algorithm (the others stay zero).
	Random RandomSettings `toml:"-"`
	NSGA2  NSGA2Settings  `toml:"-"`
	GA     GASettings     `toml:"-"`
	CMAES  CMAESSettings  `toml:"-"`
	// AdaMerging, FW, M2N2 and MAP: see experiment_algorithms.go.
	AdaMerging AdaMergingSettings `toml:"-"`
	FW         FWSettings         `toml:"-"`
	M2N2       M2N2Settings       `toml:"-"`
	MAP        MAPSettings        `toml:"-"`
}

// RandomSettings is [search.random]. Zero values take the method defaults.
type RandomSettings struct {
	// BatchSize is the number of candidates per batch (default 16).
	BatchSize int `toml:"batch_size,omitempty"`
	// Sampling is "uniform" (default) or "lhs" (Latin hypercube per batch).
	Sampling string `toml:"sampling,omitempty"`
}

// NSGA2Settings is [search.nsga2]. Zero values take the defaults of Deb et
// al. (2002).
type NSGA2Settings struct {
	// PopulationSize is μ = λ (default 100, at least 4).
	PopulationSize int `toml:"population_size,omitempty"`
	// CrossoverProb is the SBX probability per pair (default 0.9; 0: no
	// crossover, children are mutated copies of their parents).
	CrossoverProb *float64 `toml:"crossover_prob,omitempty"`
	// CrossoverEta is the SBX distribution index (default 20).
	CrossoverEta float64 `toml:"crossover_eta,omitempty"`
	// MutationProb is the polynomial mutation probability per variable
	// (absent: 1/n for n searched dimensions, computed when the run starts;
	// 0: no mutation).
	MutationProb *float64 `toml:"mutation_prob,omitempty"`
	// MutationEta is the mutation distribution index (default 20).
	MutationEta float64 `toml:"mutation_eta,omitempty"`
	// StartPoints seed the first population: "defaults" (the operator's
	// default values), "average" (every expert weighted equally: plain
	// weight averaging where the operator can express it),
	// "adamerging:<dir>" (the coefficients learned by the AdaMerging run in
	// <dir>, or its adamerging.json, matched to this run's dimensions by
	// name; a relative path is relative to the config file), any of them,
	// or none.
	StartPoints []string `toml:"start_points,omitempty"`
}

// Scalarization turns several objectives into one cost for single-objective
// algorithms (ga, cmaes).
type Scalarization struct {
	// Method is "weighted-sum" (default) or "chebyshev".
	Method string `toml:"method,omitempty"`
	// Weights has one non-negative weight per objective (default: equal).
	Weights []float64 `toml:"weights,omitempty"`
	// Ideal is Chebyshev's reference point, one value per objective.
	Ideal []float64 `toml:"ideal,omitempty"`
	// Rho is Chebyshev's augmentation (default 0).
	Rho float64 `toml:"rho,omitempty"`
}

// GASettings is [search.ga]. Zero values take the method defaults.
type GASettings struct {
	PopulationSize   int           `toml:"population_size,omitempty"`    // default 40
	Tournament       int           `toml:"tournament,omitempty"`         // default 3
	CrossoverRate    *float64      `toml:"crossover_rate,omitempty"`     // default 0.8; 0: no crossover
	BlendAlpha       *float64      `toml:"blend_alpha,omitempty"`        // default 0.5; 0: children inside the parents' box
	MutationRate     *float64      `toml:"mutation_rate,omitempty"`      // default 0.3; 0: no mutation
	MutationSigma    float64       `toml:"mutation_sigma,omitempty"`     // default 0.1
	GeneMutationProb *float64      `toml:"gene_mutation_prob,omitempty"` // absent: 1/n; 0: one gene per mutated child
	Elite            *int          `toml:"elite,omitempty"`              // default 1; 0: no elitism
	StartPoints      []string      `toml:"start_points,omitempty"`
	Scalarization    Scalarization `toml:"scalarization,omitempty"`
}

// CMAESSettings is [search.cmaes]. Zero values take the method defaults.
type CMAESSettings struct {
	// PopulationSize is λ (default max(4 + ⌊3 ln n⌋, 4n) for the full
	// variant, 4 + ⌊3 ln n⌋ for the diagonal one; search/cmaes
	// DefaultPopulation).
	PopulationSize int `toml:"population_size,omitempty"`
	// StepSize is the initial σ in unit-cube coordinates (default 0.3).
	StepSize float64 `toml:"step_size,omitempty"`
	// Covariance is "auto" (default: the full covariance up to 4
	// dimensions, search/cmaes DefaultSeparableAbove, the diagonal one
	// above), "full" or "diagonal" (separable CMA-ES).
	Covariance    string        `toml:"covariance,omitempty"`
	StartPoints   []string      `toml:"start_points,omitempty"`
	Scalarization Scalarization `toml:"scalarization,omitempty"`
}

// Objective is one score the search optimises.
type Objective struct {
	// Task is a task name, "all" (one objective per task) or "mean" (the
	// mean over tasks).
	Task string `toml:"task,omitempty"`
	// Metric is accuracy (default), normalized_accuracy or loss.
	Metric string `toml:"metric,omitempty"`
	// Direction is maximize or minimize; default by metric.
	Direction string `toml:"direction,omitempty"`
}

// Evaluator says how candidates are scored.
type Evaluator struct {
	// Kind is native (default: Go-native inference on the benchmark's fitness
	// split) or command.
	Kind string `toml:"kind,omitempty"`
	// Command is the argv of the command evaluator (no shell); "{model}" is
	// replaced by the merged checkpoint file, "{dir}" by its directory.
	Command []string `toml:"command,omitempty"`
	// Timeout bounds one evaluation: of the command evaluator (default
	// 10m), or one attempt on a NATS worker (default 30m).
	Timeout time.Duration `toml:"timeout,omitempty"`
	// Server is the NATS server or cluster of the nats evaluator, e.g.
	// "nats://n1:4222,nats://n2:4222"; empty when the run serves one itself
	// (`evomerge run --serve-nats HOST:PORT`).
	Server string `toml:"server,omitempty"`
	// Examples limits the fitness split to its first Examples examples per
	// task (0: all).
	Examples int `toml:"examples,omitempty"`
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

// Defaults applied by DecodeExperiment.
const (
	DefaultCommandTimeout = 10 * time.Minute
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// LoadResolved reads a run directory's config.toml (the resolved
// configuration Encode wrote): LoadExperiment, then UpgradeResolved so files
// of older versions mean what they meant when their run started.
func LoadResolved(path string) (*Experiment, error) {
	e, err := LoadExperiment(path)
	if err != nil {
		return nil, err
	}
	e.UpgradeResolved()
	return e, nil
}

// DecodeResolved is LoadResolved on a file's contents.
func DecodeResolved(name string, data []byte) (*Experiment, error) {
	e, err := DecodeExperiment(name, data)
	if err != nil {
		return nil, err
	}
	e.UpgradeResolved()
	return e, nil
}

// LoadExperiment reads, strictly decodes and validates an experiment file.
// Relative checkpoint paths and cache_dir are resolved against the file's
// directory; experiment.output stays relative to the working directory.
func LoadExperiment(path string) (*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	e, err := DecodeExperiment(path, data)
	if err != nil {
		return nil, err
	}
	e.resolvePaths(filepath.Dir(path))
	return e, nil
}

// DecodeExperiment strictly decodes an experiment (file names it in
// errors), decodes the chosen algorithm's table, rejects keys nobody read,
// fills defaults and validates. All problems are returned at once as
// Problems.
func DecodeExperiment(file string, data []byte) (*Experiment, error) {
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
	tables := []struct {
		algo string
		prim toml.Primitive
		dst  any
	}{
		{AlgorithmRandom, e.Search.RandomTable, &e.Search.Random},
		{AlgorithmNSGA2, e.Search.NSGA2Table, &e.Search.NSGA2},
		{AlgorithmGA, e.Search.GATable, &e.Search.GA},
		{AlgorithmCMAES, e.Search.CMAESTable, &e.Search.CMAES},
		{AlgorithmAdaMerging, e.Search.AdaTable, &e.Search.AdaMerging},
		{AlgorithmFW, e.Search.FWTable, &e.Search.FW},
		{AlgorithmM2N2, e.Search.M2N2Table, &e.Search.M2N2},
		{AlgorithmMAP, e.Search.MAPTable, &e.Search.MAP},
	}
	for _, tb := range tables {
		sub, present := searchRaw[tb.algo]
		if !present {
			continue
		}
		key := "search." + tb.algo
		if tb.algo != e.Search.Algorithm {
			ps = append(ps, e.Problem(key, fmt.Sprintf("settings for %s, but search.algorithm is %q: remove this table or change the algorithm", tb.algo, e.Search.Algorithm)))
			continue
		}
		var typeProblems Problems
		checkValue(sub, reflect.TypeOf(tb.dst).Elem(), key, file, e.lines, &typeProblems)
		if len(typeProblems) > 0 {
			ps = append(ps, typeProblems...)
			// Decode the rest of the table, so its other problems are
			// listed with these.
			if m, ok := sub.(map[string]any); ok {
				decodeWithout(m, key, typeProblems, tb.dst)
			}
			continue
		}
		if err := md.PrimitiveDecode(tb.prim, tb.dst); err != nil {
			ps = append(ps, e.Problem(key, err.Error()))
		}
	}
	if len(ps) == 0 && len(schema) == 0 {
		if err := CheckUndecoded(file, data, md); err != nil {
			if more, ok := err.(Problems); ok {
				// Keys inside tables of another algorithm were reported above.
				for _, p := range more {
					if !strings.HasPrefix(p.Key, "search.") || !isAlgorithmTable(p.Key) {
						ps = append(ps, p)
					}
				}
			}
		}
	}
	e.applyDefaults()
	if err := e.Validate(); err != nil {
		if more, ok := err.(Problems); ok {
			for _, p := range more {
				if !relatedToAny(p.Key, schema) {
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

func isAlgorithmTable(key string) bool {
	for _, a := range Algorithms() {
		if key == "search."+a || strings.HasPrefix(key, "search."+a+".") {
			return true
		}
	}
	return false
}

// applyDefaults fills the documented defaults of optional fields.
func (e *Experiment) applyDefaults() {
	if e.Models.Benchmark != "" && e.Models.Recipe == "" {
		e.Models.Recipe = RecipeFull
	}
	if e.Evaluator.Kind == "" {
		e.Evaluator.Kind = EvaluatorNative
	}
	if e.Evaluator.Kind == EvaluatorCommand && e.Evaluator.Timeout == 0 {
		e.Evaluator.Timeout = DefaultCommandTimeout
	}
	if len(e.Objectives) == 0 {
		e.Objectives = []Objective{{Task: TaskAll}}
	}
	e.applyAlgorithmDefaults()
	for i := range e.Objectives {
		o := &e.Objectives[i]
		if o.Metric == "" {
			o.Metric = MetricAccuracy
		}
		if o.Direction == "" {
			switch o.Metric {
			case MetricLoss:
				o.Direction = "minimize"
			case MetricAccuracy, MetricNormalized:
				o.Direction = "maximize"
			}
		}
	}
}

func (e *Experiment) resolvePaths(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	e.Models.Base = abs(e.Models.Base)
	e.Models.CacheDir = abs(e.Models.CacheDir)
	for i := range e.Models.Experts {
		e.Models.Experts[i].Path = abs(e.Models.Experts[i].Path)
	}
	e.MapStartPointPaths(abs)
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

// Validate checks everything that does not depend on the operator or the
// model pool and returns all problems at once.
func (e *Experiment) Validate() error {
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
	switch {
	case e.Search.DerivesSpace() && len(e.Merge.Search) > 0:
		add("merge.search", "%s derives its own coefficients: remove the [[merge.search]] tables", e.Search.Algorithm)
	case !e.Search.DerivesSpace() && len(e.Merge.Search) == 0:
		add("merge.search", "missing: list the searched parameters as [[merge.search]] tables, e.g. param = \"weight\", per_model = true")
	}
	switch e.Search.Algorithm {
	case AlgorithmAdaMerging:
		if e.Merge.Operator != "" && e.Merge.Operator != "task_arithmetic" {
			add("merge.operator", "AdaMerging learns task-arithmetic coefficients: set operator = \"task_arithmetic\"")
		}
	case AlgorithmFW:
		if e.Merge.Operator != "" && e.Merge.Operator != "task_arithmetic" {
			add("merge.operator", "%q: FW-Merging's result is recorded as per-tensor task-arithmetic coefficients of the pool, which only the task-arithmetic update rule produces; set operator = \"task_arithmetic\" (the TIES update rule is available in Go through evaluate/gradient)", e.Merge.Operator)
		}
	case AlgorithmM2N2:
		if e.Merge.Operator != "" && e.Merge.Operator != "m2n2" {
			add("merge.operator", "M2N2 merges by split-point SLERP crossover: set operator = \"m2n2\"")
		}
	}
	if e.Search.DerivesSpace() && (len(e.Merge.Params) > 0 || len(e.Merge.Groups) > 0) {
		add("merge.params", "%s sets every merge coefficient itself: remove merge.params and merge.groups", e.Search.Algorithm)
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
	known := false
	for _, a := range Algorithms() {
		known = known || sr.Algorithm == a
	}
	switch {
	case sr.Algorithm == "":
		add("search.algorithm", "missing: choose one of %s", strings.Join(Algorithms(), ", "))
	case !known:
		add("search.algorithm", "unknown algorithm %q: choose one of %s", sr.Algorithm, strings.Join(Algorithms(), ", "))
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
	if sr.MaxEvaluations == 0 && sr.MaxGenerations == 0 && sr.MaxTime == 0 && !sr.Singular() && sr.Algorithm != AlgorithmMAP {
		add("search", "no budget: set max_evaluations, max_generations or max_time")
	}
	if sr.Concurrency < 0 {
		add("search.concurrency", "%d: give a positive count (0 means 1; each evaluation already uses every core)", sr.Concurrency)
	}
	switch sr.Algorithm {
	case AlgorithmRandom:
		validateRandom(sr.Random, add)
	case AlgorithmNSGA2:
		validateNSGA2(sr.NSGA2, add)
	case AlgorithmGA:
		validateGA(sr.GA, len(e.Objectives), add)
	case AlgorithmCMAES:
		validateCMAES(sr.CMAES, len(e.Objectives), add)
	case AlgorithmAdaMerging:
		validateAdaMerging(sr.AdaMerging, add)
	case AlgorithmFW:
		validateFW(sr.FW, add)
	case AlgorithmM2N2:
		validateM2N2(sr.M2N2, add)
		if e.Evaluator.Kind != EvaluatorNative {
			add("evaluator.kind", "M2N2 scores recipe genomes with its own lineage evaluator: use kind = \"native\"")
		}
	case AlgorithmMAP:
		validateMAP(sr.MAP, len(e.Objectives), add)
	}
	if (sr.Algorithm == AlgorithmAdaMerging || sr.Algorithm == AlgorithmFW) && e.Evaluator.Kind != EvaluatorNative {
		add("evaluator.kind", "%s needs the Go-native backend's gradients: use kind = \"native\"", sr.Algorithm)
	}
	// [[objectives]]
	seen := map[string]int{}
	for i, o := range e.Objectives {
		key := fmt.Sprintf("objectives[%d]", i)
		if strings.TrimSpace(o.Task) == "" {
			add(key+".task", "missing: give a task name, %q (one objective per task) or %q (mean over tasks)", TaskAll, TaskMean)
		}
		switch o.Metric {
		case "", MetricAccuracy, MetricNormalized, MetricLoss:
		default:
			add(key+".metric", "unknown metric %q: use %q, %q or %q", o.Metric, MetricAccuracy, MetricNormalized, MetricLoss)
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
	// [evaluator]
	ev := e.Evaluator
	switch ev.Kind {
	case EvaluatorNative:
		if m.Benchmark == "" {
			add("evaluator.kind", "the native evaluator scores on a built-in benchmark's task data: set models.benchmark, or use kind = \"command\"")
		}
		if len(ev.Command) > 0 {
			add("evaluator.command", "a command is only used by kind = \"command\"")
		}
	case EvaluatorCommand:
		if len(ev.Command) == 0 || strings.TrimSpace(ev.Command[0]) == "" {
			add("evaluator.command", "missing: give the argv of the scoring command, e.g. [\"python\", \"score.py\", \"{model}\"]")
		}
	case EvaluatorNATS:
		if m.Benchmark == "" {
			add("evaluator.kind", "NATS workers score natively on a built-in benchmark's task data: set models.benchmark")
		}
		if len(ev.Command) > 0 {
			add("evaluator.command", "a command is only used by kind = \"command\"")
		}
	default:
		add("evaluator.kind", "unknown evaluator %q: use %q, %q or %q", ev.Kind, EvaluatorNative, EvaluatorCommand, EvaluatorNATS)
	}
	if ev.Server != "" && ev.Kind != EvaluatorNATS {
		add("evaluator.server", "a server is only used by kind = \"nats\"")
	}
	if ev.Timeout < 0 {
		add("evaluator.timeout", "%v: give a positive duration", ev.Timeout)
	}
	if ev.Examples < 0 {
		add("evaluator.examples", "%d: give a positive count (0 means the whole fitness split)", ev.Examples)
	}
	// [report]
	if e.Report.Top < 0 {
		add("report.top", "%d: give a positive count (0 means every front member)", e.Report.Top)
	}
	return ps.Err()
}

type addFunc func(key, format string, args ...any)

var startPointNames = []string{"defaults", "average"}

func validateStartPoints(key string, pts []string, add addFunc) {
	seen := map[string]bool{}
	for i, p := range pts {
		k := fmt.Sprintf("%s[%d]", key, i)
		if path, ok := strings.CutPrefix(p, StartPointAdaMerging); ok {
			if strings.TrimSpace(path) == "" {
				add(k, "%q names no run: write \"adamerging:<run directory>\"", p)
			}
		} else if p != "defaults" && p != "average" {
			add(k, "unknown start point %q: use %q or \"%s<run directory>\"", p, strings.Join(startPointNames, "\", \""), StartPointAdaMerging)
		}
		if seen[p] {
			add(k, "%q is listed twice", p)
		}
		seen[p] = true
	}
}

func probIn(key string, v float64, add addFunc) {
	if math.IsNaN(v) || v < 0 || v > 1 {
		add(key, "%v: give a probability in [0, 1] (0 means the default)", v)
	}
}

// probPtrIn checks an optional probability whose 0 is a real value.
func probPtrIn(key string, v *float64, add addFunc) {
	if v != nil && (math.IsNaN(*v) || *v < 0 || *v > 1) {
		add(key, "%v: give a probability in [0, 1]", *v)
	}
}

func nonNegative(key string, v float64, add addFunc) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		add(key, "%v: give a finite non-negative number (0 means the default)", v)
	}
}

func validateRandom(s RandomSettings, add addFunc) {
	if s.BatchSize < 0 {
		add("search.random.batch_size", "%d: give a positive size (0 means 16)", s.BatchSize)
	}
	switch s.Sampling {
	case "", "uniform", "lhs":
	default:
		add("search.random.sampling", "unknown sampling %q: use \"uniform\" or \"lhs\"", s.Sampling)
	}
}

func validateNSGA2(s NSGA2Settings, add addFunc) {
	if s.PopulationSize != 0 && s.PopulationSize < 4 {
		add("search.nsga2.population_size", "%d is too small: use at least 4 (0 means 100)", s.PopulationSize)
	}
	probPtrIn("search.nsga2.crossover_prob", s.CrossoverProb, add)
	probPtrIn("search.nsga2.mutation_prob", s.MutationProb, add)
	nonNegative("search.nsga2.crossover_eta", s.CrossoverEta, add)
	nonNegative("search.nsga2.mutation_eta", s.MutationEta, add)
	validateStartPoints("search.nsga2.start_points", s.StartPoints, add)
}

func validateGA(s GASettings, objectives int, add addFunc) {
	if s.PopulationSize != 0 && s.PopulationSize < 4 {
		add("search.ga.population_size", "%d is too small: use at least 4 (0 means 40)", s.PopulationSize)
	}
	if s.Tournament < 0 {
		add("search.ga.tournament", "%d: give a positive size (0 means 3)", s.Tournament)
	}
	probPtrIn("search.ga.crossover_rate", s.CrossoverRate, add)
	probPtrIn("search.ga.mutation_rate", s.MutationRate, add)
	probPtrIn("search.ga.gene_mutation_prob", s.GeneMutationProb, add)
	if s.BlendAlpha != nil {
		if v := *s.BlendAlpha; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			add("search.ga.blend_alpha", "%v: give a finite non-negative number (0: children inside the parents' box)", v)
		}
	}
	nonNegative("search.ga.mutation_sigma", s.MutationSigma, add)
	if s.Elite != nil && *s.Elite < 0 {
		add("search.ga.elite", "%d: give a non-negative count (0: no elitism)", *s.Elite)
	}
	validateStartPoints("search.ga.start_points", s.StartPoints, add)
	validateScalarization("search.ga.scalarization", s.Scalarization, objectives, add)
}

func validateCMAES(s CMAESSettings, objectives int, add addFunc) {
	if s.PopulationSize != 0 && s.PopulationSize < 2 {
		add("search.cmaes.population_size", "%d is too small: use at least 2 (0 means max(4 + ⌊3 ln n⌋, 4n) for the full variant, 4 + ⌊3 ln n⌋ for the diagonal one)", s.PopulationSize)
	}
	if math.IsNaN(s.StepSize) || s.StepSize < 0 || s.StepSize > 1 {
		add("search.cmaes.step_size", "%v: give a step size in (0, 1] in unit-cube coordinates (0 means 0.3)", s.StepSize)
	}
	switch s.Covariance {
	case "", "auto", "full", "diagonal":
	default:
		add("search.cmaes.covariance", "unknown covariance %q: use \"auto\", \"full\" or \"diagonal\"", s.Covariance)
	}
	validateStartPoints("search.cmaes.start_points", s.StartPoints, add)
	validateScalarization("search.cmaes.scalarization", s.Scalarization, objectives, add)
}

func validateScalarization(key string, s Scalarization, objectives int, add addFunc) {
	switch s.Method {
	case "", "weighted-sum", "chebyshev":
	default:
		add(key+".method", "unknown scalarization %q: use \"weighted-sum\" or \"chebyshev\"", s.Method)
	}
	for i, w := range s.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			add(fmt.Sprintf("%s.weights[%d]", key, i), "%v: weights must be finite and non-negative", w)
		}
	}
	if s.Method == "chebyshev" && len(s.Ideal) == 0 {
		add(key+".ideal", "missing: chebyshev needs an ideal point, one value per objective (1 for accuracies)")
	}
	for i, v := range s.Ideal {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			add(fmt.Sprintf("%s.ideal[%d]", key, i), "%v is not a finite number", v)
		}
	}
	nonNegative(key+".rho", s.Rho, add)
	_ = objectives // lengths are checked against the expanded objectives in internal/run
}

// resolvedSearch is Search as written to a resolved config: the chosen
// algorithm's decoded settings instead of the raw tables.
type resolvedSearch struct {
	Algorithm      string              `toml:"algorithm"`
	MaxEvaluations int                 `toml:"max_evaluations,omitzero"`
	MaxGenerations int                 `toml:"max_generations,omitzero"`
	MaxTime        time.Duration       `toml:"max_time,omitzero"`
	Concurrency    int                 `toml:"concurrency,omitzero"`
	Random         *RandomSettings     `toml:"random,omitempty"`
	NSGA2          *NSGA2Settings      `toml:"nsga2,omitempty"`
	GA             *GASettings         `toml:"ga,omitempty"`
	CMAES          *CMAESSettings      `toml:"cmaes,omitempty"`
	AdaMerging     *AdaMergingSettings `toml:"adamerging,omitempty"`
	FW             *FWSettings         `toml:"fw,omitempty"`
	M2N2           *M2N2Settings       `toml:"m2n2,omitempty"`
	MAP            *MAPSettings        `toml:"map,omitempty"`
}

type resolvedExperiment struct {
	Format     int            `toml:"format"`
	Experiment ExperimentInfo `toml:"experiment"`
	Models     Models         `toml:"models"`
	Merge      MergeSearch    `toml:"merge"`
	Search     resolvedSearch `toml:"search"`
	Objectives []Objective    `toml:"objectives"`
	Evaluator  Evaluator      `toml:"evaluator"`
	Report     Report         `toml:"report"`
}

// Encode renders the experiment, defaults filled in, as TOML that
// DecodeExperiment reads back to the same values: the run directory's
// config.toml.
func (e *Experiment) Encode() ([]byte, error) {
	out := resolvedExperiment{
		Format:     ResolvedFormat,
		Experiment: e.Experiment, Models: e.Models, Merge: e.Merge,
		Objectives: e.Objectives, Evaluator: e.Evaluator, Report: e.Report,
		Search: resolvedSearch{
			Algorithm: e.Search.Algorithm, MaxEvaluations: e.Search.MaxEvaluations,
			MaxGenerations: e.Search.MaxGenerations, MaxTime: e.Search.MaxTime,
			Concurrency: e.Search.Concurrency,
		},
	}
	switch e.Search.Algorithm {
	case AlgorithmRandom:
		out.Search.Random = &e.Search.Random
	case AlgorithmNSGA2:
		out.Search.NSGA2 = &e.Search.NSGA2
	case AlgorithmGA:
		out.Search.GA = &e.Search.GA
	case AlgorithmCMAES:
		out.Search.CMAES = &e.Search.CMAES
	case AlgorithmAdaMerging:
		out.Search.AdaMerging = &e.Search.AdaMerging
	case AlgorithmFW:
		out.Search.FW = &e.Search.FW
	case AlgorithmM2N2:
		out.Search.M2N2 = &e.Search.M2N2
	case AlgorithmMAP:
		out.Search.MAP = &e.Search.MAP
	}
	var buf bytes.Buffer
	buf.WriteString("# Resolved experiment configuration: defaults filled in (settings whose default\n# depends on the search space, such as mutation_prob = 1/n, stay absent and are\n# computed when the run starts). `evomerge resume` rebuilds the run from this\n# file; do not edit it.\n\n")
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("experiment: encode: %w", err)
	}
	return buf.Bytes(), nil
}
