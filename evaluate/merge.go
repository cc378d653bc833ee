package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

// MergeConfig describes how a genome becomes merged weights.
type MergeConfig struct {
	Pool     *Pool
	Operator operators.Operator
	// Mapping turns a genome's values into operators.Settings (the fixed
	// settings are part of it, see searchspace.Spec.Fixed).
	Mapping *searchspace.Mapping
	// Seed drives stochastic operators (DARE, DELLA).
	Seed uint64
	// TaskTensors are the per-task tensor patterns (copied from their owner,
	// never merged); nil means operators.DefaultTaskTensors.
	TaskTensors []string
	// Statistics are the per-model statistics of an operator that reads
	// them (operators.Requirements Fisher or Gram: fisher, regmean), which
	// the native evaluator computes (ComputeStatistics); required by such
	// an operator and ignored by any other.
	Statistics *Statistics
}

// Merger materialises genomes: the operator, the mapping from genome to
// settings and the pool (read as merges need its tensors). It is immutable and safe for concurrent
// use.
type Merger struct {
	pool    *Pool
	op      operators.Operator
	mapping *searchspace.Mapping
	seed    uint64
	tasks   operators.TaskTensors
	stats   operators.StatsSource
	desc    string
}

// NewMerger checks the configuration: the operator's requirements against the
// pool and the settings of the space's default point.
func NewMerger(cfg MergeConfig) (*Merger, error) {
	switch {
	case cfg.Pool == nil:
		return nil, errors.New("evaluate: no model pool: load one with LoadPool or BenchmarkPool")
	case cfg.Operator == nil:
		return nil, errors.New("evaluate: no merge operator: pick one from operators.Builtin()")
	case cfg.Mapping == nil:
		return nil, errors.New("evaluate: no genome mapping: derive one with searchspace.Derive")
	}
	m := &Merger{pool: cfg.Pool, op: cfg.Operator, mapping: cfg.Mapping, seed: cfg.Seed, tasks: operators.DefaultTaskTensors()}
	if len(cfg.TaskTensors) > 0 {
		m.tasks = operators.TaskTensors{Patterns: slices.Clone(cfg.TaskTensors)}
	}
	if err := m.tasks.Validate(); err != nil {
		return nil, fmt.Errorf("evaluate: task_tensors: %w", err)
	}
	var statsSpec json.RawMessage
	if NeedsStatistics(m.op) {
		if cfg.Statistics == nil || cfg.Statistics.Source == nil {
			return nil, fmt.Errorf("evaluate: %s reads the %s of each model, computed on the model's own task data, and the merge was given none: the native evaluator computes them (evaluator.kind = %q)", m.op.Name(), StatisticsWhat(m.op), NativeKind)
		}
		m.stats, statsSpec = cfg.Statistics.Source, cfg.Statistics.Spec
	}
	def := population.VectorGenome(m.mapping.Space().Defaults())
	settings, err := m.Settings(def)
	if err != nil {
		return nil, err
	}
	if _, err := m.plan(settings); err != nil {
		return nil, fmt.Errorf("evaluate: the merge does not fit the pool: %w", err)
	}
	rec, err := m.recipe(settings)
	if err != nil {
		return nil, err
	}
	// The description (everything but the searched values and the inputs'
	// paths) enters the evaluation spec of candidate ids.
	rec.Base = ""
	for i := range rec.Models {
		rec.Models[i].Path = ""
	}
	space, err := json.Marshal(m.mapping.Space().Dims())
	if err != nil {
		return nil, fmt.Errorf("evaluate: encode search space: %w", err)
	}
	text, err := rec.JSON()
	if err != nil {
		return nil, err
	}
	m.desc = fmt.Sprintf(`{"at_defaults":%s,"has_base":%t,"space":%s}`, text, m.pool.HasBase(), space)
	if len(statsSpec) > 0 {
		// Only a merge that reads statistics describes them, so the ids of
		// every other run are those they always were.
		m.desc = fmt.Sprintf(`{"at_defaults":%s,"has_base":%t,"space":%s,"statistics":%s}`, text, m.pool.HasBase(), space, statsSpec)
	}
	return m, nil
}

// Pool returns the merger's pool.
func (m *Merger) Pool() *Pool { return m.pool }

