package operators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// CheckpointSource is a Source over checkpoints on disk (single safetensors
// files or sharded ones), read through memory-mapped checkpoint.Readers:
// opening reads only headers, and Load converts one tensor of each input
// (F32, F16, BF16 or F64) into the caller's TensorInputs buffers, so the
// memory a merge holds is its workers' buffers, never whole models.
//
// All inputs are checked when the source is built: a tensor whose shape
// differs between two inputs is an error naming the tensor and both
// checkpoints. Tensors of a dtype that does not read as float32 (integer and
// boolean buffers such as position_ids, F8) are not merged: they are listed
// by RawTensors, and StreamMerge copies them through unchanged when they are
// per-task tensors (task_tensors) and refuses them otherwise. Tensors present
// in only some inputs are allowed here; the merge decides (see StreamMerge).
type CheckpointSource struct {
	base   *checkpoint.Reader
	models []*checkpoint.Reader
	metas  []TensorMeta
	// has[k][i] reports whether input k (0 = base, 1..N = models) holds
	// tensor i of metas.
	has   [][]bool
	index map[string]int
	owned bool
	raws  []RawTensor
}

// RawTensor is a tensor of a checkpoint source that is not merged: its
// dtype does not read as float32. Holders lists the inputs that have it
// (-1: the base, 0..N-1: the models).
type RawTensor struct {
	Name    string
	DType   checkpoint.DType
	Shape   []int
	Holders []int
}

// OpenCheckpointSource opens the base (basePath "" for none) and the models
// and builds a source that owns them; Close releases them.
func OpenCheckpointSource(basePath string, modelPaths []string) (*CheckpointSource, error) {
	var readers []*checkpoint.Reader
	closeAll := func() {
		for _, r := range readers {
			r.Close()
		}
	}
	var base *checkpoint.Reader
	if basePath != "" {
		r, err := checkpoint.Open(basePath)
		if err != nil {
			return nil, fmt.Errorf("base model: %w", err)
		}
		base = r
		readers = append(readers, r)
	}
	models := make([]*checkpoint.Reader, len(modelPaths))
	for i, p := range modelPaths {
		r, err := checkpoint.Open(p)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("model %d: %w", i+1, err)
		}
		models[i] = r
		readers = append(readers, r)
	}
	s, err := NewCheckpointSource(base, models...)
	if err != nil {
		closeAll()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// NewCheckpointSource builds a source over open readers (base may be nil).
// The caller keeps ownership of the readers.
func NewCheckpointSource(base *checkpoint.Reader, models ...*checkpoint.Reader) (*CheckpointSource, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("merge needs at least one model checkpoint")
	}
	s := &CheckpointSource{base: base, models: models, index: map[string]int{}}
	inputs := s.inputs()
	type seen struct {
		shape []int
		from  string
	}
	first := map[string]seen{}
	var names []string
	raw := map[string]int{} // index in s.raws
	for k, r := range inputs {
		if r == nil {
			continue
		}
		for _, name := range r.Names() {
			info, _ := r.Info(name)
			if !info.DType.Convertible() {
				if i, ok := raw[name]; ok {
					prev := s.raws[i]
					if prev.DType != info.DType || !sameShape(prev.Shape, info.Shape) {
						return nil, fmt.Errorf("tensor %q is %s %v in %s but %s %v in %s; the models' architectures differ", name, info.DType, info.Shape, r.Path(), prev.DType, prev.Shape, s.inputPath(prev.Holders[0]))
					}
					s.raws[i].Holders = append(s.raws[i].Holders, k-1)
					continue
				}
				if _, ok := first[name]; ok {
					return nil, fmt.Errorf("tensor %q is %s in %s but a float tensor in %s; the models' architectures differ", name, info.DType, r.Path(), first[name].from)
				}
				raw[name] = len(s.raws)
				s.raws = append(s.raws, RawTensor{Name: name, DType: info.DType, Shape: info.Shape, Holders: []int{k - 1}})
				continue
			}
			if _, ok := raw[name]; ok {
				return nil, fmt.Errorf("tensor %q is %s in %s but %s in %s; the models' architectures differ", name, info.DType, r.Path(), s.raws[raw[name]].DType, s.inputPath(s.raws[raw[name]].Holders[0]))
			}
			if prev, ok := first[name]; ok {
				if !sameShape(prev.shape, info.Shape) {
					return nil, fmt.Errorf("tensor %q has shape %v in %s but %v in %s; the models' architectures differ", name, info.Shape, r.Path(), prev.shape, prev.from)
				}
				continue
			}
			first[name] = seen{shape: info.Shape, from: r.Path()}
			names = append(names, name)
		}
	}
	checkpoint.SortNames(names)
	rawNames := make([]string, 0, len(s.raws))
	for _, rt := range s.raws {
		rawNames = append(rawNames, rt.Name)
	}
	checkpoint.SortNames(rawNames)
	sortedRaws := make([]RawTensor, len(rawNames))
	for i, name := range rawNames {
		sortedRaws[i] = s.raws[raw[name]]
	}
	s.raws = sortedRaws
	s.metas = make([]TensorMeta, len(names))
	for i, name := range names {
		s.metas[i] = TensorMeta{Name: name, Shape: first[name].shape}
		s.index[name] = i
	}
	s.has = make([][]bool, len(inputs))
	for k, r := range inputs {
		s.has[k] = make([]bool, len(names))
		if r == nil {
			continue
		}
		for _, name := range r.Names() {
			s.has[k][s.index[name]] = true
		}
	}
	return s, nil
}

