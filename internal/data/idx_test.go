package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// encodeIdx builds an uncompressed idx file of unsigned bytes.
func encodeIdx(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, idxUnsignedByte, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIdxValid(t *testing.T) {
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	plain := encodeIdx([]int{2, 2, 3}, data)
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"plain", plain},
		{"gzip", gzipBytes(t, plain)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arr, err := readIdx(bytes.NewReader(tc.raw), 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(arr.Dims) != 3 || arr.Dims[0] != 2 || arr.Dims[1] != 2 || arr.Dims[2] != 3 {
				t.Fatalf("dims = %v, want [2 2 3]", arr.Dims)
			}
			if !bytes.Equal(arr.Data, data) {
				t.Fatalf("data = %v, want %v", arr.Data, data)
			}
		})
	}
}

func TestReadIdxCorrupt(t *testing.T) {
	good := encodeIdx([]int{2, 2, 2}, make([]byte, 8))
	huge := encodeIdx([]int{4000000, 4000, 4000}, nil)
	badGzip := gzipBytes(t, good)
	badGzip = badGzip[:len(badGzip)-6]
	for _, tc := range []struct {
		name    string
		raw     []byte
		dims    int
		wantErr string
	}{
		{"empty", nil, 3, "header truncated"},
		{"bad magic", append([]byte{1, 0}, good[2:]...), 3, "magic"},
		{"float type", append([]byte{0, 0, 0x0d}, good[3:]...), 3, "element type"},
		{"wrong dims", good, 1, "3 dimensions, want 1"},
		{"truncated dims", good[:9], 3, "dimension"},
		{"zero dim", encodeIdx([]int{0, 2, 2}, nil), 3, "dimension 0 is 0"},
		{"dimension too large", encodeIdx([]int{2, 5000, 2}, nil), 3, "dimension 1 is 5000"},
		{"huge total", huge, 3, "more than"},
		{"truncated data", good[:len(good)-3], 3, "truncated"},
		{"trailing bytes", append(append([]byte(nil), good...), 7), 3, "trailing"},
		{"broken gzip", badGzip, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readIdx(bytes.NewReader(tc.raw), tc.dims)
			if err == nil {
				t.Fatal("want error, got nil")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestReadIdxFileNamesPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x-idx1-ubyte")
	if err := os.WriteFile(p, []byte{0, 0, 8}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readIdxFile(p, 1)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v does not name the file %s", err, p)
	}
}

// FuzzReadIdx checks the parser never panics and that what it accepts is
// self-consistent.
func FuzzReadIdx(f *testing.F) {
	f.Add(encodeIdx([]int{2, 2, 2}, make([]byte, 8)), 3)
	f.Add(encodeIdx([]int{3}, []byte{1, 2, 3}), 1)
	f.Fuzz(func(t *testing.T, raw []byte, dims int) {
		if dims < 1 || dims > 4 {
			return
		}
		arr, err := readIdx(bytes.NewReader(raw), dims)
		if err != nil {
			return
		}
		size := 1
		for _, d := range arr.Dims {
			size *= d
		}
		if size != len(arr.Data) {
			t.Fatalf("dims %v but %d bytes", arr.Dims, len(arr.Data))
		}
	})
}