// Settings turns a genome into operator settings. Only coefficient-vector
// genomes can be materialised here; a recipe genome (a crossover of earlier
// candidates) is an error.
func (m *Merger) Settings(g population.Genome) (operators.Settings, error) {
	if g.Recipe != nil {
		return operators.Settings{}, fmt.Errorf("evaluate: genome is a %q recipe of parents %v: this evaluator materialises coefficient-vector genomes only", g.Recipe.Operator, g.Recipe.Parents)
	}
	s, err := m.mapping.Settings(g.Values)
	if err != nil {
		return operators.Settings{}, fmt.Errorf("evaluate: genome: %w", err)
	}
	return s, nil
}

func (m *Merger) plan(s operators.Settings) (*operators.Plan, error) {
	tasks := m.tasks
	return operators.NewPlan(m.op, m.pool.src, s, operators.PlanOptions{Seed: m.seed, Stats: m.stats, TaskTensors: &tasks})
}

// Plan returns the prepared merge plan of a genome over the pool.
func (m *Merger) Plan(ctx context.Context, g population.Genome) (*operators.Plan, error) {
	s, err := m.Settings(g)
	if err != nil {
		return nil, err
	}
	p, err := m.plan(s)
	if err != nil {
		return nil, err
	}
	if err := p.Prepare(ctx, m.pool.src); err != nil {
		return nil, err
	}
	return p, nil
}

// Recipe returns the genome as an operators.Recipe over the pool's files:
// what `evomerge merge` reads to reproduce the merge bit for bit.
func (m *Merger) Recipe(g population.Genome) (*operators.Recipe, error) {
	s, err := m.Settings(g)
	if err != nil {
		return nil, err
	}
	return m.recipe(s)
}

func (m *Merger) recipe(s operators.Settings) (*operators.Recipe, error) {
	specs := m.op.Params()
	r := &operators.Recipe{
		Method:      m.op.Name(),
		Seed:        m.seed,
		Base:        m.pool.basePath,
		TaskTensors: slices.Clone(m.tasks.Patterns),
	}
	for i, path := range m.pool.paths {
		r.Models = append(r.Models, operators.RecipeModel{Name: m.pool.names[i], Path: path})
	}
	var err error
	if r.Params, err = recipeLevel(specs, s.Default); err != nil {
		return nil, err
	}
	if len(s.Groups) > 0 {
		r.Groups = make(map[string]map[string]any, len(s.Groups))
		for g, v := range s.Groups {
			if r.Groups[g], err = recipeLevel(specs, v); err != nil {
				return nil, fmt.Errorf("layer group %q: %w", g, err)
			}
		}
	}
	if len(s.Tensors) > 0 {
		r.Tensors = make(map[string]map[string]any, len(s.Tensors))
		for t, v := range s.Tensors {
			if r.Tensors[t], err = recipeLevel(specs, v); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", t, err)
			}
		}
	}
	if s.Grouping != nil {
		r.Grouping = make(map[string][]string, len(s.Grouping))
		for g, names := range s.Grouping {
			r.Grouping[g] = slices.Clone(names)
		}
	}
	return r, nil
}

// recipeLevel writes one level of settings as recipe values: a scalar per
// global value, an array per per-model value.
func recipeLevel(specs []operators.ParamSpec, v operators.Values) (map[string]any, error) {
	if len(v.Global) == 0 && len(v.Models) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(v.Global)+len(v.Models))
	find := func(name string) (operators.ParamSpec, error) {
		for _, s := range specs {
			if s.Name == name {
				return s, nil
			}
		}
		return operators.ParamSpec{}, fmt.Errorf("evaluate: unknown parameter %q", name)
	}
	for name, val := range v.Global {
		spec, err := find(name)
		if err != nil {
			return nil, err
		}
		out[name] = rawValue(spec, val)
	}
	for name, vals := range v.Models {
		spec, err := find(name)
		if err != nil {
			return nil, err
		}
		arr := make([]any, len(vals))
		for i, val := range vals {
			arr[i] = rawValue(spec, val)
		}
		out[name] = arr
	}
	return out, nil
}

func rawValue(spec operators.ParamSpec, v operators.Value) any {
	switch spec.Kind {
	case operators.KindBool:
		return v.Bool
	case operators.KindChoice:
		return v.Choice
	}
	return v.Float
}

// ExportOptions configure Export.
type ExportOptions struct {
	// DType is the stored element type: "" or F32, or BF16.
	DType checkpoint.DType
	// MaxShardBytes caps one output shard; 0 writes one model.safetensors.
	MaxShardBytes int64
	// Workers is the number of tensors merged at once (0: GOMAXPROCS); the
	// output does not depend on it.
	Workers int
}

