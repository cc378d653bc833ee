package lineage

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/m2n2"
)

// Version enters every candidate id the evaluator scores.
const Version = "lineage/1"

// Storage says where parents' weights are kept.
type Storage string

// Storages; see the package documentation for when each is used.
const (
	StorageRAM     Storage = "ram"
	StorageRebuild Storage = "rebuild"
	StorageDisk    Storage = "disk"
)

// DefaultCacheSize is the number of weight vectors StorageRebuild keeps.
const DefaultCacheSize = 64

// Config configures the evaluator.
type Config struct {
	// Seeds are the initial models, all of one architecture; genome [i] of
	// m2n2.SeedSpace(len(Seeds)) is Seeds[i]. Their weights are copied.
	Seeds []model.Network
	// Tasks are scored on their fitness examples (the train split from
	// scratch, the validation split when merging trained models; never
	// test), each with its accuracy.
	Tasks []tasks.Task
	// Storage of parents' weights (default StorageRAM).
	Storage Storage
	// Dir holds the archive's checkpoints with StorageDisk.
	Dir string
	// CacheSize is the number of weight vectors StorageRebuild keeps
	// (default DefaultCacheSize).
	CacheSize int
	// Workers is the number of candidates evaluated at once (default 1; the
	// forward passes already use every core).
	Workers int
	// BatchSize is the number of examples per forward pass (default 500);
	// scores do not depend on it.
	BatchSize int
}

// tensorView is one parameter tensor in the flattened order.
type tensorView struct {
	name   string
	shape  []int
	offset int
	n      int
}

// Evaluator materialises and scores M2N2 genomes. It implements
// search.Evaluator and m2n2.Observer and is safe for concurrent use.
type Evaluator struct {
	storage   Storage
	dir       string
	cacheSize int
	tasks     []tasks.Task
	batch     int
	arch      model.Config // the seeds' architecture
	views     []tensorView
	byName    map[string]tensorView
	params    int
	seeds     [][]float32
	evalSpec  string
	version   string
	workers   chan *worker
	nWorkers  int

	mu       sync.Mutex
	genomes  map[string]population.Genome // every evaluated candidate
	seedOf   map[string]int
	resident map[string]*list.Element // RAM and rebuild: id → *entry
	lru      *list.List
	files    map[string]string // disk: id → path
	rebuilds atomic.Int64
}

type entry struct {
	id string
	w  []float32
}

// worker owns a model and merge buffers.
type worker struct {
	model  model.Network
	child  []float32
	pa, pb []float32 // disk: parents read from their files
}

var (
	_ search.Evaluator = (*Evaluator)(nil)
	_ m2n2.Observer    = (*Evaluator)(nil)
)

