package benchmarks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/internal/atomicfile"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/internal/tasks"
)

// CacheEnv names the environment variable holding evomerge's cache root;
// benchmarks live under $EVOMERGE_CACHE/bench.
const CacheEnv = "EVOMERGE_CACHE"

// ManifestFile is the name of the JSON manifest in a benchmark's cache directory.
const ManifestFile = "manifest.json"

// Checkpoint metadata keys written into every member checkpoint.
const (
	MetaBenchmark = "evomerge.benchmark"
	MetaVersion   = "evomerge.benchmark_version"
	MetaRole      = "evomerge.role"
	MetaTask      = "evomerge.task"
)

// Member roles.
const (
	RoleBase       = "base"
	RoleExpert     = "expert"
	RoleSpecialist = "specialist"
)

// ManifestTask is a task as the manifest records it.
type ManifestTask struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Classes     int    `json:"classes"`
	// Head is the classification head serving the task: the model tensors
	// heads.<Head>.weight and heads.<Head>.bias.
	Head string `json:"head"`
}

// deriveFunc builds a task's dataset from an MNIST split dataset.
type deriveFunc func(*data.Dataset) (*data.Dataset, error)

// taskDef is a task of a benchmark definition and how its data is derived.
type taskDef struct {
	task   tasks.Task
	derive deriveFunc
}

// Member is a trained checkpoint of a benchmark.
type Member struct {
	Name string `json:"name"`
	Role string `json:"role"`           // RoleBase, RoleExpert or RoleSpecialist
	Task string `json:"task,omitempty"` // the task an expert was fine-tuned for
	File string `json:"file"`           // file name inside the cache directory
	// Path is the absolute path of the checkpoint (not stored in the manifest).
	Path          string  `json:"-"`
	SHA256        string  `json:"sha256"`
	Seed          uint64  `json:"seed"`
	TrainExamples int     `json:"train_examples"`
	Steps         int     `json:"steps"`
	Seconds       float64 `json:"train_seconds"`
}

// Recipe fixes how a benchmark's members are trained and scored. It is
// recorded in the manifest; a cache built with another recipe is rebuilt.
type Recipe struct {
	Name           string  `json:"name"` // "full" or "smoke"
	Seed           uint64  `json:"seed"`
	BaseExamples   int     `json:"base_examples,omitempty"`   // train-split examples for pretraining the base
	BaseEpochs     int     `json:"base_epochs,omitempty"`     //
	BaseLR         float64 `json:"base_lr,omitempty"`         //
	ExpertExamples int     `json:"expert_examples,omitempty"` // train-split examples per expert; 0 = the whole split
	ExpertEpochs   int     `json:"expert_epochs,omitempty"`   //
	ExpertLR       float64 `json:"expert_lr,omitempty"`       //
	BatchSize      int     `json:"batch_size,omitempty"`      // 0 = full batch
	// EvalExamples limits validation and test to their first EvalExamples
	// examples for every figure of the benchmark (0 = whole split).
	EvalExamples int `json:"eval_examples,omitempty"`
	// Lambdas is the grid of task-arithmetic coefficients tried on
	// validation when measuring interference (benchmarks with a base).
	Lambdas []float64 `json:"lambdas,omitempty"`
}

// MergeScore is the test-split result of one reference merge.
type MergeScore struct {
	Accuracy       map[string]float64 `json:"accuracy"`   // per task
	Normalized     map[string]float64 `json:"normalized"` // accuracy / expert accuracy, per task
	MeanNormalized float64            `json:"mean_normalized"`
}

// LambdaScore is the validation mean normalized accuracy of task arithmetic
// with one scaling coefficient.
type LambdaScore struct {
	Lambda         float64 `json:"lambda"`
	MeanNormalized float64 `json:"validation_mean_normalized"`
}