// Export writes the genome's merged checkpoint into dir (which must not hold
// one yet) with operators.StreamMerge, the executor `evomerge merge` uses:
// per-task tensors (heads) included, the pool's metadata (with the model spec, model.SpecMetadataKey)
// and the recipe under operators.RecipeMetadataKey. Given the recipe that
// Recipe returns, `evomerge merge` writes the same bytes.
func (m *Merger) Export(ctx context.Context, g population.Genome, dir string, opt ExportOptions) (operators.StreamReport, error) {
	s, err := m.Settings(g)
	if err != nil {
		return operators.StreamReport{}, err
	}
	rec, err := m.recipe(s)
	if err != nil {
		return operators.StreamReport{}, err
	}
	text, err := rec.JSON()
	if err != nil {
		return operators.StreamReport{}, err
	}
	p, err := m.plan(s)
	if err != nil {
		return operators.StreamReport{}, err
	}
	meta := m.pool.Metadata()
	meta[operators.RecipeMetadataKey] = text
	return operators.StreamMerge(ctx, p, m.pool.src, dir, operators.StreamOptions{
		Workers: opt.Workers, DType: opt.DType, MaxShardBytes: opt.MaxShardBytes, Metadata: meta,
	})
}

// Materialize returns the genome's merged model (heads included) as a new
// network of the pool's architecture.
func (m *Merger) Materialize(ctx context.Context, g population.Genome) (model.Network, error) {
	model, err := m.newModel()
	if err != nil {
		return nil, err
	}
	p, err := m.Plan(ctx, g)
	if err != nil {
		return nil, err
	}
	var buf mergeBuffers
	if err := buf.merge(ctx, p, m.pool.src, destinations(model, p)); err != nil {
		return nil, err
	}
	return model, nil
}

// newModel builds a model of the pool's architecture with a parameter for
// every tensor of the pool (heads discovered from the tensors present).
func (m *Merger) newModel() (model.Network, error) {
	metas := m.pool.src.Tensors()
	tensors := make([]checkpoint.Tensor, len(metas))
	for i, t := range metas {
		tensors[i] = checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: make([]float32, t.NumElements())}
	}
	arch, err := m.pool.Architecture()
	if err != nil {
		return nil, err
	}
	net, err := arch.FromTensors(tensors)
	if err != nil {
		return nil, fmt.Errorf("evaluate: the pool's tensors do not form a model of its architecture: %w", err)
	}
	return net, nil
}

// destinations returns, for each tensor of the plan, the model parameter
// slice it is merged into.
func destinations(net model.Network, p *operators.Plan) [][]float32 {
	dst := make([][]float32, len(p.Tensors))
	for i, tp := range p.Tensors {
		prm := net.Param(tp.Meta.Name)
		if prm == nil {
			panic("evaluate: plan tensor without a model parameter")
		}
		dst[i] = prm.Data
	}
	return dst
}

// mergeBuffers are one worker's reusable merge inputs, conversion buffers
// and temporaries: a worker that keeps them merges without allocating once
// they have grown to the pool's largest tensor.
type mergeBuffers struct {
	in      operators.TensorInputs
	bufs    operators.InputBuffers
	scratch operators.Scratch
}

// bufferedSource is a source that converts into caller-owned buffers and
// can skip the base (the pool's operators.MappedSource).
type bufferedSource interface {
	LoadInto(name string, in *operators.TensorInputs, b *operators.InputBuffers, withBase bool) error
}

// merge writes every tensor of the prepared plan into dst (indexed like
// p.Tensors) and checks the merged values are finite. The inputs of each
// tensor are read when it is merged; the base only when the operator uses
// it or the tensor is per-task (its owner may be the base).
func (b *mergeBuffers) merge(ctx context.Context, p *operators.Plan, src operators.Source, dst [][]float32) error {
	bs, buffered := src.(bufferedSource)
	usesBase := p.Op.Requirements().Base != operators.BaseUnused
	for i := range p.Tensors {
		if err := ctx.Err(); err != nil {
			return err
		}
		meta := p.Tensors[i].Meta
		var err error
		if buffered {
			err = bs.LoadInto(meta.Name, &b.in, &b.bufs, usesBase || p.Tensors[i].PerTask)
		} else {
			err = src.Load(meta.Name, &b.in)
		}
		if err != nil {
			return err
		}
		b.in.Name, b.in.Shape = meta.Name, meta.Shape
		if err := p.MergeTensor(dst[i], &b.in, &b.scratch); err != nil {
			return err
		}
		for j, v := range dst[i] {
			if v-v != 0 { // NaN or ±Inf
				return fmt.Errorf("merged tensor %q has a non-finite value (%v) at element %d", meta.Name, v, j)
			}
		}
	}
	return nil
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
