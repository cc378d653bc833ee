package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ShardOptions controls NewShardedWriter.
type ShardOptions struct {
	// DType is the stored element type for plan entries that leave theirs
	// empty: "" or F32, BF16 or F16.
	DType DType
	// MaxShardBytes caps the data bytes of one shard; tensors are packed in
	// canonical order and a tensor larger than the cap gets a shard of its
	// own. 0 means no cap: one file, model.safetensors.
	MaxShardBytes int64
}

// ShardedWriter writes a checkpoint whose layout is fixed up front by a plan,
// so tensors can be written in any order and from several goroutines at
// once. Files are written under temporary names; Commit renames the shards
// and then the index into place.
type ShardedWriter struct {
	dir     string
	shards  []*shardOut
	planned map[string]*plannedTensor
	order   []string // canonical
	index   []byte   // nil for a single-file checkpoint

	mu       sync.Mutex
	inFlight int
	done     bool // committed or aborted
}

type shardOut struct {
	final string // final path
	file  *os.File
}

type writeState int

const (
	pending writeState = iota
	writing
	written
)

type plannedTensor struct {
	info   TensorInfo
	shard  *shardOut
	offset int64 // absolute offset of the data in the shard file
	state  writeState
}

// NewShardedWriter plans a checkpoint in dir (created if needed) holding
// exactly the tensors of plan. Each plan entry's DType, when set, overrides
// opt.DType; an entry of a dtype WriteTensor cannot encode (an integer,
// boolean, F64 or F8 type) is written with WriteRaw. With one shard the result is dir/model.safetensors; with N > 1
// shards it is dir/model-0000i-of-0000N.safetensors plus
// dir/model.safetensors.index.json, whose metadata holds total_size (the
// data bytes of all shards) and the given metadata, which every shard's
// __metadata__ also carries.
func NewShardedWriter(dir string, plan []TensorInfo, metadata map[string]string, opt ShardOptions) (*ShardedWriter, error) {
	defaultDType, err := resolveDType(opt.DType)
	if err != nil {
		return nil, err
	}
	if opt.MaxShardBytes < 0 {
		return nil, fmt.Errorf("checkpoint %s: MaxShardBytes is %d; use 0 for a single file or a positive byte count", dir, opt.MaxShardBytes)
	}
	if err := checkMetadata(dir, metadata); err != nil {
		return nil, err
	}
	infos := make([]TensorInfo, len(plan))
	seen := make(map[string]bool, len(plan))
	for i, p := range plan {
		if err := checkInfo(dir, p.Name, p.Shape); err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("checkpoint %s: tensor %q appears twice in the plan", dir, p.Name)
		}
		seen[p.Name] = true
		dt := p.DType
		if dt == "" {
			dt = defaultDType
		} else if !dt.writable() && !dt.rawOnly() {
			return nil, fmt.Errorf("checkpoint %s: tensor %q: cannot write dtype %q; use F32, BF16 or F16 (or a safetensors dtype with WriteRaw)", dir, p.Name, dt)
		}
		infos[i] = TensorInfo{Name: p.Name, DType: dt, Shape: slices.Clone(p.Shape)}
	}
	slices.SortFunc(infos, func(a, b TensorInfo) int { return compareNames(a.Name, b.Name) })

	// Pack tensors into shards in canonical order.
	var groups [][]TensorInfo
	var groupBytes int64
	for _, info := range infos {
		n := int64(info.NumElements()) * int64(info.DType.Size())
		if len(groups) == 0 || (opt.MaxShardBytes > 0 && groupBytes > 0 && groupBytes+n > opt.MaxShardBytes) {
			groups = append(groups, nil)
			groupBytes = 0
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], info)
		groupBytes += n
	}
	if len(groups) == 0 {
		groups = [][]TensorInfo{nil}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	w := &ShardedWriter{dir: dir, planned: make(map[string]*plannedTensor, len(infos))}
	for _, info := range infos {
		w.order = append(w.order, info.Name)
	}
	var totalSize int64
	fileNames := make([]string, len(groups))
	for i, group := range groups {
		name := SingleFileName
		if len(groups) > 1 {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(groups))
		}
		fileNames[i] = name
		entries, dataBytes := layout(group)
		header := encodeHeader(entries, metadata)
		out := &shardOut{final: filepath.Join(dir, name)}
		if out.file, err = createTemp(out.final); err != nil {
			w.Abort()
			return nil, err
		}
		w.shards = append(w.shards, out)
		if _, err := out.file.WriteAt(header, 0); err != nil {
			w.Abort()
			return nil, fmt.Errorf("checkpoint %s: write header: %w", out.final, err)
		}
		if err := out.file.Truncate(int64(len(header)) + dataBytes); err != nil {
			w.Abort()
			return nil, fmt.Errorf("checkpoint %s: size file: %w", out.final, err)
		}
		for _, e := range entries {
			w.planned[e.info.Name] = &plannedTensor{info: e.info, shard: out, offset: int64(len(header)) + e.begin}
		}
		totalSize += dataBytes
	}
	if len(groups) > 1 {
		w.index = encodeIndex(infos, w.planned, fileNames, w.shards, metadata, totalSize)
	}
	return w, nil
}

