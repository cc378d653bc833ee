package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestOpenRejectsCorruptFiles(t *testing.T) {
	const w4 = `"dtype":"F32","shape":[1]`
	tests := []struct {
		name   string
		file   []byte // whole file; nil means use header+data
		header string
		data   []byte
		tensor string // tensor the error must name ("" for none)
		want   string // substring of the error
	}{
		{name: "empty file", file: []byte{}, want: "shorter than the 8-byte"},
		{name: "five bytes", file: []byte{1, 2, 3, 4, 5}, want: "shorter than the 8-byte"},
		{name: "absurd header length", file: binary.LittleEndian.AppendUint64(nil, 1<<40), want: "above the 100000000-byte limit"},
		{name: "header length beyond file", file: append(binary.LittleEndian.AppendUint64(nil, 64), `{"a":1}`...), want: "only 7 bytes follow"},
		{name: "invalid json", header: `{"w":{` + w4 + `,"data_offsets":[0,4]}`, data: make([]byte, 4), want: "not a valid JSON object"},
		{name: "not an object", header: `[1,2,3]`, want: "does not start with '{'"},
		{name: "leading space", header: ` {}`, want: "does not start with '{'"},
		{name: "not utf8", header: "{\"\xff\xfe\":{}}", want: "not valid UTF-8"},
		{name: "trailing garbage", header: `{} x`, want: "not a valid JSON object"},
		{name: "second object", header: `{} {}`, want: "unexpected data after the object"},
		{name: "duplicate names", header: `{"w":{` + w4 + `,"data_offsets":[0,4]},"w":{` + w4 + `,"data_offsets":[4,8]}}`, data: make([]byte, 8), tensor: "w", want: "appears more than once"},
		{name: "entry not an object", header: `{"w":[1,2]}`, tensor: "w", want: "not a JSON object"},
		{name: "entry is a number", header: `{"w":5}`, tensor: "w", want: "the number 5"},
		{name: "missing dtype", header: `{"w":{"shape":[1],"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: `no "dtype"`},
		{name: "missing shape", header: `{"w":{"dtype":"F32","data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: `no "shape"`},
		{name: "missing offsets", header: `{"w":{` + w4 + `}}`, data: make([]byte, 4), tensor: "w", want: `no "data_offsets"`},
		{name: "unknown dtype", header: `{"w":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: `unknown dtype "Q4_K"`},
		{name: "dtype not a string", header: `{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: "not a string"},
		{name: "negative dimension", header: `{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: "negative"},
		{name: "fractional dimension", header: `{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: "not an integer"},
		{name: "string dimension", header: `{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: "not a non-negative integer"},
		{name: "shape not an array", header: `{"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "w", want: "shape is the number 4"},
		{name: "three offsets", header: `{"w":{` + w4 + `,"data_offsets":[0,4,8]}}`, data: make([]byte, 4), tensor: "w", want: "3 values"},
		{name: "shape size mismatch", header: `{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data: make([]byte, 8), tensor: "w", want: "needs 12 bytes but data_offsets [0, 8] span 8"},
		{name: "bf16 size mismatch", header: `{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}}`, data: make([]byte, 16), tensor: "w", want: "needs 8 bytes"},
		{name: "reversed offsets", header: `{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, data: make([]byte, 8), tensor: "w", want: "end before they begin"},
		{name: "truncated data", header: `{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data: make([]byte, 8), tensor: "w", want: "reach past the end of the 8-byte data section"},
		{name: "overlapping", header: `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data: make([]byte, 12), tensor: "b", want: `overlap tensor "a"`},
		{name: "same range twice", header: `{"a":{` + w4 + `,"data_offsets":[0,4]},"b":{` + w4 + `,"data_offsets":[0,4]}}`, data: make([]byte, 4), tensor: "b", want: "overlap"},
		{name: "hole", header: `{"a":{` + w4 + `,"data_offsets":[0,4]},"b":{` + w4 + `,"data_offsets":[8,12]}}`, data: make([]byte, 12), tensor: "b", want: "bytes [4, 8)"},
		{name: "hole at start", header: `{"a":{` + w4 + `,"data_offsets":[4,8]}}`, data: make([]byte, 8), tensor: "a", want: "bytes [0, 4)"},
		{name: "trailing data", header: `{"a":{` + w4 + `,"data_offsets":[0,4]}}`, data: make([]byte, 8), want: "cover 4 bytes but the data section holds 8"},
		{name: "metadata value not string", header: `{"__metadata__":{"k":1}}`, want: `value of "k" is the number 1`},
		{name: "metadata not object", header: `{"__metadata__":"x"}`, want: "__metadata__: is a string"},
		{name: "offset overflow", header: `{"w":{` + w4 + `,"data_offsets":[0,99999999999999999999]}}`, tensor: "w", want: "fits in 64 bits"},
		{name: "shape overflow", header: `{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, tensor: "w", want: "too large"},
		{name: "empty name", header: `{"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, want: "empty name"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("bad%02d.safetensors", i)
			path := filepath.Join(dir, name)
			if tc.file != nil {
				if err := os.WriteFile(path, tc.file, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				rawFile(t, dir, name, tc.header, tc.data)
			}
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatalf("Open succeeded, want error containing %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file %s", msg, path)
			}
			if tc.tensor != "" && !strings.Contains(msg, fmt.Sprintf("tensor %q", tc.tensor)) {
				t.Errorf("error %q does not name tensor %q", msg, tc.tensor)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FormatError", err)
			}
		})
	}
}

func TestOpenValidEdgeCases(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		header string
		data   []byte
		names  []string
	}{
		{"empty header", `{}`, nil, nil},
		{"only metadata, trailing spaces", `{"__metadata__":{"a":"b"}}    `, nil, nil},
		{"zero-size tensors", `{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"z":{"dtype":"F16","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 4), []string{"e", "s", "z"}},
		{"unknown entry fields ignored", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":true}}`, make([]byte, 4), []string{"w"}},
		{"offsets out of name order", `{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8), []string{"a", "b"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := rawFile(t, dir, fmt.Sprintf("ok%d.safetensors", i), tc.header, tc.data)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Names(); strings.Join(got, ",") != strings.Join(tc.names, ",") {
				t.Errorf("Names = %v, want %v", got, tc.names)
			}
		})
	}
}

func TestReadDTypes(t *testing.T) {
	dir := t.TempDir()
	// bf16 [1, -2.5, +inf], f16 [1, smallest subnormal, -65504, -0],
	// f32 [[1.5, -3], [NaN, 7]], f64 [0.1, 1e300, -1e-50].
	bf := u16Bytes(0x3f80, 0xc020, 0x7f80)
	f16 := u16Bytes(0x3c00, 0x0001, 0xfbff, 0x8000)
	f32 := f32Bytes(1.5, -3, float32(math.NaN()), 7)
	f64 := f64Bytes(0.1, 1e300, -1e-50)
	var data []byte
	off := func(b []byte) string {
		s := fmt.Sprintf("[%d,%d]", len(data), len(data)+len(b))
		data = append(data, b...)
		return s
	}
	header := `{"__metadata__":{"format":"pt"},` +
		`"b":{"dtype":"BF16","shape":[3],"data_offsets":` + off(bf) + `},` +
		`"h":{"dtype":"F16","shape":[4],"data_offsets":` + off(f16) + `},` +
		`"f":{"dtype":"F32","shape":[2,2],"data_offsets":` + off(f32) + `},` +
		`"d":{"dtype":"F64","shape":[3],"data_offsets":` + off(f64) + `},` +
		`"position_ids":{"dtype":"I64","shape":[1,2],"data_offsets":` + off(make([]byte, 16)) + `}}`
	path := rawFile(t, dir, "mixed.safetensors", header, data)

	for _, mmap := range []bool{true, false} {
		t.Run(fmt.Sprintf("mmap=%v", mmap), func(t *testing.T) {
			useMmap = mmap
			defer func() { useMmap = true }()
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := strings.Join(r.Names(), ","); got != "b,d,f,h,position_ids" {
				t.Errorf("Names = %s", got)
			}
			if md := r.Metadata(); md["format"] != "pt" || len(md) != 1 {
				t.Errorf("Metadata = %v", md)
			}
			want := map[string][]float32{
				"b": {1, -2.5, float32(math.Inf(1))},
				"h": {1, float32(math.Ldexp(1, -24)), -65504, float32(math.Copysign(0, -1))},
				"f": {1.5, -3, float32(math.NaN()), 7},
				"d": {float32(0.1), float32(math.Inf(1)), float32(math.Copysign(0, -1))},
			}
			for name, w := range want {
				got, err := r.Read(name)
				if err != nil {
					t.Fatal(err)
				}
				sameBits(t, name, got, w)
			}
			info, ok := r.Info("f")
			if !ok || info.DType != F32 || fmt.Sprint(info.Shape) != "[2 2]" || info.NumElements() != 4 {
				t.Errorf("Info(f) = %+v, %v", info, ok)
			}
			info, ok = r.Info("position_ids")
			if !ok || info.DType != I64 {
				t.Errorf("Info(position_ids) = %+v, %v", info, ok)
			}
			err = r.ReadInto("position_ids", make([]float32, 2))
			if err == nil || !strings.Contains(err.Error(), `tensor "position_ids" has dtype I64`) || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadInto(position_ids) error = %v", err)
			}
			if err := r.ReadInto("f", make([]float32, 3)); err == nil || !strings.Contains(err.Error(), "destination holds 3") {
				t.Errorf("short destination: error = %v", err)
			}
			if _, err := r.Read("nope"); err == nil || !strings.Contains(err.Error(), `no tensor "nope"`) {
				t.Errorf("missing tensor: error = %v", err)
			}
		})
	}
}

func TestReadAfterClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.ReadInto("w", make([]float32, 2)); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("ReadInto after Close: error = %v", err)
	}
}

// TestConcurrentReadInto reads the same large tensor from many goroutines
// (run with -race) and checks every copy.
func TestConcurrentReadInto(t *testing.T) {
	dir := t.TempDir()
	n := 3*decodeChunk + 17 // several parallel chunks plus a ragged tail
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i%1000) - 0.5
	}
	path := filepath.Join(dir, "big.safetensors")
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{n}, Data: data}}, nil, WriteOptions{DType: BF16}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Go(func() {
			dst := make([]float32, n)
			if err := r.ReadInto("w", dst); err != nil {
				errs[g] = err
				return
			}
			for i, v := range dst {
				if v != BF16ToFloat32(Float32ToBF16(data[i])) {
					errs[g] = fmt.Errorf("goroutine %d: element %d = %v, want %v", g, i, v, data[i])
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestOpenDirectory(t *testing.T) {
	tensors := []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{4}}}
	t.Run("model.safetensors", func(t *testing.T) {
		dir := t.TempDir()
		if err := Write(filepath.Join(dir, SingleFileName), tensors, nil, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	})
	t.Run("single other file", func(t *testing.T) {
		dir := t.TempDir()
		if err := Write(filepath.Join(dir, "expert.safetensors"), tensors, nil, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(r.Path(), "expert.safetensors") {
			t.Errorf("Path = %s", r.Path())
		}
		r.Close()
	})
	t.Run("ambiguous", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"a.safetensors", "b.safetensors"} {
			if err := Write(filepath.Join(dir, name), tensors, nil, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "2 .safetensors files") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "no .safetensors file") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("missing path", func(t *testing.T) {
		_, err := Open(filepath.Join(t.TempDir(), "nope.safetensors"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error = %v, want ErrNotExist", err)
		}
	})
}
