package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// IndexFileName is the file name of a sharded checkpoint's index.
const IndexFileName = "model.safetensors.index.json"

// SingleFileName is the file name of an unsharded checkpoint in a directory.
const SingleFileName = "model.safetensors"

// useMmap selects memory mapping; tests switch it off to exercise the
// positioned-read path that platforms without mmap use.
var useMmap = true

// Reader gives access to the tensors of one checkpoint: a single safetensors
// file or the shards of a sharded index. Only headers are read when it opens;
// tensor data is read (from the memory map) by ReadInto. ReadInto, Read,
// Info, Names and Metadata are safe for concurrent use; Close waits for reads
// in flight and makes later reads fail.
type Reader struct {
	path     string
	mu       sync.RWMutex
	closed   bool
	shards   []*shard
	tensors  map[string]tensorRef
	names    []string
	metadata map[string]string
}

type tensorRef struct {
	shard *shard
	entry headerEntry
}

// shard is one open safetensors file.
type shard struct {
	path      string
	mapped    []byte   // whole file, when memory-mapped
	file      *os.File // when not mapped
	dataStart int64    // 8 + header length
}

func (s *shard) close() error {
	if s.mapped != nil {
		err := munmap(s.mapped)
		s.mapped = nil
		return err
	}
	if s.file != nil {
		err := s.file.Close()
		s.file = nil
		return err
	}
	return nil
}

// Open opens a checkpoint without reading tensor data. path is a
// .safetensors file, a sharded index (any .json file, normally
// model.safetensors.index.json), or a directory: a directory resolves to
// its model.safetensors.index.json, else its model.safetensors, else its
// only .safetensors file; one holding both an index and model.safetensors,
// or several .safetensors files and no index, is an error. Every header is
// validated here; see the package documentation for the rules.
func Open(path string) (*Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if st.IsDir() {
		path, err = resolveDir(path)
		if err != nil {
			return nil, err
		}
	}
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		return openIndex(path)
	}
	return openSingle(path)
}

