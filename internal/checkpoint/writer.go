package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/evomerge/evomerge/internal/atomicfile"
	"math"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Tensor is a named float32 tensor held in memory.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// WriteOptions controls how Write stores tensors.
type WriteOptions struct {
	// DType is the stored element type: "" or F32 (exact), BF16 or F16
	// (rounded to nearest, ties to even).
	DType DType
}

// resolveDType maps the zero value to F32 and rejects dtypes that cannot be
// written.
func resolveDType(d DType) (DType, error) {
	if d == "" {
		return F32, nil
	}
	if !d.writable() {
		return "", fmt.Errorf("checkpoint: cannot write dtype %q; use F32, BF16 or F16", d)
	}
	return d, nil
}

// checkInfo validates a tensor name and shape for writing.
func checkInfo(path string, name string, shape []int) error {
	switch {
	case name == "":
		return fmt.Errorf("checkpoint %s: a tensor has an empty name", path)
	case name == metadataKey:
		return fmt.Errorf("checkpoint %s: %q is reserved for metadata and cannot name a tensor", path, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("checkpoint %s: tensor name %q is not valid UTF-8", path, name)
	}
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("checkpoint %s: tensor %q has a negative dimension in shape %v", path, name, shape)
		}
	}
	if _, ok := checkedNumElements(shape); !ok {
		return fmt.Errorf("checkpoint %s: tensor %q: shape %v is too large", path, name, shape)
	}
	return nil
}

func checkMetadata(path string, metadata map[string]string) error {
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("checkpoint %s: metadata key %q or its value is not valid UTF-8", path, k)
		}
	}
	return nil
}

// layoutEntry places one tensor in a data section.
type layoutEntry struct {
	info       TensorInfo
	begin, end int64
}

// layout assigns contiguous offsets from 0 in the given (canonical) order.
func layout(infos []TensorInfo) ([]layoutEntry, int64) {
	out := make([]layoutEntry, len(infos))
	var off int64
	for i, info := range infos {
		n := int64(info.NumElements()) * int64(info.DType.Size())
		out[i] = layoutEntry{info: info, begin: off, end: off + n}
		off += n
	}
	return out, off
}

// encodeHeader renders the 8-byte length prefix and the JSON header, padded
// with spaces so that the data section starts at a multiple of 8 bytes.
// Metadata comes first (keys sorted), then tensors in the order given.
func encodeHeader(entries []layoutEntry, metadata map[string]string) []byte {
	buf := make([]byte, 8, 8+64*len(entries)+64)
	buf = append(buf, '{')
	first := true
	if len(metadata) > 0 {
		buf = appendJSONString(buf, metadataKey)
		buf = append(buf, ":{"...)
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendJSONString(buf, metadata[k])
		}
		buf = append(buf, '}')
		first = false
	}
	for _, e := range entries {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, e.info.Name)
		buf = append(buf, `:{"dtype":"`...)
		buf = append(buf, e.info.DType...)
		buf = append(buf, `","shape":[`...)
		for i, d := range e.info.Shape {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(d), 10)
		}
		buf = append(buf, `],"data_offsets":[`...)
		buf = strconv.AppendInt(buf, e.begin, 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, e.end, 10)
		buf = append(buf, "]}"...)
	}
	buf = append(buf, '}')
	for len(buf)%8 != 0 {
		buf = append(buf, ' ')
	}
	binary.LittleEndian.PutUint64(buf[:8], uint64(len(buf)-8))
	return buf
}

func appendJSONString(buf []byte, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil { // strings always marshal
		panic("checkpoint: marshal string: " + err.Error())
	}
	return append(buf, b...)
}

// encode writes src as little-endian elements of dtype dt into dst, which
// must hold len(src)*dt.Size() bytes.
func encode(dst []byte, src []float32, dt DType) {
	if len(dst) != len(src)*dt.Size() {
		panic("checkpoint: encode length mismatch")
	}
	switch dt {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], Float32ToBF16(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], Float32ToF16(v))
		}
	default:
		panic("checkpoint: encode of unsupported dtype " + string(dt))
	}
}

// Write stores tensors as one safetensors file at path, atomically: the
// file is written under a temporary name in the same directory, fsynced and
// renamed, so path holds either its old content or the complete new file.
// Tensors are laid out contiguously in canonical order (SortNames); the
// header is padded to a multiple of 8 bytes.
func Write(path string, tensors []Tensor, metadata map[string]string, opt WriteOptions) error {
	dt, err := resolveDType(opt.DType)
	if err != nil {
		return err
	}
	if err := checkMetadata(path, metadata); err != nil {
		return err
	}
	infos := make([]TensorInfo, len(tensors))
	byName := make(map[string]*Tensor, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		if err := checkInfo(path, t.Name, t.Shape); err != nil {
			return err
		}
		if _, dup := byName[t.Name]; dup {
			return fmt.Errorf("checkpoint %s: tensor %q is given twice", path, t.Name)
		}
		byName[t.Name] = t
		infos[i] = TensorInfo{Name: t.Name, DType: dt, Shape: slices.Clone(t.Shape)}
		if n := infos[i].NumElements(); len(t.Data) != n {
			return fmt.Errorf("checkpoint %s: tensor %q has shape %v (%d elements) but %d values", path, t.Name, t.Shape, n, len(t.Data))
		}
	}
	slices.SortFunc(infos, func(a, b TensorInfo) int { return compareNames(a.Name, b.Name) })
	entries, _ := layout(infos)
	header := encodeHeader(entries, metadata)

	return writeAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if _, err := w.Write(header); err != nil {
			return err
		}
		chunk := make([]byte, 64<<10*dt.Size())
		for _, e := range entries {
			data := byName[e.info.Name].Data
			for len(data) > 0 {
				n := min(len(data), len(chunk)/dt.Size())
				encode(chunk[:n*dt.Size()], data[:n], dt)
				if _, err := w.Write(chunk[:n*dt.Size()]); err != nil {
					return err
				}
				data = data[n:]
			}
		}
		return w.Flush()
	})
}

// writeAtomic creates path atomically (internal/atomicfile) with what fill
// writes; errors name the checkpoint.
func writeAtomic(path string, fill func(*os.File) error) error {
	if err := atomicfile.Write(path, 0o644, fill); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// createTemp opens a fresh temporary file in path's directory.
func createTemp(path string) (*os.File, error) {
	f, err := atomicfile.CreateTemp(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return f, nil
}

// commitTemp fsyncs and closes f, renames it to path and fsyncs the
// directory. The caller removes f's file if this fails.
func commitTemp(f *os.File, path string) error {
	if err := atomicfile.Commit(f, path, 0o644); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// LoadAll reads every tensor of a checkpoint (any form Open accepts) into
// memory, in canonical order, with its metadata. It fails on tensors whose
// dtype cannot be read as float32.
func LoadAll(path string) ([]Tensor, map[string]string, error) {
	r, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	names := r.Names()
	out := make([]Tensor, len(names))
	for i, name := range names {
		info, _ := r.Info(name)
		data, err := r.Read(name)
		if err != nil {
			return nil, nil, err
		}
		out[i] = Tensor{Name: name, Shape: info.Shape, Data: data}
	}
	return out, r.Metadata(), nil
}