// Interference records how much naive merging loses against the experts.
type Interference struct {
	Split data.Split `json:"split"`
	// ExpertAccuracy is each task's expert on its own task.
	ExpertAccuracy map[string]float64 `json:"expert_accuracy"`
	// Average is plain weight averaging of the experts' backbones, each task
	// with its expert's head.
	Average MergeScore `json:"average"`
	// DropPoints is 100*(1 - Average.MeanNormalized).
	DropPoints float64 `json:"average_drop_points"`
	// TaskArithmetic is base + λ·Σ(expert − base) with λ chosen on validation.
	TaskArithmetic *MergeScore   `json:"task_arithmetic,omitempty"`
	Lambda         float64       `json:"task_arithmetic_lambda,omitempty"`
	LambdaSweep    []LambdaScore `json:"lambda_sweep,omitempty"`
}

// Manifest is the JSON record of a prepared benchmark, stored as
// manifest.json in its cache directory.
type Manifest struct {
	Benchmark    string          `json:"benchmark"`
	Version      string          `json:"version"`
	Description  string          `json:"description"`
	Dataset      string          `json:"dataset"`
	SplitSeed    uint64          `json:"split_seed"`
	FitnessSplit data.Split      `json:"fitness_split"`
	Recipe       Recipe          `json:"recipe"`
	Spec         json.RawMessage `json:"spec"`
	Tasks        []ManifestTask  `json:"tasks"`
	Members      []Member        `json:"members"`
	// Accuracy[split][member][task] and Loss likewise: every member on every
	// task, on validation and test. A member without a task's head is scored
	// with that task's expert head.
	Accuracy     map[data.Split]map[string]map[string]float64 `json:"accuracy"`
	Loss         map[data.Split]map[string]map[string]float64 `json:"loss"`
	Interference *Interference                                `json:"interference,omitempty"`
	// DigitSubsets[member][subset] is a member's test accuracy on a subset
	// of the digits (m2n2-specialists: "0-4" and "5-9").
	DigitSubsets map[string]map[string]float64 `json:"digit_subsets,omitempty"`
	BuildSeconds float64                       `json:"build_seconds"`
}

// Options controls Prepare.
type Options struct {
	// CacheDir is the root holding benchmark directories; the benchmark lives
	// in CacheDir/<name>-<version>. "" means $EVOMERGE_CACHE/bench, else
	// os.UserCacheDir()/evomerge/bench.
	CacheDir string
	// MNISTDir is where the MNIST idx files are ("" = LocateMNIST).
	MNISTDir string
	// MNIST, when set, is used instead of loading the dataset again (it is
	// only read, so one MNIST can serve many benchmarks).
	MNIST *data.MNIST
	// Recipe overrides the benchmark's default recipe (SmokeRecipe for tests).
	Recipe *Recipe
	// Force rebuilds even when a valid cache exists.
	Force bool
	// Log receives progress lines (nil = silent).
	Log io.Writer
}

// definition describes a built-in benchmark.
type definition struct {
	name, version, description string
	fitness                    data.Split
	cfg                        model.Config // backbone plus heads
	heads                      []model.Head // one head per task with a Head
	tasks                      []taskDef
	recipe, smoke              Recipe
	build                      func(ctx context.Context, b *Benchmark, bd *builder) error
}

var definitions = map[string]func() definition{
	MNISTTasksName:      mnistTasksDefinition,
	M2N2SpecialistsName: m2n2SpecialistsDefinition,
	M2N2ScratchName:     m2n2ScratchDefinition,
}

