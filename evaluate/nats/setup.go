package nats

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
)

// SetupVersion is the schema version of Setup.
const SetupVersion = 1

// ModelRef names a source checkpoint by content: a worker uses Path when the
// file there has the digest, else the file of that digest in its
// content-addressed source cache (SourceCache/sha256/<digest>), else a
// benchmark member with that digest.
type ModelRef struct {
	// Name is the model's name in the pool (the expert's task or member name).
	Name string `json:"name"`
	// Path is where the coordinator read it.
	Path string `json:"path"`
	// Digest is the hex sha256 of the file.
	Digest string `json:"digest"`
}

// BenchmarkRef names a built-in benchmark whose task data the evaluator
// scores on (internal/benchmarks); workers prepare it in their own cache.
type BenchmarkRef struct {
	Name string `json:"name"`
	// Smoke selects the benchmark's small smoke recipe.
	Smoke bool `json:"smoke,omitempty"`
	// CacheDir is the coordinator's benchmark cache root; a worker uses its
	// own (BuildOptions.BenchmarkCache) when set.
	CacheDir string `json:"cache_dir,omitempty"`
}

// Setup is everything a worker needs to build the coordinator's evaluator:
// its kind and settings (native by default), the model pool by content, the
// merge (operator, search space, fixed settings, seed, per-task tensors) and
// the tasks and objectives. It
// is sent once per run through the setups bucket, keyed by its Digest;
// requests carry only the digest. It holds references, never weights.
type Setup struct {
	V         int           `json:"v"`
	Benchmark *BenchmarkRef `json:"benchmark,omitempty"`
	// Base and Experts are the pool; Experts in model order.
	Base    *ModelRef  `json:"base,omitempty"`
	Experts []ModelRef `json:"experts"`
	// Operator is a builtin operator name (operators.Builtin).
	Operator string `json:"operator"`
	// Search is the searched space and fixed settings over the pool.
	Search      searchspace.Spec `json:"search"`
	Seed        uint64           `json:"seed"`
	TaskTensors []string         `json:"task_tensors,omitempty"`
	// Tasks are the scored task names (empty: all of the benchmark's);
	// Split is the fitness split ("" the benchmark's); Examples keeps the
	// first examples of each task's fitness data (0: all).
	Tasks      []string            `json:"tasks,omitempty"`
	Split      data.Split          `json:"split,omitempty"`
	Examples   int                 `json:"examples,omitempty"`
	Objectives []fitness.Objective `json:"objectives"`
	// BatchSize is the forward batch (0: the evaluator's default); scores do
	// not depend on it.
	BatchSize int `json:"batch_size,omitempty"`
	// Kind is the evaluator kind workers score with, built through its
	// registered factory ("": native, the one kind of setups before kinds
	// travelled). Settings are that kind's settings as the run's resolved
	// configuration states them: a JSON object keyed by their TOML names,
	// with TOML's values (durations as strings such as "10m0s"); the
	// native kind's examples travel in Examples. Both are left out of a
	// native setup with nothing else to say, so its digest is the one
	// earlier releases computed.
	Kind     string          `json:"kind,omitempty"`
	Settings json.RawMessage `json:"settings,omitempty"`
}

var digestPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate checks the setup's shape (not the files it names).
func (s *Setup) Validate() error {
	var errs []error
	if s.V != SetupVersion {
		errs = append(errs, fmt.Errorf("setup version %d: this evomerge reads version %d; run the same evomerge release on coordinator and workers", s.V, SetupVersion))
	}
	if len(s.Experts) == 0 {
		errs = append(errs, errors.New("setup has no expert checkpoints: list the pool's models"))
	}
	refs := append([]ModelRef(nil), s.Experts...)
	if s.Base != nil {
		refs = append(refs, *s.Base)
	}
	for _, r := range refs {
		if !digestPattern.MatchString(r.Digest) {
			errs = append(errs, fmt.Errorf("model %q: digest %q is not a hex sha256", r.Name, r.Digest))
		}
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("model %s: empty name: name every model", r.Path))
		}
	}
	if s.Operator == "" {
		errs = append(errs, errors.New("setup names no merge operator"))
	}
	if len(s.Objectives) == 0 {
		errs = append(errs, errors.New("setup has no objectives"))
	}
	if s.Examples < 0 || s.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("examples %d and batch size %d must not be negative", s.Examples, s.BatchSize))
	}
	if s.Kind == Kind {
		errs = append(errs, errors.New("setup kind is nats: workers cannot score through NATS themselves"))
	}
	if len(s.Settings) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(s.Settings, &obj); err != nil {
			errs = append(errs, fmt.Errorf("setup settings are not a JSON object: %v", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nats: setup: %w", err)
	}
	return nil
}

// Encode returns the setup's JSON and its digest (hex sha256 of that JSON).
// encoding/json writes struct fields in declaration order and map keys
// sorted, and floats in their shortest exact form, so equal setups encode
// to equal bytes.
func (s *Setup) Encode() (body []byte, digest string, err error) {
	body, err = json.Marshal(s)
	if err != nil {
		return nil, "", fmt.Errorf("nats: encode setup: %w", err)
	}
	sum := sha256.Sum256(body)
	return body, hex.EncodeToString(sum[:]), nil
}

// DecodeSetup reads and validates a setup.
func DecodeSetup(body []byte) (*Setup, error) {
	var s Setup
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("nats: decode setup: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// NewModelRef describes the file at path.
func NewModelRef(name, path string) (ModelRef, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ModelRef{}, fmt.Errorf("nats: model %s: %w", name, err)
	}
	d, err := benchmarks.FileSHA256(abs)
	if err != nil {
		return ModelRef{}, fmt.Errorf("nats: model %s: %w", name, err)
	}
	return ModelRef{Name: name, Path: abs, Digest: d}, nil
}

// DefaultSourceCache is the content-addressed source cache: $EVOMERGE_CACHE/
// sources, else os.UserCacheDir()/evomerge/sources.
func DefaultSourceCache() (string, error) {
	if root := os.Getenv("EVOMERGE_CACHE"); root != "" {
		return filepath.Join(root, "sources"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("nats: no cache directory (set EVOMERGE_CACHE): %w", err)
	}
	return filepath.Join(dir, "evomerge", "sources"), nil
}

// CachePath is where a source of the digest lives in a content-addressed
// cache.
func CachePath(cache, digest string) string { return filepath.Join(cache, "sha256", digest) }

// resolver finds source files by digest.
type resolver struct {
	cache string
	// extra maps digests to files known to have them (benchmark members).
	extra map[string]string
}

// resolve returns a file with the ref's digest, or an error saying where it
// was looked for and how to provide it.
func (r *resolver) resolve(ref ModelRef) (string, error) {
	var tried []string
	check := func(path string) bool {
		d, err := benchmarks.FileSHA256(path)
		switch {
		case err == nil && d == ref.Digest:
			return true
		case err == nil:
			tried = append(tried, fmt.Sprintf("%s (digest %s.., another file)", path, d[:12]))
		case errors.Is(err, os.ErrNotExist):
			tried = append(tried, path+" (missing)")
		default:
			tried = append(tried, fmt.Sprintf("%s (%v)", path, err))
		}
		return false
	}
	if ref.Path != "" && check(ref.Path) {
		return ref.Path, nil
	}
	if r.cache != "" {
		if p := CachePath(r.cache, ref.Digest); check(p) {
			return p, nil
		}
	}
	if p, ok := r.extra[ref.Digest]; ok {
		return p, nil
	}
	dst := "<source cache>/sha256/" + ref.Digest
	if r.cache != "" {
		dst = CachePath(r.cache, ref.Digest)
	}
	return "", fmt.Errorf("model %q (sha256 %s) is not on this worker: tried %v; copy the file to %s or to %s (`evomerge worker --source-cache DIR` names the cache)", ref.Name, ref.Digest, tried, ref.Path, dst)
}

// TaskLoader gives the native evaluator's tasks of a setup.
type TaskLoader func(ctx context.Context, s *Setup, bench *benchmarks.Benchmark) ([]tasks.Task, error)

// BuildOptions say where a worker finds what a setup names.
type BuildOptions struct {
	// SourceCache is the content-addressed source cache ("" = none).
	SourceCache string
	// BenchmarkCache is the benchmark cache root; "" means the setup's when
	// that directory exists on this machine, else the default root.
	BenchmarkCache string
	// Workers is the number of candidates the evaluator scores at once.
	Workers int
	// Tasks overrides how tasks are loaded (default: the benchmark's tasks,
	// the first Examples of each fitness split). Tests with synthetic data
	// set it.
	Tasks TaskLoader
	// Log receives benchmark preparation progress.
	Log io.Writer
	// Kinds are the evaluator kinds a setup may name (internal/registry's
	// list but nats); required.
	Kinds []InnerKind
}

// BenchmarkTasks is the default TaskLoader: the setup's tasks of its
// benchmark on its split, cut to Examples.
func BenchmarkTasks(ctx context.Context, s *Setup, b *benchmarks.Benchmark) ([]tasks.Task, error) {
	if b == nil {
		return nil, errors.New("nats: the setup names no benchmark to take task data from")
	}
	ts, err := b.LoadTasks(ctx, benchmarks.TaskOptions{Names: s.Tasks, Split: s.Split})
	if err != nil {
		return nil, err
	}
	tasks.LimitFitness(ts, s.Examples)
	return ts, nil
}

// BuildEvaluator makes the evaluator a setup describes: it reads the
// kind's settings (strictly: unknown keys and wrong types are errors; the
// kind must be one of BuildOptions.Kinds), prepares the benchmark (if
// any), resolves each source checkpoint by digest, loads the pool, derives
// the mapping and builds the kind through its factory with that merge, the
// benchmark's data and the objectives, as the run's own factory call would. A native setup whose
// tasks are overridden (BuildOptions.Tasks, or the setup's Tasks, Split or
// BatchSize) is built directly as an evaluate.Native on those tasks. The
// coordinator builds its own copy the same way, so both agree on EvalSpec
// and Version; workers check that they do before scoring anything. The
// evaluator holds the pool (Evaluator.Merger().Pool()): close that once
// the evaluator is no longer used.
func (s *Setup) BuildEvaluator(ctx context.Context, opt BuildOptions) (*evaluate.Built, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	k, settings, err := s.kindSettings(opt.Kinds)
	if err != nil {
		return nil, err
	}
	res := &resolver{cache: opt.SourceCache, extra: map[string]string{}}
	var bench *benchmarks.Benchmark
	if s.Benchmark != nil {
		cache := opt.BenchmarkCache
		if cache == "" && s.Benchmark.CacheDir != "" {
			if st, err := os.Stat(s.Benchmark.CacheDir); err == nil && st.IsDir() {
				cache = s.Benchmark.CacheDir
			}
		}
		var recipe *benchmarks.Recipe
		if s.Benchmark.Smoke {
			r, err := benchmarks.SmokeRecipe(s.Benchmark.Name)
			if err != nil {
				return nil, fmt.Errorf("nats: setup benchmark: %w", err)
			}
			recipe = &r
		}
		b, err := benchmarks.Prepare(ctx, s.Benchmark.Name, benchmarks.Options{CacheDir: cache, Recipe: recipe, Log: opt.Log})
		if err != nil {
			return nil, fmt.Errorf("nats: preparing benchmark %s: %w", s.Benchmark.Name, err)
		}
		bench = b
		members := b.Pool()
		if base, ok := b.Base(); ok {
			members = append(members, base)
		}
		for _, m := range members {
			if d, err := benchmarks.FileSHA256(m.Path); err == nil {
				res.extra[d] = m.Path
			}
		}
	}
	files := evaluate.PoolFiles{}
	if bench != nil {
		files.Benchmark, files.BenchmarkVersion = bench.Name, bench.Version
	}
	if s.Base != nil {
		p, err := res.resolve(*s.Base)
		if err != nil {
			return nil, fmt.Errorf("nats: base: %w", err)
		}
		files.Base = p
	}
	for _, ref := range s.Experts {
		p, err := res.resolve(ref)
		if err != nil {
			return nil, fmt.Errorf("nats: %w", err)
		}
		files.Models = append(files.Models, p)
		files.Names = append(files.Names, ref.Name)
	}
	pool, err := evaluate.LoadPool(files)
	if err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built {
			pool.Close()
		}
	}()
	op, err := operators.Builtin().Get(s.Operator)
	if err != nil {
		return nil, fmt.Errorf("nats: setup operator: %w", err)
	}
	_, mapping, err := searchspace.Derive(op.Params(), s.Search)
	if err != nil {
		return nil, fmt.Errorf("nats: setup search space: %w", err)
	}
	merge := evaluate.MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: s.Seed, TaskTensors: s.TaskTensors}
	var out *evaluate.Built
	if k.Name == evaluate.NativeKind && (opt.Tasks != nil || len(s.Tasks) > 0 || s.Split != "" || s.BatchSize != 0) {
		load := opt.Tasks
		if load == nil {
			load = BenchmarkTasks
		}
		ts, err := load(ctx, s, bench)
		if err != nil {
			return nil, err
		}
		native, err := evaluate.NewNative(evaluate.NativeConfig{
			Merge:      merge,
			Tasks:      ts,
			Objectives: s.Objectives,
			Workers:    opt.Workers,
			BatchSize:  s.BatchSize,
		})
		if err != nil {
			return nil, err
		}
		out = &evaluate.Built{Evaluator: native, Native: native, Tasks: ts}
	} else {
		env := evaluate.Env{
			Merge: merge, Spec: s.Search, Files: &files, Benchmark: bench,
			Smoke: s.Benchmark != nil && s.Benchmark.Smoke, Objectives: s.Objectives,
			Workers: opt.Workers, Log: opt.Log,
		}
		if out, err = k.New(ctx, settings, env); err != nil {
			return nil, err
		}
		switch {
		case out == nil || out.Evaluator == nil:
			return nil, fmt.Errorf("nats: the %s evaluator's factory built no evaluator", k.Name)
		case out.Sessions != nil:
			return nil, fmt.Errorf("nats: the %s evaluator scores through a service of its own; workers cannot run it", k.Name)
		}
	}
	built = true
	return out, nil
}

// Build is BuildEvaluator for a native setup: its evaluate.Native.
func (s *Setup) Build(ctx context.Context, opt BuildOptions) (*evaluate.Native, error) {
	b, err := s.BuildEvaluator(ctx, opt)
	if err != nil {
		return nil, err
	}
	if b.Native == nil {
		if p := b.Evaluator.Merger().Pool(); p != nil {
			p.Close()
		}
		return nil, fmt.Errorf("nats: the setup's workers score with the %s evaluator, not natively", s.Kind)
	}
	return b.Native, nil
}

// kindSettings reads the setup's kind and its settings: decoded strictly,
// Examples applied, completed with the kind's defaults and validated.
func (s *Setup) kindSettings(kinds []InnerKind) (InnerKind, evaluate.Settings, error) {
	name := s.Kind
	if name == "" {
		name = evaluate.NativeKind
	}
	k, err := lookupKind(kinds, name)
	if err != nil {
		return InnerKind{}, nil, fmt.Errorf("nats: setup: %w (run the coordinator's evomerge release on this worker)", err)
	}
	values := map[string]any{}
	if len(s.Settings) > 0 {
		dec := json.NewDecoder(bytes.NewReader(s.Settings))
		dec.UseNumber()
		if err := dec.Decode(&values); err != nil {
			return InnerKind{}, nil, fmt.Errorf("nats: setup settings: %w", err)
		}
	}
	if s.Examples > 0 {
		values[examplesKey] = int64(s.Examples)
	}
	report, problems := collect("")
	settings := decodeKindSettings(k, values, report)
	if err := problems(); err != nil {
		return InnerKind{}, nil, fmt.Errorf("nats: setup settings of the %s evaluator: %w (run the coordinator's evomerge release on this worker)", k.Name, err)
	}
	settings.Defaults()
	settings.Validate(report)
	if err := problems(); err != nil {
		return InnerKind{}, nil, fmt.Errorf("nats: setup settings of the %s evaluator: %w", k.Name, err)
	}
	return k, settings, nil
}

// BenchmarkRefs describes a prepared benchmark's pool by content: its base
// (nil when it has none) and its members in the order and with the names
// evaluate.BenchmarkPool gives them.
func BenchmarkRefs(b *benchmarks.Benchmark) (base *ModelRef, experts []ModelRef, err error) {
	if m, ok := b.Base(); ok {
		ref, err := NewModelRef("base", m.Path)
		if err != nil {
			return nil, nil, err
		}
		base = &ref
	}
	for _, m := range b.Pool() {
		name := m.Task
		if name == "" {
			name = m.Name
		}
		ref, err := NewModelRef(name, m.Path)
		if err != nil {
			return nil, nil, err
		}
		experts = append(experts, ref)
	}
	if len(experts) == 0 {
		return nil, nil, fmt.Errorf("nats: benchmark %s has no trained members to merge", b.Name)
	}
	return base, experts, nil
}