// RawTensors lists the tensors that are not merged (their dtype does not
// read as float32), in canonical order.
func (s *CheckpointSource) RawTensors() []RawTensor { return s.raws }

// ReadRaw returns a raw tensor's bytes from one holder (-1: the base).
func (s *CheckpointSource) ReadRaw(holder int, name string) ([]byte, error) {
	return s.inputs()[holder+1].ReadRaw(name)
}

// inputPath is the path of input k (-1: the base).
func (s *CheckpointSource) inputPath(k int) string { return s.inputs()[k+1].Path() }

// inputs lists the base (possibly nil) then the models.
func (s *CheckpointSource) inputs() []*checkpoint.Reader {
	return append([]*checkpoint.Reader{s.base}, s.models...)
}

// Close closes the readers when the source opened them.
func (s *CheckpointSource) Close() error {
	if !s.owned {
		return nil
	}
	var errs []error
	for _, r := range s.inputs() {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}

// NumModels implements Source.
func (s *CheckpointSource) NumModels() int { return len(s.models) }

// HasBase implements Source.
func (s *CheckpointSource) HasBase() bool { return s.base != nil }

// Tensors implements Source.
func (s *CheckpointSource) Tensors() []TensorMeta { return s.metas }

// Has reports whether model i (0-based; -1 for the base) holds the tensor.
func (s *CheckpointSource) Has(model int, name string) bool {
	t, ok := s.index[name]
	if !ok || model < -1 || model >= len(s.models) {
		return false
	}
	return s.has[model+1][t]
}

// InputName names model i (-1 for the base) in messages: its path.
func (s *CheckpointSource) InputName(model int) string {
	if model < 0 {
		if s.base == nil {
			return "the base"
		}
		return "base " + s.base.Path()
	}
	return fmt.Sprintf("model %d (%s)", model+1, s.models[model].Path())
}

// Metadata returns the metadata the merged checkpoint inherits: the base's
// __metadata__ (the first model's when there is no base), without the
// sharding bookkeeping key total_size. It carries e.g. evomerge.spec, so a
// merged internal/model network loads like its inputs.
func (s *CheckpointSource) Metadata() map[string]string {
	r := s.base
	if r == nil {
		r = s.models[0]
	}
	m := r.Metadata()
	delete(m, "total_size")
	delete(m, RecipeMetadataKey)
	return m
}

// Load implements Source: it converts the tensor of each input into in's
// slices, reusing their capacity, and sets the slice of an input lacking the
// tensor to nil.
func (s *CheckpointSource) Load(name string, in *TensorInputs) error {
	var b InputBuffers
	b.bufs = make([][]float32, len(s.models)+1)
	b.bufs[0] = in.Base
	for i := range min(len(in.Models), len(s.models)) {
		b.bufs[i+1] = in.Models[i]
	}
	return s.LoadInto(name, in, &b, true)
}

// InputBuffers are one worker's reusable conversion buffers for
// CheckpointSource.LoadInto, one per input. Unlike the slices of
// TensorInputs, which are nil for an input lacking a tensor, they keep their
// capacity from tensor to tensor. The zero value is ready to use.
type InputBuffers struct {
	bufs [][]float32 // 0: base, 1..N: models
}

func (b *InputBuffers) get(k, n int) []float32 {
	for len(b.bufs) <= k {
		b.bufs = append(b.bufs, nil)
	}
	b.bufs[k] = resize(b.bufs[k], n)
	return b.bufs[k]
}

// LoadInto is Load with the conversion buffers kept in b. With withBase
// false the base is not read (in.Base is nil), for methods that do not use
// it.
func (s *CheckpointSource) LoadInto(name string, in *TensorInputs, b *InputBuffers, withBase bool) error {
	return s.load(name, in, b, withBase, false)
}

// load is LoadInto; with views set, a tensor the reader can alias
// (checkpoint.Reader.View) is not copied: its slice is the view and b's
// buffer for that input is left as it was.
func (s *CheckpointSource) load(name string, in *TensorInputs, b *InputBuffers, withBase, views bool) error {
	t, ok := s.index[name]
	if !ok {
		return fmt.Errorf("no input checkpoint has tensor %q", name)
	}
	n := s.metas[t].NumElements()
	in.Name = name
	in.Shape = s.metas[t].Shape
	in.Base = nil
	if withBase && s.base != nil && s.has[0][t] {
		v, err := readInput(s.base, name, n, b, 0, views)
		if err != nil {
			return err
		}
		in.Base = v
	}
	if cap(in.Models) < len(s.models) {
		in.Models = make([][]float32, len(s.models))
	}
	in.Models = in.Models[:len(s.models)]
	for i, r := range s.models {
		in.Models[i] = nil
		if !s.has[i+1][t] {
			continue
		}
		v, err := readInput(r, name, n, b, i+1, views)
		if err != nil {
			return err
		}
		in.Models[i] = v
	}
	return nil
}

// readInput reads input k's tensor of n elements: its view when views is
// set and the reader has one, else converted into b's buffer k.
func readInput(r *checkpoint.Reader, name string, n int, b *InputBuffers, k int, views bool) ([]float32, error) {
	if views {
		if v, ok := r.View(name); ok && len(v) == n {
			return v, nil
		}
	}
	buf := b.get(k, n)
	return buf, r.ReadInto(name, buf)
}

func resize(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// presence is implemented by sources that know which inputs hold a tensor
// without loading it (CheckpointSource); StreamMerge then checks the whole
// merge before writing anything.
type presence interface {
	Has(model int, name string) bool
	InputName(model int) string
}

// CheckPresence applies the merge's rule for tensors missing from some
// inputs, before any data is read: a per-task tensor needs an owner (any
// input); every other tensor must be in every expert model, and in the base
// when a base is given and the operator uses one (BaseOptional or
// BaseRequired). The error names the tensor and the model lacking it.
func CheckPresence(p *Plan, src Source) error {
	pr, ok := src.(presence)
	if !ok {
		return nil // checked tensor by tensor while merging
	}
	usesBase := p.HasBase && p.Op.Requirements().Base != BaseUnused
	for i := range p.Tensors {
		tp := &p.Tensors[i]
		name := tp.Meta.Name
		if tp.PerTask {
			continue // present somewhere by construction: the owner is copied
		}
		var missing []string
		for m := 0; m < p.NumModels; m++ {
			if !pr.Has(m, name) {
				missing = append(missing, pr.InputName(m))
			}
		}
		if usesBase && !pr.Has(-1, name) {
			missing = append(missing, pr.InputName(-1))
		}
		if len(missing) > 0 {
			return fmt.Errorf("tensor %q is missing from %s; a merged tensor must be in every model (and in the base the method uses). If it is a per-task tensor (a head), add its prefix to task_tensors so it is copied from its owner", name, strings.Join(missing, ", "))
		}
	}
	return nil
}

// StreamOptions configure StreamMerge.
type StreamOptions struct {
	// Workers is the number of tensors merged at once; 0 means GOMAXPROCS.
	// The output does not depend on it.
	Workers int
	// DType is the stored element type of merged tensors: "" or F32, BF16
	// or F16. Raw tensors (see RawTensors) keep their own.
	DType checkpoint.DType
	// MaxShardBytes caps one output shard's data; 0 writes one file.
	MaxShardBytes int64
	// Metadata is written to the output's __metadata__ (and index).
	Metadata map[string]string
	// AllowNonFinite merges inputs holding NaN or ±Inf values; without it
	// such an input is refused, naming the model and the tensor (a NaN
	// spreads through every method and leaves a merged model of NaN).
	AllowNonFinite bool
	// Progress, when set, is called after each tensor is written with the
	// number of tensors done so far and the total (from several goroutines,
	// one call at a time).
	Progress func(done, total int)
}

// StreamReport describes a finished streaming merge.
type StreamReport struct {
	Tensors int
	Workers int
	// InputBytes are the float32 bytes loaded for the merge pass (every
	// input of every merged tensor: the models, and the base when the method
	// uses one); PrepareBytes those of the model-wide pass.
	InputBytes, PrepareBytes int64
	// OutputElements is the number of elements written.
	OutputElements int64
	// LargestTensor is the element count of the largest tensor.
	LargestTensor int
	// BufferBound is the memory the workers' tensor buffers may hold:
	// workers × (inputs + 1 output) × largest tensor × 4 bytes, where inputs
	// counts the base only when the method uses it (a base given to a method
	// that ignores it is read only for the per-task tensors it owns).
	// Operator scratch comes on top: none for linear and task arithmetic,
	// one tensor for SLERP, N task vectors for the sparsifying methods.
	BufferBound int64
	// Prepare and Merge are the wall times of the model-wide pass and of the
	// tensor-by-tensor pass (including writing).
	Prepare, Merge time.Duration
	// Load, Compute and Write are the time the workers spent reading and
	// converting inputs, merging, and encoding and writing outputs, summed
	// over workers (so with 2 busy workers they add up to about twice Merge).
	Load, Compute, Write time.Duration
	// Files are the paths written (shards, then the index when sharded).
	Files []string
}

// StreamMerge merges every tensor of src into a new checkpoint in dir,
// tensor by tensor. The output layout is fixed up front (checkpoint
// ShardedWriter), so Workers goroutines merge tensors in any order, each with
// its own TensorInputs buffers, destination buffer and Scratch reused across
// tensors: peak heap is about Workers × (inputs + 2) × the largest tensor,
// whatever the model size (memory-mapped input pages are not heap). The
// output is bit-identical whatever the worker count.
//
// Operators with a model-wide pass (Preparer) read the inputs twice: once in
// Plan.Prepare, once to merge. The plan's presence rule is checked before
// anything is written (CheckPresence). dir must not already hold a
// checkpoint. On an error or cancellation the temporary files are removed
// and nothing is left in dir's place.
func StreamMerge(ctx context.Context, p *Plan, src Source, dir string, opt StreamOptions) (StreamReport, error) {
	var rep StreamReport
	created, err := checkOutputDir(dir)
	if err != nil {
		return rep, err
	}
	if err := CheckPresence(p, src); err != nil {
		return rep, err
	}
	var raws []RawTensor
	cs, _ := src.(*CheckpointSource)
	if cs != nil {
		raws = cs.RawTensors()
		if err := checkRawTensors(p, cs); err != nil {
			return rep, err
		}
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(len(p.Tensors), 1))
	rep.Workers = workers
	rep.Tensors = len(p.Tensors)
	inputs := p.NumModels // inputs read per merged tensor
	if p.HasBase && p.Op.Requirements().Base != BaseUnused {
		inputs++
	}
	infos := make([]checkpoint.TensorInfo, len(p.Tensors))
	for i, tp := range p.Tensors {
		n := tp.Meta.NumElements()
		rep.LargestTensor = max(rep.LargestTensor, n)
		rep.OutputElements += int64(n)
		if !tp.PerTask {
			rep.InputBytes += int64(n) * 4 * int64(inputs)
		}
		infos[i] = checkpoint.TensorInfo{Name: tp.Meta.Name, Shape: tp.Meta.Shape}
	}
	for _, rt := range raws {
		infos = append(infos, checkpoint.TensorInfo{Name: rt.Name, DType: rt.DType, Shape: rt.Shape})
	}
	rep.Tensors += len(raws)
	rep.BufferBound = int64(workers) * int64(inputs+1) * int64(rep.LargestTensor) * 4

	start := time.Now()
	alreadyPrepared := p.prepared
	if err := p.Prepare(ctx, src); err != nil {
		return rep, err
	}
	if _, modelWide := p.Op.(Preparer); modelWide && !alreadyPrepared {
		for _, tp := range p.Tensors {
			if !tp.PerTask {
				rep.PrepareBytes += int64(tp.Meta.NumElements()) * 4 * int64(inputs)
			}
		}
	}
	rep.Prepare = time.Since(start)

	w, err := checkpoint.NewShardedWriter(dir, infos, opt.Metadata, checkpoint.ShardOptions{DType: opt.DType, MaxShardBytes: opt.MaxShardBytes})
	if err != nil {
		if created {
			os.Remove(dir) // only removes it when empty
		}
		return rep, err
	}
	fail := func(err error) (StreamReport, error) {
		w.Abort()
		if created {
			os.Remove(dir) // only removes it when empty
		}
		return rep, err
	}
	start = time.Now()
	if err := runWorkers(ctx, p, src, w, workers, opt, &rep); err != nil {
		return fail(err)
	}
	if err := copyRawTensors(ctx, cs, raws, w); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := w.Commit(); err != nil {
		return fail(err)
	}
	rep.Merge = time.Since(start)
	rep.Files = w.Files()
	return rep, nil
}

// checkRawTensors refuses, before anything is read, the tensors that are
// not merged (integer, boolean or F8 dtypes) unless they are per-task
// tensors: those are copied through unchanged.
func checkRawTensors(p *Plan, cs *CheckpointSource) error {
	var refused []string
	for _, rt := range cs.RawTensors() {
		if !p.TaskTensors.Match(rt.Name) {
			refused = append(refused, fmt.Sprintf("%q (%s in %s)", rt.Name, rt.DType, cs.inputPath(rt.Holders[0])))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("tensors %s are not floating point and cannot be merged; to copy them through unchanged (e.g. a position_ids or attention-mask buffer), list them or a prefix of them in task_tensors", strings.Join(refused, ", "))
	}
	return nil
}

// copyRawTensors writes each raw tensor's bytes unchanged. Every input
// holding it must hold the same bytes: the first holder (the base when it
// has one) is copied, and a difference is an error naming the tensor.
func copyRawTensors(ctx context.Context, cs *CheckpointSource, raws []RawTensor, w *checkpoint.ShardedWriter) error {
	for _, rt := range raws {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := cs.ReadRaw(rt.Holders[0], rt.Name)
		if err != nil {
			return err
		}
		for _, h := range rt.Holders[1:] {
			other, err := cs.ReadRaw(h, rt.Name)
			if err != nil {
				return err
			}
			if !bytes.Equal(data, other) {
				return fmt.Errorf("tensor %q (%s) differs between %s and %s; a tensor that is not floating point is copied through, never merged, so its inputs must agree: keep it in one model only, or make them equal", rt.Name, rt.DType, cs.inputPath(rt.Holders[0]), cs.inputPath(h))
			}
		}
		if err := w.WriteRaw(rt.Name, data); err != nil {
			return err
		}
	}
	return nil
}

// runWorkers merges and writes every tensor of p with the given number of
// goroutines. Tensors are handed out in canonical order; the first error
// stops all workers.
func runWorkers(ctx context.Context, p *Plan, src Source, w *checkpoint.ShardedWriter, workers int, opt StreamOptions, rep *StreamReport) error {
	progress := opt.Progress
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var loadNs, computeNs, writeNs atomic.Int64
	usesBase := p.Op.Requirements().Base != BaseUnused
	var progressMu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var in TensorInputs
			var s Scratch
			var dst []float32
			var bufs InputBuffers
			cs, direct := src.(*CheckpointSource)
			for {
				if ctx.Err() != nil {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(p.Tensors) {
					return
				}
				tp := &p.Tensors[i]
				t0 := time.Now()
				var err error
				if direct {
					err = cs.LoadInto(tp.Meta.Name, &in, &bufs, tp.PerTask || usesBase)
				} else {
					err = src.Load(tp.Meta.Name, &in)
				}
				if err != nil {
					cancel(err)
					return
				}
				in.Name, in.Shape = tp.Meta.Name, tp.Meta.Shape
				if !opt.AllowNonFinite {
					if err := checkInputsFinite(src, &in); err != nil {
						cancel(err)
						return
					}
				}
				dst = resize(dst, tp.Meta.NumElements())
				t1 := time.Now()
				if err := p.MergeTensor(dst, &in, &s); err != nil {
					cancel(err)
					return
				}
				t2 := time.Now()
				if err := w.WriteTensor(tp.Meta.Name, dst); err != nil {
					cancel(err)
					return
				}
				t3 := time.Now()
				loadNs.Add(int64(t1.Sub(t0)))
				computeNs.Add(int64(t2.Sub(t1)))
				writeNs.Add(int64(t3.Sub(t2)))
				d := int(done.Add(1))
				if progress != nil {
					progressMu.Lock()
					progress(d, len(p.Tensors))
					progressMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	rep.Load = time.Duration(loadNs.Load())
	rep.Compute = time.Duration(computeNs.Load())
	rep.Write = time.Duration(writeNs.Load())
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// checkInputsFinite refuses a loaded tensor input holding NaN or ±Inf.
func checkInputsFinite(src Source, in *TensorInputs) error {
	name := func(k int) string {
		if pr, ok := src.(presence); ok {
			return pr.InputName(k)
		}
		if k < 0 {
			return "the base"
		}
		return fmt.Sprintf("model %d", k+1)
	}
	check := func(k int, x []float32) error {
		if first, count := checkpoint.NonFinite(x); count > 0 {
			return fmt.Errorf("%s: tensor %q holds %d non-finite values of %d (the first, element %d, is %v): the checkpoint is damaged or its training diverged; fix or leave out that model, or pass --allow-nonfinite to merge it anyway", name(k), in.Name, count, len(x), first, x[first])
		}
		return nil
	}
	if in.Base != nil {
		if err := check(-1, in.Base); err != nil {
			return err
		}
	}
	for i, x := range in.Models {
		if err := check(i, x); err != nil {
			return err
		}
	}
	return nil
}

// checkOutputDir refuses a directory that already holds a checkpoint, so a
// merge never mixes its shards with an older one's. created reports that the
// directory does not exist yet (the merge creates it).
func checkOutputDir(dir string) (created bool, err error) {
	if dir == "" {
		return false, fmt.Errorf("no output directory given")
	}
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("output directory: %w", err)
	}
	if !st.IsDir() {
		return false, fmt.Errorf("output %s exists and is not a directory; give a new directory", dir)
	}
	existing, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return false, fmt.Errorf("output directory %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, checkpoint.IndexFileName)); err == nil {
		existing = append(existing, checkpoint.IndexFileName)
	}
	if len(existing) > 0 {
		return false, fmt.Errorf("output directory %s already holds a checkpoint (%s); give a new or empty directory", dir, filepath.Base(existing[0]))
	}
	return false, nil
}
