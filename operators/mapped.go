package operators

// MappedSource is a Source over checkpoints on disk that reads them in
// place, for merges that run many times over one pool (a search). It wraps
// a CheckpointSource (so opening reads only headers, and shapes are checked
// across inputs when that is built); Load and LoadInto hand out a tensor
// stored as F32 in a memory-mapped file as a view of the map
// (checkpoint.Reader.View: no copy, read-only) and convert any other (F16,
// BF16, F64, or an F32 tensor the reader cannot alias) into a reused
// buffer. Memory is therefore the conversion buffers of the tensors being
// merged plus the file pages they touch (page cache, which the kernel
// reclaims), never whole models. Values are the ones CheckpointSource
// converts, bit for bit.
//
// A slice Load gives is valid until the next load into the same
// TensorInputs (buffers are reused) and, for a view, until the readers are
// closed; callers never write to it and do not keep it. Loads may run
// concurrently, each into its own TensorInputs. Tensors lists the float
// tensors of the inputs: unlike CheckpointSource, MappedSource is a plain
// Source to StreamMerge, which merges it as it merges a MemSource (checks
// tensor by tensor, no raw tensors).
type MappedSource struct {
	cs *CheckpointSource
}

// NewMappedSource reads cs's checkpoints in place. Closing cs (or its
// readers) ends every view.
func NewMappedSource(cs *CheckpointSource) *MappedSource { return &MappedSource{cs: cs} }

// NumModels implements Source.
func (s *MappedSource) NumModels() int { return s.cs.NumModels() }

// HasBase implements Source.
func (s *MappedSource) HasBase() bool { return s.cs.HasBase() }

// Tensors implements Source.
func (s *MappedSource) Tensors() []TensorMeta { return s.cs.Tensors() }

// Load implements Source: views where the readers have them, conversions
// into buffers kept with in otherwise (reusing in across loads reuses
// them, so a steady-state load does not allocate). An input lacking the
// tensor gets a nil slice.
func (s *MappedSource) Load(name string, in *TensorInputs) error {
	return s.cs.load(name, in, &in.buffers, true, true)
}

// LoadInto is Load with the conversion buffers kept in b, one set per
// worker. With withBase false the base is not read (in.Base is nil), for
// methods that do not use it; per-task tensors need it (their owner may be
// the base).
func (s *MappedSource) LoadInto(name string, in *TensorInputs, b *InputBuffers, withBase bool) error {
	return s.cs.load(name, in, b, withBase, true)
}
