package checkpoint

import (
	"fmt"
)

// ReadRaw returns a copy of the named tensor's stored bytes, exactly as in
// the file (little-endian elements of its dtype), for any dtype. It serves
// tensors that are copied through a merge unchanged, such as an I64
// position_ids buffer, which ReadInto cannot convert to float32.
func (r *Reader) ReadRaw(name string) ([]byte, error) {
	ref, ok := r.tensors[name]
	if !ok {
		return nil, r.missing(name)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return nil, fmt.Errorf("checkpoint %s: reading tensor %q after Close", r.path, name)
	}
	sh := ref.shard
	begin, end := sh.dataStart+ref.entry.begin, sh.dataStart+ref.entry.end
	out := make([]byte, end-begin)
	if sh.mapped != nil {
		if end > int64(len(sh.mapped)) {
			return nil, fmt.Errorf("checkpoint %s: tensor %q ends at byte %d past the file's %d (was the file truncated or replaced while open?)", sh.path, name, end, len(sh.mapped))
		}
		copy(out, sh.mapped[begin:end])
		return out, nil
	}
	if _, err := sh.file.ReadAt(out, begin); err != nil {
		return nil, fmt.Errorf("checkpoint %s: reading tensor %q: %w", sh.path, name, err)
	}
	return out, nil
}

// rawOnly reports whether a dtype can be stored by WriteRaw only: it has a
// byte size but is no float type WriteTensor encodes (integers, booleans,
// F64, the F8 types).
func (d DType) rawOnly() bool { return d.Size() > 0 && !d.writable() }

// WriteRaw stores data as the named tensor's bytes, unchanged. The planned
// dtype may be any dtype with a byte size; data must hold exactly the
// tensor's bytes. Like WriteTensor it is safe for concurrent use with
// different tensors, and each tensor is written once.
func (w *ShardedWriter) WriteRaw(name string, data []byte) error {
	p, err := w.begin("WriteRaw", name, func(p *plannedTensor) error {
		if n := int64(p.info.NumElements()) * int64(p.info.DType.Size()); int64(len(data)) != n {
			return fmt.Errorf("checkpoint %s: tensor %q (%s, shape %v) has %d bytes but %d were given", w.dir, name, p.info.DType, p.info.Shape, n, len(data))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err = p.shard.file.WriteAt(data, p.offset); err != nil {
		err = fmt.Errorf("checkpoint %s: tensor %q: %w", p.shard.final, name, err)
	}
	return w.end(p, err)
}