// Names lists the built-in benchmarks in alphabetical order.
func Names() []string {
	names := make([]string, 0, len(definitions))
	for n := range definitions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookupDefinition(name string) (definition, error) {
	mk, ok := definitions[name]
	if !ok {
		return definition{}, fmt.Errorf("benchmarks: unknown benchmark %q: built-in benchmarks are %s", name, strings.Join(Names(), ", "))
	}
	return mk(), nil
}

// DefaultRecipe returns the recipe Prepare uses for a benchmark.
func DefaultRecipe(name string) (Recipe, error) {
	def, err := lookupDefinition(name)
	return def.recipe, err
}

// SmokeRecipe returns a tiny recipe (a few hundred images, one short epoch)
// that exercises the whole preparation in about a second. Its results are
// not meaningful.
func SmokeRecipe(name string) (Recipe, error) {
	def, err := lookupDefinition(name)
	return def.smoke, err
}

// DefaultCacheRoot returns the directory holding benchmark caches when
// Options.CacheDir is empty.
func DefaultCacheRoot() (string, error) {
	if env := os.Getenv(CacheEnv); env != "" {
		return filepath.Join(env, "bench"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("benchmarks: no cache directory (%v): set $%s or pass --cache-dir", err, CacheEnv)
	}
	return filepath.Join(dir, "evomerge", "bench"), nil
}

// Benchmark is a prepared built-in benchmark: its tasks, the trained
// members in the cache directory, and lazily loaded data.
//
// Benchmark is safe for concurrent use.
type Benchmark struct {
	Name         string
	Version      string
	Description  string
	Dir          string     // cache directory holding the manifest and checkpoints
	FitnessSplit data.Split // the split search fitness should use
	// Tasks are the benchmark's tasks without their examples (Data loads
	// them; Tasks gives them with their fitness and test data).
	Tasks    []tasks.Task
	Members  []Member
	Manifest Manifest

	cfg      model.Config
	heads    []model.Head
	derive   map[string]deriveFunc
	mnistDir string

	mu       sync.Mutex
	mnist    *data.MNIST
	data     map[dataKey]*data.Dataset
	memberMd map[string]model.Network
}

type dataKey struct {
	task  string
	split data.Split
}

// Config returns the benchmark's architecture: the shared backbone and one
// head per task that has a head.
func (b *Benchmark) Config() model.Config { return b.cfg }

// Task returns the named task (without its examples).
func (b *Benchmark) Task(name string) (tasks.Task, bool) {
	for _, t := range b.Tasks {
		if t.Name == name {
			return t, true
		}
	}
	return tasks.Task{}, false
}

// Base returns the base member, if the benchmark has one.
func (b *Benchmark) Base() (Member, bool) {
	for _, m := range b.Members {
		if m.Role == RoleBase {
			return m, true
		}
	}
	return Member{}, false
}

// Expert returns the expert fine-tuned for a task, if any.
func (b *Benchmark) Expert(task string) (Member, bool) {
	for _, m := range b.Members {
		if m.Role == RoleExpert && m.Task == task {
			return m, true
		}
	}
	return Member{}, false
}

// Pool returns the members a merge combines: the experts (or specialists),
// in task order, without the base.
func (b *Benchmark) Pool() []Member {
	var pool []Member
	for _, m := range b.Members {
		if m.Role != RoleBase {
			pool = append(pool, m)
		}
	}
	return pool
}

// Prepare returns the named benchmark, training and caching its members the
// first time (or when the cache is missing, damaged, from another version or
// recipe, or opt.Force is set). Training is deterministic given the recipe.
func Prepare(ctx context.Context, name string, opt Options) (*Benchmark, error) {
	def, err := lookupDefinition(name)
	if err != nil {
		return nil, err
	}
	recipe := def.recipe
	if opt.Recipe != nil {
		recipe = *opt.Recipe
	}
	root := opt.CacheDir
	if root == "" {
		if root, err = DefaultCacheRoot(); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(root, def.name+"-"+def.version)
	b := newBenchmark(def, dir, opt.MNISTDir)
	b.mnist = opt.MNIST
	b.Manifest.Recipe = recipe
	logf := func(format string, args ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", args...)
		}
	}
	if !opt.Force {
		manifest, err := readManifest(dir, def, recipe)
		if err == nil {
			b.setManifest(manifest)
			logf("%s: using cached benchmark in %s", def.name, dir)
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			logf("%s: rebuilding cache in %s: %v", def.name, dir, err)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("benchmarks: create cache root %s: %w (set --cache-dir or $%s)", root, err, CacheEnv)
	}
	tmp, err := os.MkdirTemp(root, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("benchmarks: create build directory in %s: %w", root, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	start := time.Now()
	bd := &builder{dir: tmp, recipe: recipe, logf: logf}
	b.Dir = tmp
	if err := def.build(ctx, b, bd); err != nil {
		return nil, fmt.Errorf("benchmarks: prepare %s: %w", def.name, err)
	}
	manifest := bd.manifest(def, recipe)
	manifest.BuildSeconds = time.Since(start).Seconds()
	raw, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("benchmarks: encode manifest: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, ManifestFile), append(raw, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := replaceDir(tmp, dir); err != nil {
		return nil, err
	}
	b.Dir = dir
	b.setManifest(manifest)
	logf("%s: prepared in %.1fs, cached in %s", def.name, manifest.BuildSeconds, dir)
	return b, nil
}

func newBenchmark(def definition, dir, mnistDir string) *Benchmark {
	b := &Benchmark{
		Name:         def.name,
		Version:      def.version,
		Description:  def.description,
		Dir:          dir,
		FitnessSplit: def.fitness,
		cfg:          def.cfg,
		heads:        def.heads,
		derive:       map[string]deriveFunc{},
		mnistDir:     mnistDir,
		data:         map[dataKey]*data.Dataset{},
		memberMd:     map[string]model.Network{},
	}
	for _, td := range def.tasks {
		t := td.task
		t.FitnessSplit = def.fitness
		b.Tasks = append(b.Tasks, t)
		b.derive[t.Name] = td.derive
	}
	return b
}

// setManifest installs a manifest, resolving member paths against b.Dir.
func (b *Benchmark) setManifest(m Manifest) {
	b.Manifest = m
	b.Members = make([]Member, len(m.Members))
	for i, mem := range m.Members {
		mem.Path = filepath.Join(b.Dir, mem.File)
		b.Members[i] = mem
	}
}

// replaceDir moves the finished build directory tmp to dir, replacing an
// older cache if there is one.
func replaceDir(tmp, dir string) error {
	parent := filepath.Dir(dir)
	if err := atomicfile.SyncDir(tmp); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		stale, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".stale-*")
		if err != nil {
			return fmt.Errorf("benchmarks: make room for the new cache: %w", err)
		}
		if err := os.Remove(stale); err != nil {
			return fmt.Errorf("benchmarks: make room for the new cache: %w", err)
		}
		if err := os.Rename(dir, stale); err != nil {
			return fmt.Errorf("benchmarks: move old cache %s aside: %w", dir, err)
		}
		defer os.RemoveAll(stale)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("benchmarks: move new cache into %s: %w", dir, err)
	}
	return atomicfile.SyncDir(parent)
}

// readManifest loads and checks a cached benchmark: same benchmark, version
// and recipe, and every member file present with its recorded SHA-256.
func readManifest(dir string, def definition, recipe Recipe) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Manifest{}, fmt.Errorf("manifest %s is not valid JSON: %v", path, err)
	}
	if m.Benchmark != def.name || m.Version != def.version {
		return Manifest{}, fmt.Errorf("manifest %s is for %s version %s, want %s version %s", path, m.Benchmark, m.Version, def.name, def.version)
	}
	if !reflect.DeepEqual(m.Recipe, recipe) {
		return Manifest{}, fmt.Errorf("manifest %s was built with recipe %q (%+v), want %q (%+v)", path, m.Recipe.Name, m.Recipe, recipe.Name, recipe)
	}
	for _, mem := range m.Members {
		if mem.File == "" || filepath.Base(mem.File) != mem.File {
			return Manifest{}, fmt.Errorf("manifest %s: member %q has invalid file name %q", path, mem.Name, mem.File)
		}
		sum, err := FileSHA256(filepath.Join(dir, mem.File))
		if err != nil {
			return Manifest{}, fmt.Errorf("member %s: %v", mem.Name, err)
		}
		if sum != mem.SHA256 {
			return Manifest{}, fmt.Errorf("member file %s is damaged: SHA-256 %s, manifest says %s", mem.File, sum, mem.SHA256)
		}
	}
	return m, nil
}

// MNIST returns the MNIST dataset behind the benchmark, loading it on first use.
func (b *Benchmark) MNIST() (*data.MNIST, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mnistLocked()
}

func (b *Benchmark) mnistLocked() (*data.MNIST, error) {
	if b.mnist == nil {
		m, err := data.LoadMNIST(b.mnistDir)
		if err != nil {
			return nil, err
		}
		b.mnist = m
	}
	return b.mnist, nil
}

// evalLimit is the number of examples of validation and test used for every
// figure of the benchmark (0 = all).
func (b *Benchmark) evalLimit(split data.Split) int {
	if split == data.Train {
		return 0
	}
	return b.Manifest.Recipe.EvalExamples
}

// Data returns a task's dataset on a split. Validation and test are limited
// to the recipe's EvalExamples. The result is cached and shared: callers
// must not modify it.
func (b *Benchmark) Data(task string, split data.Split) (*data.Dataset, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := dataKey{task, split}
	if d, ok := b.data[key]; ok {
		return d, nil
	}
	d, err := b.deriveLocked(task, split, 0, b.evalLimit(split))
	if err != nil {
		return nil, err
	}
	b.data[key] = d
	return d, nil
}

// DataRange returns examples [lo, hi) of a task's split (hi <= 0 = to the
// end), freshly built and not cached.
func (b *Benchmark) DataRange(task string, split data.Split, lo, hi int) (*data.Dataset, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deriveLocked(task, split, lo, hi)
}

func (b *Benchmark) deriveLocked(task string, split data.Split, lo, hi int) (*data.Dataset, error) {
	derive, ok := b.derive[task]
	if !ok {
		return nil, fmt.Errorf("benchmarks: benchmark %s has no task %q (tasks: %s)", b.Name, task, strings.Join(b.TaskNames(), ", "))
	}
	m, err := b.mnistLocked()
	if err != nil {
		return nil, err
	}
	if hi <= 0 || hi > m.Len(split) {
		hi = m.Len(split)
	}
	// Task transforms act on each example alone, so large ranges are derived
	// in chunks: the float32 copy of the raw 28×28 images never exceeds one
	// chunk (this matters for pooled 8×8 data).
	var parts []*data.Dataset
	for c := lo; c < hi || c == lo; c += deriveChunk {
		raw, err := m.SplitRange(split, c, min(hi, c+deriveChunk))
		if err != nil {
			return nil, err
		}
		d, err := derive(raw)
		if err != nil {
			return nil, fmt.Errorf("benchmarks: task %s: %w", task, err)
		}
		parts = append(parts, d)
	}
	name := b.Name + "/" + task + "/" + string(split)
	if len(parts) == 1 {
		parts[0].Name = name
		return parts[0], nil
	}
	return data.Concat(name, parts...)
}

// deriveChunk is the number of examples a task transform handles at once.
const deriveChunk = 8192

// TaskNames lists the task names in order.
func (b *Benchmark) TaskNames() []string { return tasks.Names(b.Tasks) }

// LoadMember returns the network of a member, loaded once and shared:
// callers must not modify it or run it concurrently (Network.Clone gives a
// private copy).
func (b *Benchmark) LoadMember(name string) (model.Network, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.loadMemberLocked(name)
}

func (b *Benchmark) loadMemberLocked(name string) (model.Network, error) {
	if m, ok := b.memberMd[name]; ok {
		return m, nil
	}
	for _, mem := range b.Members {
		if mem.Name == name {
			m, err := all.Load(mem.Path)
			if err != nil {
				return nil, fmt.Errorf("benchmarks: benchmark %s member %s: %w (run `evomerge bench prepare %s --force` to rebuild)", b.Name, name, err, b.Name)
			}
			b.memberMd[name] = m
			return m, nil
		}
	}
	return nil, fmt.Errorf("benchmarks: benchmark %s has no member %q", b.Name, name)
}