// resolveDir picks the checkpoint file inside a directory.
func resolveDir(dir string) (string, error) {
	index := filepath.Join(dir, IndexFileName)
	single := filepath.Join(dir, SingleFileName)
	_, errIndex := os.Stat(index)
	_, errSingle := os.Stat(single)
	switch {
	case errIndex == nil && errSingle == nil:
		return "", fmt.Errorf("checkpoint directory %s holds both %s and %s; pass the one you mean", dir, IndexFileName, SingleFileName)
	case errIndex == nil:
		return index, nil
	case errSingle == nil:
		return single, nil
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return "", fmt.Errorf("checkpoint directory %s: %w", dir, err)
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("checkpoint directory %s holds no .safetensors file and no %s", dir, IndexFileName)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("checkpoint directory %s holds %d .safetensors files but no %s; pass one file, or add an index", dir, len(matches), IndexFileName)
}

func openSingle(path string) (*Reader, error) {
	sh, h, err := openShard(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: path, shards: []*shard{sh}, tensors: make(map[string]tensorRef, len(h.entries)), metadata: h.metadata}
	for _, e := range h.entries {
		r.tensors[e.info.Name] = tensorRef{shard: sh, entry: e}
		r.names = append(r.names, e.info.Name)
	}
	return r, nil
}

// openShard opens one safetensors file, validates its header and maps it.
func openShard(path string) (*shard, *parsedHeader, error) {
	// Stat before opening: opening a named pipe blocks until a writer comes.
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		if err := notRegular(path, st.Mode(), fileHint); err != nil {
			return nil, nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open checkpoint: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if st.IsDir() {
		return nil, nil, formatErr(path, "", "is a directory, not a safetensors file")
	}
	if err := notRegular(path, st.Mode(), fileHint); err != nil {
		return nil, nil, err // replaced since the stat above
	}
	size := st.Size()
	var prefix [8]byte
	if size >= 8 {
		if _, err := f.ReadAt(prefix[:], 0); err != nil {
			return nil, nil, fmt.Errorf("checkpoint %s: reading header length: %w", path, err)
		}
	}
	n, err := checkHeaderLength(path, prefix[:], size)
	if err != nil {
		return nil, nil, err
	}
	header := make([]byte, n)
	if _, err := f.ReadAt(header, 8); err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: reading header: %w", path, err)
	}
	h, err := parseHeader(path, header, size-8-n)
	if err != nil {
		return nil, nil, err
	}
	sh := &shard{path: path, dataStart: 8 + n}
	if useMmap {
		if m, err := mmapFile(f, size); err == nil {
			sh.mapped = m
		}
	}
	if sh.mapped == nil {
		sh.file = f
	} else {
		f.Close()
	}
	ok = true
	return sh, h, nil
}

// openIndex opens a sharded checkpoint through its index file.
func openIndex(path string) (r *Reader, err error) {
	raw, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	top, err := objectMembers(raw)
	if err != nil {
		return nil, formatErr(path, "", "index is not a valid JSON object: %v", err)
	}
	var weightMap []member
	haveMap := false
	metadata := map[string]string{}
	for _, m := range top {
		switch m.key {
		case "weight_map":
			if len(m.raw) == 0 || m.raw[0] != '{' {
				return nil, formatErr(path, "", "weight_map is %s, want an object mapping tensor names to shard files", describeJSON(m.raw))
			}
			if weightMap, err = objectMembers(m.raw); err != nil {
				var dup *duplicateKeyError
				if errors.As(err, &dup) {
					return nil, formatErr(path, dup.key, "the name appears more than once in weight_map")
				}
				return nil, formatErr(path, "", "weight_map: %v", err)
			}
			haveMap = true
		case "metadata":
			if len(m.raw) == 0 || m.raw[0] != '{' {
				if describeJSON(m.raw) == "null" {
					continue
				}
				return nil, formatErr(path, "", "metadata is %s, want an object", describeJSON(m.raw))
			}
			mm, err := objectMembers(m.raw)
			if err != nil {
				return nil, formatErr(path, "", "metadata: %v", err)
			}
			for _, kv := range mm {
				var s string
				if json.Unmarshal(kv.raw, &s) == nil {
					metadata[kv.key] = s
				} else {
					metadata[kv.key] = string(kv.raw) // numbers such as total_size, as JSON text
				}
			}
		}
	}
	if !haveMap {
		return nil, formatErr(path, "", `index has no "weight_map"; it is not a safetensors index`)
	}
	dir := filepath.Dir(path)
	shardOf := make(map[string]string, len(weightMap))
	var files []string
	for _, m := range weightMap {
		var file string
		if err := json.Unmarshal(m.raw, &file); err != nil || len(m.raw) == 0 || m.raw[0] != '"' {
			return nil, formatErr(path, m.key, "weight_map value is %s, want the shard's file name", describeJSON(m.raw))
		}
		if !filepath.IsLocal(file) || strings.ContainsRune(file, '\\') {
			return nil, formatErr(path, m.key, "shard file name %q must be a plain relative path inside %s", file, dir)
		}
		if !slices.Contains(files, file) {
			files = append(files, file)
		}
		shardOf[m.key] = file
	}
	sort.Strings(files)

	opened := &Reader{path: path, tensors: make(map[string]tensorRef, len(weightMap)), metadata: metadata}
	defer func() {
		if err != nil {
			opened.closeShards()
		}
	}()
	r = opened
	holder := map[string]string{} // tensor -> shard file that holds it
	for _, file := range files {
		sh, h, err := openShard(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", path, err)
		}
		r.shards = append(r.shards, sh)
		for k, v := range h.metadata {
			if _, ok := r.metadata[k]; !ok {
				r.metadata[k] = v
			}
		}
		for _, e := range h.entries {
			name := e.info.Name
			if other, dup := holder[name]; dup {
				return nil, formatErr(path, name, "tensor appears in two shards, %s and %s", other, file)
			}
			holder[name] = file
			want, listed := shardOf[name]
			switch {
			case !listed:
				return nil, formatErr(path, name, "shard %s holds this tensor but weight_map does not list it", file)
			case want != file:
				return nil, formatErr(path, name, "tensor appears in two shards: weight_map says %s, but %s holds it too", want, file)
			}
			r.tensors[name] = tensorRef{shard: sh, entry: e}
		}
	}
	for _, m := range weightMap {
		if _, ok := r.tensors[m.key]; !ok {
			return nil, formatErr(path, m.key, "weight_map says shard %s holds this tensor, but it does not", shardOf[m.key])
		}
	}
	r.names = make([]string, 0, len(r.tensors))
	for name := range r.tensors {
		r.names = append(r.names, name)
	}
	SortNames(r.names)
	return r, nil
}

// readSmallFile reads a JSON side file, refusing absurd sizes.
func readSmallFile(path string) ([]byte, error) {
	if st, err := os.Stat(path); err == nil {
		if err := notRegular(path, st.Mode(), indexHint); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint index: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		if err := notRegular(path, st.Mode(), indexHint); err != nil {
			return nil, err // replaced since the stat above
		}
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxHeaderBytes+1))
	if err != nil {
		return nil, fmt.Errorf("checkpoint index %s: %w", path, err)
	}
	if len(raw) > MaxHeaderBytes {
		return nil, formatErr(path, "", "index is larger than %d bytes; it is corrupt or not a safetensors index", MaxHeaderBytes)
	}
	return raw, nil
}

// What to give instead of a file that is not a regular one.
const (
	fileHint  = "give the path of a .safetensors file or of a directory holding one"
	indexHint = "give the path of a .safetensors file, of a " + IndexFileName + " or of a directory holding one"
)

