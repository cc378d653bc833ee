package checkpoint

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteRawRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	plan := []TensorInfo{
		{Name: "ids", Shape: []int{3}, DType: I64},
		{Name: "mask", Shape: []int{2, 2}, DType: Bool},
		{Name: "w", Shape: []int{2}},
	}
	w, err := NewShardedWriter(dir, plan, nil, ShardOptions{DType: F16})
	if err != nil {
		t.Fatal(err)
	}
	ids := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255}
	mask := []byte{1, 0, 0, 1}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"floats into an integer tensor", func() error { return w.WriteTensor("ids", []float32{1, 2, 3}) }, "write its bytes with WriteRaw"},
		{"wrong byte count", func() error { return w.WriteRaw("ids", ids[:8]) }, "has 24 bytes but 8 were given"},
		{"unplanned", func() error { return w.WriteRaw("nope", ids) }, "not in the plan"},
	} {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := w.WriteRaw("ids", ids); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRaw("ids", ids); err == nil || !strings.Contains(err.Error(), "written twice") {
		t.Errorf("second write: %v", err)
	}
	if err := w.WriteRaw("mask", mask); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("w", []float32{0.5, -2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, want := range map[string][]byte{"ids": ids, "mask": mask, "w": {0x00, 0x38, 0x00, 0xc0}} {
		got, err := r.ReadRaw(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadRaw(%s) = %x, %v; want %x", name, got, err, want)
		}
	}
	if info, _ := r.Info("ids"); info.DType != I64 {
		t.Errorf("ids stored as %s", info.DType)
	}
	if _, err := r.Read("ids"); err == nil {
		t.Error("an I64 tensor read as float32")
	}
}
