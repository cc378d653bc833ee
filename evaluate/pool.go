package evaluate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/operators"
)

// PoolFiles names the checkpoints of a model pool on disk.
type PoolFiles struct {
	// Base is the shared base θ0 ("" for none).
	Base string
	// Models are the experts θ1..θN, in model order.
	Models []string
	// Names name the experts (one per model); nil derives each name from its
	// file name without the extension.
	Names []string
	// Benchmark and BenchmarkVersion, when set, enter the pool's version.
	Benchmark, BenchmarkVersion string
}

// Pool is a model pool read lazily from disk: a base (optional) and N
// expert checkpoints with the same tensors. When every checkpoint is of an
// architecture the native backend knows (internal/model/all), Architecture
// returns it and the pool can be scored natively; any other safetensors
// checkpoint (a Hugging Face model of another family, with or without
// config.json) can still be merged, exported and scored by a command.
// LoadPool opens them through memory-mapped
// checkpoint readers and reads only their headers; a merge reads the
// tensors it needs when it needs them (operators.MappedSource): an F32
// tensor is read in place from the map, any other float dtype is converted
// to float32 into the merging worker's reused buffers. The memory a pool
// costs is therefore the tensors being merged, not the pool (the file pages
// merges touch are page cache, which the kernel reclaims). It is immutable
// and safe for concurrent use until Close. Its checkpoint files must not be
// changed while it is open.
type Pool struct {
	basePath string
	paths    []string
	names    []string
	cfg      model.Config
	archErr  error                // why cfg is nil: a checkpoint of no known architecture
	readers  []*checkpoint.Reader // the base (when given) then the experts
	src      *operators.MappedSource
	metadata map[string]string
	version  string
}

// LoadPool opens the pool's checkpoints, reading their headers and hashing
// their contents (Version); tensor data is read when merges need it. Every
// tensor must be of a float dtype (F32, F16, BF16, F64) and a tensor
// present in several checkpoints must have one shape. The architecture is
// detected from each checkpoint's metadata and config.json
// (internal/model/all): checkpoints of known architectures must share one
// backbone (heads may differ: they are per task); when one is of no known
// architecture the pool has none (Architecture says why) and only
// evaluators that do not run the model natively can score it. Close
// releases the files.
func LoadPool(f PoolFiles) (*Pool, error) {
	if len(f.Models) == 0 {
		return nil, fmt.Errorf("evaluate: the model pool has no expert checkpoints: give at least one model path")
	}
	if f.Names != nil && len(f.Names) != len(f.Models) {
		return nil, fmt.Errorf("evaluate: %d model names for %d model paths: give one name per model", len(f.Names), len(f.Models))
	}
	p := &Pool{basePath: f.Base, paths: slices.Clone(f.Models)}
	p.names = make([]string, len(f.Models))
	seen := map[string]bool{}
	for i, path := range f.Models {
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if f.Names != nil {
			name = f.Names[i]
		}
		if name == "" {
			return nil, fmt.Errorf("evaluate: model %d (%s) has an empty name: name every model", i+1, path)
		}
		if seen[name] {
			return nil, fmt.Errorf("evaluate: two models are named %q: give each model its own name", name)
		}
		seen[name] = true
		p.names[i] = name
	}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	h := sha256.New()
	fmt.Fprintf(h, "benchmark=%q version=%q\n", f.Benchmark, f.BenchmarkVersion)
	var (
		firstMD  map[string]string
		specFrom string
		backbone string
	)
	open := func(role, path string) (*checkpoint.Reader, error) {
		r, err := checkpoint.Open(path)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %s: %w", role, err)
		}
		p.readers = append(p.readers, r)
		for _, name := range r.Names() {
			if info, _ := r.Info(name); !info.DType.Convertible() {
				return nil, fmt.Errorf("evaluate: %s: checkpoint %s: tensor %q has dtype %s, which evomerge cannot read as float32 (supported: F32, F16, BF16, F64); leave it out or convert the checkpoint", role, r.Path(), name, info.DType)
			}
		}
		sum, err := fileSum(path)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %s: %w", role, err)
		}
		fmt.Fprintf(h, "%s %s\n", role, sum)
		meta := r.Metadata()
		if firstMD == nil {
			firstMD = meta
		}
		cfg, err := configOf(meta, path)
		if errors.Is(err, model.ErrUnknownArchitecture) {
			if p.archErr == nil {
				p.archErr = fmt.Errorf("evaluate: %s: %w", role, err)
			}
			return r, nil
		}
		if err != nil {
			return nil, fmt.Errorf("evaluate: %s: %w", role, err)
		}
		if p.cfg == nil {
			p.cfg, specFrom, backbone = cfg, path, cfg.Backbone()
		} else if b := cfg.Backbone(); b != backbone {
			return nil, fmt.Errorf("evaluate: %s (%s) and %s have different architectures: %s vs %s; a pool's models must share one backbone", role, path, specFrom, b, backbone)
		}
		return r, nil
	}
	var base *checkpoint.Reader
	if f.Base != "" {
		var err error
		if base, err = open("base model", f.Base); err != nil {
			return nil, err
		}
	}
	models := make([]*checkpoint.Reader, len(f.Models))
	for i, path := range f.Models {
		var err error
		if models[i], err = open(fmt.Sprintf("model %d (%s)", i+1, p.names[i]), path); err != nil {
			return nil, err
		}
	}
	cs, err := operators.NewCheckpointSource(base, models...)
	if err != nil {
		return nil, fmt.Errorf("evaluate: model pool: %w", err)
	}
	p.src = operators.NewMappedSource(cs)
	p.metadata = make(map[string]string, len(firstMD))
	for k, v := range firstMD {
		if k != "total_size" && k != operators.RecipeMetadataKey {
			p.metadata[k] = v
		}
	}
	if p.archErr != nil {
		p.cfg = nil
	} else {
		p.cfg = p.cfg.WithHeads(nil) // heads are discovered from the tensors present
	}
	p.version = hex.EncodeToString(h.Sum(nil))[:16]
	ok = true
	return p, nil
}

