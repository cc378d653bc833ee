package checkpoint

import (
	"unsafe"
)

// View returns the named tensor's values in place, without copying or
// converting them: a slice over the memory-mapped file. ok is true when the
// tensor is stored as F32, the host is little-endian, the file is mapped
// and the tensor's data is 4-byte aligned in it (safetensors writers align
// the data section: evomerge's and Hugging Face's pad the header to a
// multiple of 8 bytes), and it has at least one element. Otherwise ok is
// false (also for a missing tensor and after Close) and ReadInto converts
// the tensor into a buffer.
//
// The slice is read-only: the mapping is PROT_READ, so writing to it
// faults. It stays valid until Close, which unmaps the file whether or not
// views are still in use: the caller closes the reader only once it no
// longer reads any. Unlike ReadInto, which turns a fault into an error, a
// file truncated or replaced in place while mapped makes reading a view
// crash the process (SIGBUS), so files must not change while their views
// are read.
func (r *Reader) View(name string) (data []float32, ok bool) {
	ref, found := r.tensors[name]
	if !found || ref.entry.info.DType != F32 || !hostLittleEndian {
		return nil, false
	}
	n := ref.entry.info.NumElements()
	if n == 0 {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	sh := ref.shard
	if r.closed || sh.mapped == nil {
		return nil, false
	}
	begin, end := sh.dataStart+ref.entry.begin, sh.dataStart+ref.entry.end
	if end > int64(len(sh.mapped)) || end-begin != int64(n)*4 {
		return nil, false
	}
	p := unsafe.Pointer(&sh.mapped[begin])
	if uintptr(p)%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(p), n), true
}
