package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// idx type code for unsigned bytes, the only element type MNIST uses.
const idxUnsignedByte = 0x08

// Limits that keep a corrupt header from asking for an absurd allocation.
const (
	maxIdxItems     = 10_000_000
	maxIdxDimension = 4096
	maxIdxBytes     = 1 << 31
)

// idxArray is a decoded idx file of unsigned bytes: Dims[0] items of
// Dims[1]*...*Dims[len-1] bytes each, row-major.
type idxArray struct {
	Dims []int
	Data []byte
}

// readIdxFile reads an idx file (gzip-compressed or plain; detected from the
// first bytes) holding unsigned bytes with exactly wantDims dimensions.
func readIdxFile(path string, wantDims int) (idxArray, error) {
	f, err := os.Open(path)
	if err != nil {
		return idxArray{}, fmt.Errorf("data: open idx file: %w", err)
	}
	defer f.Close()
	arr, err := readIdx(f, wantDims)
	if err != nil {
		return idxArray{}, fmt.Errorf("data: %s: %w", path, err)
	}
	return arr, nil
}

// readIdx decodes an idx stream. It validates the magic number, the element
// type, the number of dimensions, the sizes, and that the data ends exactly
// where the header says (no truncation, no trailing bytes).
func readIdx(r io.Reader, wantDims int) (idxArray, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return idxArray{}, fmt.Errorf("corrupt gzip stream: %w (re-download the file)", err)
		}
		defer zr.Close()
		return decodeIdx(zr, wantDims)
	}
	return decodeIdx(br, wantDims)
}

func decodeIdx(r io.Reader, wantDims int) (idxArray, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return idxArray{}, fmt.Errorf("not an idx file: header truncated (%v)", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return idxArray{}, fmt.Errorf("not an idx file: magic number %#x does not start with two zero bytes", magic)
	}
	if magic[2] != idxUnsignedByte {
		return idxArray{}, fmt.Errorf("idx element type %#02x is not unsigned byte (0x08)", magic[2])
	}
	if int(magic[3]) != wantDims {
		return idxArray{}, fmt.Errorf("idx file has %d dimensions, want %d (wrong file: images have 3, labels 1)", magic[3], wantDims)
	}
	dims := make([]int, wantDims)
	size := 1
	for i := range dims {
		var v uint32
		if err := binary.Read(r, binary.BigEndian, &v); err != nil {
			return idxArray{}, fmt.Errorf("idx header truncated reading dimension %d: %v", i, err)
		}
		limit := maxIdxDimension
		if i == 0 {
			limit = maxIdxItems
		}
		if v == 0 || int64(v) > int64(limit) {
			return idxArray{}, fmt.Errorf("idx dimension %d is %d, want 1..%d", i, v, limit)
		}
		dims[i] = int(v)
		if int64(size)*int64(v) > maxIdxBytes {
			return idxArray{}, fmt.Errorf("idx file claims more than %d bytes of data", int64(maxIdxBytes))
		}
		size *= int(v)
	}
	buf := make([]byte, size)
	if n, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return idxArray{}, fmt.Errorf("idx data truncated: header promises %d bytes, file holds %d", size, n)
		}
		return idxArray{}, fmt.Errorf("reading idx data: %w", err)
	}
	var extra [1]byte
	n, err := io.ReadFull(r, extra[:])
	if n > 0 {
		return idxArray{}, fmt.Errorf("idx file has trailing bytes after the %d promised by its header", size)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return idxArray{}, fmt.Errorf("reading idx data: %w", err)
	}
	return idxArray{Dims: dims, Data: buf}, nil
}