// Close releases the pool's files (their memory maps). It must not be
// called while merges or evaluators still read the pool: tensors read in
// place are gone with the maps. Closing twice is a no-op.
func (p *Pool) Close() error {
	var errs []error
	for _, r := range p.readers {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// BenchmarkPool loads a prepared built-in benchmark's pool: its base (when it
// has one) and its experts or specialists in task order, each named after
// its task (or member name when it has none).
func BenchmarkPool(b *benchmarks.Benchmark) (*Pool, error) {
	f := PoolFiles{Benchmark: b.Name, BenchmarkVersion: b.Version}
	if base, ok := b.Base(); ok {
		f.Base = base.Path
	}
	for _, m := range b.Pool() {
		f.Models = append(f.Models, m.Path)
		name := m.Task
		if name == "" {
			name = m.Name
		}
		f.Names = append(f.Names, name)
	}
	if len(f.Models) == 0 {
		return nil, fmt.Errorf("evaluate: benchmark %s has no trained members to merge (it is meant for evolution from scratch)", b.Name)
	}
	p, err := LoadPool(f)
	if err != nil {
		return nil, fmt.Errorf("%w (run `evomerge bench prepare %s --force` if the cache is damaged)", err, b.Name)
	}
	return p, nil
}

// NumModels is N, the number of experts.
func (p *Pool) NumModels() int { return len(p.paths) }

// ModelNames returns the experts' names in model order.
func (p *Pool) ModelNames() []string { return slices.Clone(p.names) }

// HasBase reports whether the pool has a base model.
func (p *Pool) HasBase() bool { return p.basePath != "" }

// Config returns the pool's architecture without heads (heads are per task
// and taken from the tensors present: Config().FromTensors builds a network
// of the pool's tensors); nil when the pool has none (see Architecture).
func (p *Pool) Config() model.Config { return p.cfg }

// Architecture returns the pool's architecture, or an error that names the
// checkpoint of no known architecture and says what scores it instead.
func (p *Pool) Architecture() (model.Config, error) {
	if p.cfg == nil {
		return nil, p.archErr
	}
	return p.cfg, nil
}

// Source returns the pool as an operators.Source (an
// operators.MappedSource): slices it loads are read-only and valid until
// the next load into the same TensorInputs; keep a copy to keep values.
func (p *Pool) Source() operators.Source { return p.src }

// Version identifies the pool's contents: a hash of every checkpoint file's
// SHA-256 (and of the benchmark name and version when the pool comes from
// one).
func (p *Pool) Version() string { return p.version }

// Metadata returns the metadata a merged checkpoint inherits, as `evomerge
// merge` does: the base's (else the first model's) without the sharding key
// total_size and any recorded recipe.
func (p *Pool) Metadata() map[string]string {
	out := make(map[string]string, len(p.metadata))
	for k, v := range p.metadata {
		out[k] = v
	}
	return out
}

// configOf detects the architecture of the checkpoint at path from its
// metadata and config.json.
func configOf(meta map[string]string, path string) (model.Config, error) {
	config, err := model.ConfigFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := all.Detect(path, meta, config)
	if errors.Is(err, model.ErrUnknownArchitecture) {
		return nil, fmt.Errorf("%w: the native backend runs only these architectures (evomerge writes the metadata of the models it trains and merges); score other checkpoints with your own script: kind = \"command\" in [evaluator]", err)
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func fileSum(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	hashFile := func(p string) error {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	}
	if !st.IsDir() {
		if err := hashFile(path); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	files, err := filepath.Glob(filepath.Join(path, "*.safetensors*"))
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	for _, f := range files {
		fmt.Fprintf(h, "%s\n", filepath.Base(f))
		if err := hashFile(f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