// encodeIndex renders model.safetensors.index.json, weight_map in canonical order.
func encodeIndex(infos []TensorInfo, planned map[string]*plannedTensor, fileNames []string, shards []*shardOut, metadata map[string]string, totalSize int64) []byte {
	fileOf := make(map[*shardOut]string, len(shards))
	for i, s := range shards {
		fileOf[s] = fileNames[i]
	}
	var b []byte
	b = append(b, "{\n  \"metadata\": {\n    \"total_size\": "...)
	b = strconv.AppendInt(b, totalSize, 10)
	keys := make([]string, 0, len(metadata))
	for k := range metadata {
		if k != "total_size" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ",\n    "...)
		b = appendJSONString(b, k)
		b = append(b, ": "...)
		b = appendJSONString(b, metadata[k])
	}
	b = append(b, "\n  },\n  \"weight_map\": {"...)
	for i, info := range infos {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendJSONString(b, info.Name)
		b = append(b, ": "...)
		b = appendJSONString(b, fileOf[planned[info.Name].shard])
	}
	b = append(b, "\n  }\n}\n"...)
	return b
}

// Files lists the final paths the writer produces (shards, then the index
// when there is one).
func (w *ShardedWriter) Files() []string {
	var out []string
	for _, s := range w.shards {
		out = append(out, s.final)
	}
	if w.index != nil {
		out = append(out, filepath.Join(w.dir, IndexFileName))
	}
	return out
}

// writeChunkElems is the number of elements WriteTensor encodes per write.
const writeChunkElems = 64 << 10

var writeBuffers = sync.Pool{New: func() any { b := make([]byte, writeChunkElems*8); return &b }}

// WriteTensor encodes data at the tensor's planned place. It is safe for
// concurrent use with different tensors; each tensor is written once.
func (w *ShardedWriter) WriteTensor(name string, data []float32) error {
	p, err := w.begin("WriteTensor", name, func(p *plannedTensor) error {
		if n := p.info.NumElements(); len(data) != n {
			return fmt.Errorf("checkpoint %s: tensor %q has shape %v (%d elements) but %d values were given", w.dir, name, p.info.Shape, n, len(data))
		}
		if !p.info.DType.writable() {
			return fmt.Errorf("checkpoint %s: tensor %q is planned as %s, which WriteTensor cannot encode; write its bytes with WriteRaw", w.dir, name, p.info.DType)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.end(p, w.writeData(p, data))
}

// begin claims the planned tensor name for one write: it must be in the
// plan, pass check and not be written yet. The write runs unlocked; end
// records its outcome.
func (w *ShardedWriter) begin(op, name string, check func(*plannedTensor) error) (*plannedTensor, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil, fmt.Errorf("checkpoint %s: %s(%q) after Commit or Abort", w.dir, op, name)
	}
	p, ok := w.planned[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint %s: tensor %q is not in the plan", w.dir, name)
	}
	if err := check(p); err != nil {
		return nil, err
	}
	if p.state != pending {
		return nil, fmt.Errorf("checkpoint %s: tensor %q is written twice", w.dir, name)
	}
	p.state = writing
	w.inFlight++
	return p, nil
}

// end records the outcome of a write begun by begin: written, or pending
// again after an error (so it can be retried).
func (w *ShardedWriter) end(p *plannedTensor, err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	if err != nil {
		p.state = pending
	} else {
		p.state = written
	}
	return err
}

func (w *ShardedWriter) writeData(p *plannedTensor, data []float32) error {
	bp := writeBuffers.Get().(*[]byte)
	defer writeBuffers.Put(bp)
	size := p.info.DType.Size()
	off := p.offset
	for len(data) > 0 {
		n := min(len(data), writeChunkElems)
		buf := (*bp)[:n*size]
		encode(buf, data[:n], p.info.DType)
		if _, err := p.shard.file.WriteAt(buf, off); err != nil {
			return fmt.Errorf("checkpoint %s: tensor %q: %w", p.shard.final, p.info.Name, err)
		}
		off += int64(len(buf))
		data = data[n:]
	}
	return nil
}

// Commit checks that every planned tensor was written, then fsyncs the
// shards, renames them into place, and finally writes the index (atomically)
// so that an index on disk always refers to complete shards. On a missing
// tensor it returns an error listing them and leaves the writer open, so the
// caller can write them and commit again, or Abort.
func (w *ShardedWriter) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return fmt.Errorf("checkpoint %s: Commit after Commit or Abort", w.dir)
	}
	if w.inFlight > 0 {
		return fmt.Errorf("checkpoint %s: Commit while %d WriteTensor calls are still running", w.dir, w.inFlight)
	}
	var missing []string
	for _, name := range w.order {
		if w.planned[name].state != written {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		shown := missing
		if len(shown) > 10 {
			shown = shown[:10]
		}
		more := ""
		if len(missing) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
		}
		return fmt.Errorf("checkpoint %s: %d planned tensors were never written: %s%s", w.dir, len(missing), strings.Join(shown, ", "), more)
	}
	w.done = true
	for i, s := range w.shards {
		if err := commitTemp(s.file, s.final); err != nil {
			w.removeTemps(i)
			return err
		}
	}
	if w.index != nil {
		path := filepath.Join(w.dir, IndexFileName)
		return writeAtomic(path, func(f *os.File) error {
			_, err := f.Write(w.index)
			return err
		})
	}
	return nil
}

// removeTemps closes and removes the temporary files of shards from..end.
func (w *ShardedWriter) removeTemps(from int) {
	for _, s := range w.shards[from:] {
		if s.file != nil {
			s.file.Close()
			os.Remove(s.file.Name())
		}
	}
}

// Abort removes the temporary files. It is a no-op after Commit or a
// previous Abort.
func (w *ShardedWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	w.removeTemps(0)
	return nil
}