// New checks the configuration and builds the workers.
func New(cfg Config) (*Evaluator, error) {
	if len(cfg.Seeds) < 2 {
		return nil, fmt.Errorf("lineage: %d seed models: M2N2 needs at least two", len(cfg.Seeds))
	}
	if len(cfg.Tasks) == 0 {
		return nil, errors.New("lineage: no tasks: give at least one task with fitness data")
	}
	e := &Evaluator{storage: cfg.Storage, dir: cfg.Dir, cacheSize: cfg.CacheSize, tasks: slices.Clone(cfg.Tasks),
		batch: cfg.BatchSize, nWorkers: cfg.Workers,
		genomes: map[string]population.Genome{}, seedOf: map[string]int{},
		resident: map[string]*list.Element{}, lru: list.New(), files: map[string]string{}}
	switch e.storage {
	case "":
		e.storage = StorageRAM
	case StorageRAM, StorageRebuild:
	case StorageDisk:
		if e.dir == "" {
			return nil, errors.New("lineage: disk storage needs a directory (Config.Dir) for the archive's checkpoints")
		}
		if err := os.MkdirAll(e.dir, 0o755); err != nil {
			return nil, fmt.Errorf("lineage: archive directory: %w", err)
		}
	default:
		return nil, fmt.Errorf("lineage: unknown storage %q: use %q, %q or %q", e.storage, StorageRAM, StorageRebuild, StorageDisk)
	}
	if e.cacheSize < 0 || e.nWorkers < 0 || e.batch < 0 {
		return nil, fmt.Errorf("lineage: cache size %d, workers %d and batch size %d must not be negative (0 means default)", e.cacheSize, e.nWorkers, e.batch)
	}
	if e.cacheSize == 0 {
		e.cacheSize = DefaultCacheSize
	}
	e.nWorkers = max(e.nWorkers, 1)
	if e.batch == 0 {
		e.batch = tasks.DefaultBatch
	}
	e.arch = cfg.Seeds[0].Config()
	ref := cfg.Seeds[0].Params()
	names := make([]string, len(ref))
	for i, p := range ref {
		names[i] = p.Name
		e.views = append(e.views, tensorView{name: p.Name, shape: slices.Clone(p.Shape), offset: e.params, n: len(p.Data)})
		e.params += len(p.Data)
	}
	e.byName = make(map[string]tensorView, len(e.views))
	for _, v := range e.views {
		e.byName[v.name] = v
	}
	sorted := slices.Clone(names)
	checkpoint.SortNames(sorted)
	if !slices.Equal(sorted, names) {
		panic("lineage: model.Network.Params is not in canonical order")
	}
	for s, m := range cfg.Seeds {
		ps := m.Params()
		if len(ps) != len(ref) {
			return nil, fmt.Errorf("lineage: seed %d has %d parameter tensors, seed 0 has %d: seeds must share one architecture", s, len(ps), len(ref))
		}
		flat := make([]float32, e.params)
		for i, p := range ps {
			v := e.views[i]
			if p.Name != v.name || !slices.Equal(p.Shape, v.shape) {
				return nil, fmt.Errorf("lineage: seed %d tensor %q %v differs from seed 0's %q %v: seeds must share one architecture", s, p.Name, p.Shape, v.name, v.shape)
			}
			copy(flat[v.offset:], p.Data)
		}
		e.seeds = append(e.seeds, flat)
	}
	for i, t := range e.tasks {
		if t.FitnessSplit == data.Test {
			return nil, fmt.Errorf("lineage: task %q: the test split cannot be the fitness split: it is held out to score the final front", t.Name)
		}
		fit := t.Fitness()
		if fit == nil || fit.Len() == 0 {
			return nil, fmt.Errorf("lineage: task %q has no fitness examples", t.Name)
		}
		if c := cfg.Seeds[0].Classes(t.Head); c == 0 {
			return nil, fmt.Errorf("lineage: task %q: the seeds have no head %q (heads: %s)", t.Name, t.Head, strings.Join(cfg.Seeds[0].Heads(), ", "))
		}
		if fit.Features() != cfg.Seeds[0].InputSize() {
			return nil, fmt.Errorf("lineage: task %q: examples have %d features, the model takes %d", t.Name, fit.Features(), cfg.Seeds[0].InputSize())
		}
		for j := range i {
			if e.tasks[j].Name == t.Name {
				return nil, fmt.Errorf("lineage: task %q is listed twice", t.Name)
			}
		}
	}
	e.evalSpec = e.describe()
	h := sha256.New()
	var b [4]byte
	for _, s := range e.seeds {
		for _, v := range s {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	e.version = Version + "+seeds:" + hex.EncodeToString(h.Sum(nil))[:16]
	e.workers = make(chan *worker, e.nWorkers)
	for range e.nWorkers {
		m, err := e.arch.New(0)
		if err != nil {
			return nil, fmt.Errorf("lineage: %w", err)
		}
		w := &worker{model: m, child: make([]float32, e.params)}
		if e.storage == StorageDisk {
			w.pa, w.pb = make([]float32, e.params), make([]float32, e.params)
		}
		e.workers <- w
	}
	return e, nil
}

// describe is the evaluation spec: tasks with their data's size and hash.
func (e *Evaluator) describe() string {
	var sb strings.Builder
	sb.WriteString(`{"tasks":[`)
	for i, t := range e.tasks {
		if i > 0 {
			sb.WriteByte(',')
		}
		fit := t.Fitness()
		fmt.Fprintf(&sb, `{"name":%q,"head":%q,"examples":%d,"data":%q}`, t.Name, t.Head, fit.Len(), fit.Fingerprint())
	}
	sb.WriteString(`],"metric":"accuracy"}`)
	return sb.String()
}

// EvalSpec is the evaluation spec for search.Settings.EvalSpec.
func (e *Evaluator) EvalSpec() string { return e.evalSpec }

// Version is the evaluator and seeds version for search.Settings.Version.
func (e *Evaluator) Version() string { return e.version }

// Parameters is D, the flattened model length (m2n2.Config.Parameters).
func (e *Evaluator) Parameters() int64 { return int64(e.params) }

// Objectives are the scores: one accuracy per task, maximised.
func (e *Evaluator) Objectives() []fitness.Direction {
	d := make([]fitness.Direction, len(e.tasks))
	for i := range d {
		d[i] = fitness.Maximize
	}
	return d
}

// Rebuilds counts weight vectors rebuilt from lineage recipes.
func (e *Evaluator) Rebuilds() int64 { return e.rebuilds.Load() }

// Resident is the number of weight vectors held in memory (seeds excluded).
func (e *Evaluator) Resident() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lru.Len()
}

// Evaluate implements search.Evaluator.
func (e *Evaluator) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(e.nWorkers, len(batch)) {
		w := <-e.workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { e.workers <- w }()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batch) || ctx.Err() != nil {
					return
				}
				c := batch[i]
				scores, correct, err := e.evaluate(ctx, w, c)
				switch {
				case err != nil && ctx.Err() != nil:
					return
				case err != nil:
					c.Fail(err)
				default:
					c.Scores, c.Correct, c.Status, c.Error = scores, correct, population.StatusOK, ""
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (e *Evaluator) evaluate(ctx context.Context, w *worker, c *population.Candidate) ([]float64, []population.TaskCorrectness, error) {
	if c.ID == "" {
		return nil, nil, errors.New("lineage: candidate has no id (run it through search.Run)")
	}
	if err := e.materialize(ctx, w, c.ID, c.Genome, w.child); err != nil {
		return nil, nil, err
	}
	e.load(w.model, w.child)
	scores := make([]float64, len(e.tasks))
	correct := make([]population.TaskCorrectness, len(e.tasks))
	for i := range e.tasks {
		t := &e.tasks[i]
		bits := population.NewBitset(t.Fitness().Len())
		res, err := tasks.Score(ctx, w.model, t, t.FitnessSplit, tasks.ScoreOptions{Batch: e.batch, Correct: bits.Words})
		if err != nil {
			return nil, nil, fmt.Errorf("lineage: task %s: %w", t.Name, err)
		}
		scores[i] = res.Accuracy
		correct[i] = population.TaskCorrectness{Task: t.Name, Bits: bits}
	}
	if err := e.keep(c.ID, c.Genome, w.child); err != nil {
		return nil, nil, err
	}
	return scores, correct, nil
}

// load copies flattened weights into the model's parameters.
func (e *Evaluator) load(m model.Network, flat []float32) {
	for i, p := range m.Params() {
		v := e.views[i]
		copy(p.Data, flat[v.offset:v.offset+v.n])
	}
}

// recipe reads a child's crossover parameters.
type recipe struct {
	a, b         string
	split        int64
	ratio        float64
	segment      bool
	sigma, noise float64
}

func (e *Evaluator) parseRecipe(g population.Genome) (recipe, error) {
	r := g.Recipe
	if r.Operator != m2n2.Operator {
		return recipe{}, fmt.Errorf("lineage: recipe operator %q: this evaluator builds %q children only", r.Operator, m2n2.Operator)
	}
	if len(r.Parents) != 2 {
		return recipe{}, fmt.Errorf("lineage: %s recipe has %d parents, want 2", m2n2.Operator, len(r.Parents))
	}
	for k := range r.Params {
		switch k {
		case m2n2.ParamSplit, m2n2.ParamRatio, m2n2.ParamSegment, m2n2.ParamSigma, m2n2.ParamNoise:
		default:
			return recipe{}, fmt.Errorf("lineage: unknown recipe parameter %q", k)
		}
	}
	out := recipe{a: r.Parents[0], b: r.Parents[1], ratio: r.Params[m2n2.ParamRatio], segment: r.Params[m2n2.ParamSegment] == 1,
		sigma: r.Params[m2n2.ParamSigma], noise: r.Params[m2n2.ParamNoise]}
	split, ok := r.Params[m2n2.ParamSplit]
	if !ok || split != math.Trunc(split) || split < 0 || split > float64(e.params) {
		return recipe{}, fmt.Errorf("lineage: split %v: give an integer index in [0, %d]", split, e.params)
	}
	out.split = int64(split)
	if !(out.ratio >= 0 && out.ratio <= 1) {
		return recipe{}, fmt.Errorf("lineage: ratio %v outside [0, 1]", out.ratio)
	}
	if out.sigma < 0 || out.noise < 0 || out.noise != math.Trunc(out.noise) {
		return recipe{}, fmt.Errorf("lineage: mutation sigma %v and noise seed %v must be >= 0 (the seed an integer)", out.sigma, out.noise)
	}
	return out, nil
}

// materialize writes the weights of the genome (candidate id) into dst.
func (e *Evaluator) materialize(ctx context.Context, w *worker, id string, g population.Genome, dst []float32) error {
	if g.Recipe == nil {
		i, err := e.seedIndex(g)
		if err != nil {
			return err
		}
		copy(dst, e.seeds[i])
		return nil
	}
	r, err := e.parseRecipe(g)
	if err != nil {
		return err
	}
	pa, err := e.weights(ctx, w, r.a, 0)
	if err != nil {
		return err
	}
	pb, err := e.weights(ctx, w, r.b, 1)
	if err != nil {
		return err
	}
	if err := e.crossover(ctx, dst, pa, pb, r); err != nil {
		return err
	}
	if r.sigma > 0 {
		rnd := rng.New(uint64(r.noise), "evaluate/lineage", "mutation", id)
		for i := range dst {
			dst[i] += float32(r.sigma * rnd.NormFloat64())
		}
	}
	return nil
}

func (e *Evaluator) seedIndex(g population.Genome) (int, error) {
	if len(g.Values) != 1 || g.Values[0] != math.Trunc(g.Values[0]) || g.Values[0] < 0 || int(g.Values[0]) >= len(e.seeds) {
		return 0, fmt.Errorf("lineage: genome %v is not a seed index in [0, %d] (m2n2.SeedSpace)", g.Values, len(e.seeds)-1)
	}
	return int(g.Values[0]), nil
}

// crossover runs operators.M2N2Crossover on the flattened parents.
func (e *Evaluator) crossover(ctx context.Context, dst, pa, pb []float32, r recipe) error {
	ta, tb := make([]checkpoint.Tensor, len(e.views)), make([]checkpoint.Tensor, len(e.views))
	for i, v := range e.views {
		ta[i] = checkpoint.Tensor{Name: v.name, Shape: v.shape, Data: pa[v.offset : v.offset+v.n]}
		tb[i] = checkpoint.Tensor{Name: v.name, Shape: v.shape, Data: pb[v.offset : v.offset+v.n]}
	}
	src, err := operators.NewMemSource(nil, ta, tb)
	if err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	angle := m2n2.AngleGlobal
	if r.segment {
		angle = m2n2.AngleSegment
	}
	settings := operators.Settings{Default: operators.Values{Global: map[string]operators.Value{
		"split": operators.I(int(r.split)), "ratio": operators.F(r.ratio), "angle": operators.C(angle)}}}
	noTaskTensors := operators.TaskTensors{}
	plan, err := operators.NewPlan(operators.M2N2Crossover(), src, settings, operators.PlanOptions{TaskTensors: &noTaskTensors})
	if err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	return operators.MergeAll(ctx, plan, src, func(m operators.TensorMeta) []float32 {
		v := e.byName[m.Name]
		return dst[v.offset : v.offset+v.n]
	}, nil)
}

// weights returns the flattened weights of candidate id (read-only). slot
// picks the worker buffer a disk read goes to.
func (e *Evaluator) weights(ctx context.Context, w *worker, id string, slot int) ([]float32, error) {
	e.mu.Lock()
	if i, ok := e.seedOf[id]; ok {
		e.mu.Unlock()
		return e.seeds[i], nil
	}
	if el, ok := e.resident[id]; ok {
		e.lru.MoveToFront(el)
		out := el.Value.(*entry).w
		e.mu.Unlock()
		return out, nil
	}
	path, onDisk := e.files[id]
	g, known := e.genomes[id]
	e.mu.Unlock()
	switch {
	case onDisk:
		buf := w.pa
		if slot == 1 {
			buf = w.pb
		}
		if err := e.readFile(path, buf); err != nil {
			return nil, err
		}
		return buf, nil
	case e.storage == StorageRebuild && known:
		out := make([]float32, e.params)
		if err := e.materialize(ctx, w, id, g, out); err != nil {
			return nil, fmt.Errorf("lineage: rebuilding %s: %w", short(id), err)
		}
		e.rebuilds.Add(1)
		e.remember(id, out)
		return out, nil
	}
	return nil, fmt.Errorf("lineage: parent %s is not available: it was never evaluated by this evaluator, or it left the archive (use storage %q to rebuild any ancestor from its recipe)", short(id), StorageRebuild)
}

// keep records a scored candidate so that it can be a parent.
func (e *Evaluator) keep(id string, g population.Genome, w []float32) error {
	e.mu.Lock()
	e.genomes[id] = g.Clone()
	if g.Recipe == nil {
		i, _ := e.seedIndex(g)
		e.seedOf[id] = i
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	if e.storage == StorageDisk {
		path := filepath.Join(e.dir, id+".safetensors")
		tensors := make([]checkpoint.Tensor, len(e.views))
		for i, v := range e.views {
			tensors[i] = checkpoint.Tensor{Name: v.name, Shape: v.shape, Data: w[v.offset : v.offset+v.n]}
		}
		if err := checkpoint.Write(path, tensors, map[string]string{"evomerge.candidate": id}, checkpoint.WriteOptions{}); err != nil {
			return fmt.Errorf("lineage: storing %s: %w", short(id), err)
		}
		e.mu.Lock()
		e.files[id] = path
		e.mu.Unlock()
		return nil
	}
	e.remember(id, slices.Clone(w))
	return nil
}

// Remember records the genome of a candidate that this evaluator did not
// score (a run resumed from its journal answers earlier candidates without
// evaluating them), so that rebuild storage can rebuild it from its lineage
// when it is a parent. Seeds are recognised from their genome.
func (e *Evaluator) Remember(id string, g population.Genome) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("lineage: candidate %s: %w", short(id), err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if g.Recipe == nil {
		i, err := e.seedIndex(g)
		if err != nil {
			return err
		}
		e.seedOf[id] = i
	}
	e.genomes[id] = g.Clone()
	return nil
}

// remember puts weights in the resident set (bounded by the cache size with
// StorageRebuild).
func (e *Evaluator) remember(id string, w []float32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.resident[id]; ok {
		e.lru.MoveToFront(el)
		return
	}
	e.resident[id] = e.lru.PushFront(&entry{id: id, w: w})
	if e.storage == StorageRebuild {
		for e.lru.Len() > e.cacheSize {
			old := e.lru.Back()
			e.lru.Remove(old)
			delete(e.resident, old.Value.(*entry).id)
		}
	}
}

// readFile reads a stored member through the memory-mapped reader.
func (e *Evaluator) readFile(path string, dst []float32) error {
	r, err := checkpoint.Open(path)
	if err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	defer r.Close()
	for _, v := range e.views {
		if err := r.ReadInto(v.name, dst[v.offset:v.offset+v.n]); err != nil {
			return fmt.Errorf("lineage: %w", err)
		}
	}
	return nil
}

// ArchiveChanged implements m2n2.Observer: weights of models outside the
// archive are released (RAM) or deleted (disk). Rebuild storage keeps its
// recipes and cache. Call it between batches only.
func (e *Evaluator) ArchiveChanged(ids []string) {
	keep := make(map[string]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.storage {
	case StorageRAM:
		for id, el := range e.resident {
			if !keep[id] {
				e.lru.Remove(el)
				delete(e.resident, id)
			}
		}
	case StorageDisk:
		for id, path := range e.files {
			if !keep[id] {
				os.Remove(path) // a file that cannot be removed only costs disk space
				delete(e.files, id)
			}
		}
	}
}

// Weights returns a copy of the flattened weights of an evaluated candidate
// (rebuilt from its recipe when needed and possible).
func (e *Evaluator) Weights(ctx context.Context, id string) ([]float32, error) {
	w := <-e.workers
	defer func() { e.workers <- w }()
	out, err := e.weights(ctx, w, id, 0)
	if err != nil {
		return nil, err
	}
	return slices.Clone(out), nil
}

// Model returns an evaluated candidate as a network of the seeds'
// architecture (for scoring final members on test data or exporting them).
func (e *Evaluator) Model(ctx context.Context, id string) (model.Network, error) {
	flat, err := e.Weights(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := e.arch.New(0)
	if err != nil {
		return nil, fmt.Errorf("lineage: %w", err)
	}
	e.load(m, flat)
	return m, nil
}

// Close deletes the files of disk storage.
func (e *Evaluator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for id, path := range e.files {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		delete(e.files, id)
	}
	return errors.Join(errs...)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
