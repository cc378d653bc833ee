// Package checkpoint reads and writes neural-network checkpoints in the
// safetensors format: single files, and sharded checkpoints described by a
// model.safetensors.index.json.
//
// # Format
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// UTF-8 JSON, then the data section. The JSON object maps each tensor name
// to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data section) and may hold "__metadata__", a string-to-string map, which
// Reader.Metadata returns.
//
// # Reading: what is lazy, what is validated when
//
// Open reads and validates only the headers (and the index); it never reads
// tensor data. Files are memory-mapped read-only (positioned reads on
// platforms without mmap), so opening a 10 GB checkpoint costs as much as
// parsing its header, and ReadInto touches only the bytes of the tensor it
// reads. Open rejects, with a *FormatError naming the file and, where it
// applies, the tensor: a file shorter than its length prefix, a header
// length above MaxHeaderBytes or beyond the file, a header that is not UTF-8
// or does not start with '{', invalid JSON or trailing garbage, duplicate
// names (detected while tokenising, since encoding/json keeps the last
// duplicate silently), entries that are not objects or lack a field, a dtype
// safetensors does not define, negative or non-integer dimensions, a byte
// range that does not match shape and dtype, ranges that are reversed, reach
// past the data (a truncated file), overlap, or leave holes, and a data
// section longer than the tensors. For a sharded checkpoint it also checks
// that every weight_map entry is in its shard, that each shard tensor is
// listed, and that no tensor is in two shards.
//
// View reads without a copy: an F32 tensor of a mapped file, aligned (as
// safetensors writers lay data out) on a little-endian host, is returned as
// a read-only slice over the map, valid until Close; for anything else it
// says no and ReadInto converts. A view trades ReadInto's fault-to-error
// guard for zero copies: the file must not change while its views are read.
//
// Dtypes: F32, F16, BF16 and F64 are read as float32 (F16 and BF16 exactly,
// F64 rounded to nearest). Tensors of the other safetensors dtypes (BOOL,
// U8, I8, I16, U16, I32, U32, I64, U64, F8_*, C64) are listed by Names and
// Info, so a checkpoint holding an integer buffer such as position_ids
// still opens, but ReadInto returns an error for them; DType.Convertible
// tells them apart.
//
// # Order and grouping
//
// Names are always in one canonical order, SortNames: natural order, digit
// runs compared by value. Writers lay tensors out in that order. BlockIndex
// and LayerGroup map tensor names to repeated blocks (layers.N, h.N,
// blocks.N, resblocks.N, layer.N, block.N) for per-layer-group coefficients.
//
// # Writing
//
// Write stores float32 tensors as F32 (default), BF16 or F16 (rounded to
// nearest, ties to even), header padded with spaces to a multiple of 8
// bytes, offsets contiguous from 0 in canonical order, __metadata__ written
// when given. Files are written atomically: temporary file in the same
// directory, fsync, rename, directory fsync; on error nothing is left
// behind. ShardedWriter fixes every offset from a plan, so tensors may be
// written in any order and concurrently; Commit renames the shards, then the
// index, into place, and fails listing tensors never written.
//
// # Concurrency
//
// A Reader is safe for concurrent use: ReadInto may run from many
// goroutines (large tensors are also converted on all cores). Close waits
// for reads in flight. A mapped file that is truncated while open makes
// ReadInto return an error instead of crashing. ShardedWriter.WriteTensor
// is safe for concurrent use.
package checkpoint