// notRegular refuses a checkpoint file that is not a regular file (a named
// pipe, socket or device, whose open may block or whose reads never end),
// naming the path and what it is; nil for a regular file. Directories are
// the caller's business.
func notRegular(path string, mode os.FileMode, hint string) error {
	if mode.IsRegular() || mode.IsDir() {
		return nil
	}
	kind := "special file"
	switch {
	case mode&os.ModeNamedPipe != 0:
		kind = "named pipe"
	case mode&os.ModeSocket != 0:
		kind = "socket"
	case mode&os.ModeCharDevice != 0:
		kind = "character device"
	case mode&os.ModeDevice != 0:
		kind = "block device"
	}
	return fmt.Errorf("%s is a %s, not a regular file: %s", path, kind, hint)
}

func (r *Reader) closeShards() error {
	var errs []error
	for _, s := range r.shards {
		if err := s.close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.path, err))
		}
	}
	return errors.Join(errs...)
}

// Close releases the memory maps and files. It waits for reads in flight;
// reads after Close return an error.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.closeShards()
}

// Path is the file the checkpoint was opened from (the index for a sharded one).
func (r *Reader) Path() string { return r.path }

// Names lists every tensor, in canonical order (SortNames). The slice is a copy.
func (r *Reader) Names() []string { return slices.Clone(r.names) }

// Info describes the named tensor; ok is false when there is none.
func (r *Reader) Info(name string) (TensorInfo, bool) {
	ref, ok := r.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := ref.entry.info
	info.Shape = slices.Clone(info.Shape)
	return info, true
}

// Metadata returns a copy of the header's __metadata__. For a sharded
// checkpoint it is the index's "metadata" (non-string values as JSON text,
// e.g. total_size) plus each shard's __metadata__ keys not already present,
// shards taken in file-name order.
func (r *Reader) Metadata() map[string]string {
	out := make(map[string]string, len(r.metadata))
	for k, v := range r.metadata {
		out[k] = v
	}
	return out
}

// Read returns the named tensor as a new float32 slice.
func (r *Reader) Read(name string) ([]float32, error) {
	ref, ok := r.tensors[name]
	if !ok {
		return nil, r.missing(name)
	}
	dst := make([]float32, ref.entry.info.NumElements())
	if err := r.ReadInto(name, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

func (r *Reader) missing(name string) error {
	return fmt.Errorf("checkpoint %s has no tensor %q (it has %d tensors; Names lists them)", r.path, name, len(r.names))
}

// ReadInto converts the named tensor to float32 into dst, whose length must
// equal the tensor's element count. F32, F16, BF16 and F64 convert exactly
// (F64 rounds to nearest float32); other dtypes return an error. Large
// tensors are converted on all cores.
func (r *Reader) ReadInto(name string, dst []float32) error {
	ref, ok := r.tensors[name]
	if !ok {
		return r.missing(name)
	}
	info := ref.entry.info
	if n := info.NumElements(); len(dst) != n {
		return fmt.Errorf("checkpoint %s: tensor %q has %d elements (shape %v) but the destination holds %d", ref.shard.path, name, n, info.Shape, len(dst))
	}
	if !info.DType.Convertible() {
		return fmt.Errorf("checkpoint %s: tensor %q has dtype %s, which evomerge cannot read as float32 (supported: F32, F16, BF16, F64); leave it out or convert the checkpoint", ref.shard.path, name, info.DType)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return fmt.Errorf("checkpoint %s: reading tensor %q after Close", r.path, name)
	}
	sh := ref.shard
	begin, end := sh.dataStart+ref.entry.begin, sh.dataStart+ref.entry.end
	if sh.mapped != nil {
		if err := decodeParallel(dst, sh.mapped[begin:end], info.DType); err != nil {
			return fmt.Errorf("checkpoint %s: tensor %q: %w (was the file truncated or replaced while open?)", sh.path, name, err)
		}
		return nil
	}
	return readAtDecode(sh, name, dst, begin, end, info.DType)
}

// readBufferBytes is the chunk size of the positioned-read path; a multiple
// of every element size.
const readBufferBytes = 1 << 20

var readBuffers = sync.Pool{New: func() any { b := make([]byte, readBufferBytes); return &b }}

func readAtDecode(sh *shard, name string, dst []float32, begin, end int64, dt DType) error {
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	buf := *bp
	size := int64(dt.Size())
	for off := begin; off < end; {
		n := min(end-off, int64(len(buf)))
		if _, err := sh.file.ReadAt(buf[:n], off); err != nil {
			return fmt.Errorf("checkpoint %s: reading tensor %q: %w", sh.path, name, err)
		}
		first := (off - begin) / size
		decode(dst[first:first+n/size], buf[:n], dt)
		off += n
	}
	return nil
}
