package checkpoint

import (
	"path/filepath"
	"testing"
	"unsafe"
)

// View hands out the mapped F32 data itself (the same bits ReadInto
// gives, no copy) and refuses what it cannot alias: other dtypes, a file
// that is not mapped, data that is not 4-byte aligned, a closed reader.
func TestView(t *testing.T) {
	dir := t.TempDir()
	w := []float32{1.5, -2, 3.25, 0}
	path := filepath.Join(dir, "m.safetensors")
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{2, 2}, Data: w}}, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	bf := filepath.Join(dir, "bf.safetensors")
	if err := Write(bf, []Tensor{{Name: "w", Shape: []int{2, 2}, Data: w}}, nil, WriteOptions{DType: BF16}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := r.View("w")
	if r.shards[0].mapped == nil {
		if ok {
			t.Fatal("View of an unmapped file")
		}
		t.Skip("file not memory-mapped")
	}
	if !ok {
		t.Fatal("View of an aligned F32 tensor of a mapped file: not ok")
	}
	sameBits(t, "view", got, w)
	mapped := r.shards[0].mapped
	if p := uintptr(unsafe.Pointer(&got[0])); p < uintptr(unsafe.Pointer(&mapped[0])) || p >= uintptr(unsafe.Pointer(&mapped[0]))+uintptr(len(mapped)) {
		t.Error("the view is not the mapped data")
	}
	if _, ok := r.View("missing"); ok {
		t.Error("View of a missing tensor is ok")
	}
	r.Close()
	if _, ok := r.View("w"); ok {
		t.Error("View after Close is ok")
	}

	rb, err := Open(bf)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	if _, ok := rb.View("w"); ok {
		t.Error("View of a BF16 tensor is ok")
	}

	// A header of odd length puts the data at an odd offset.
	odd := rawFile(t, dir, "odd.safetensors", `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} `, f32Bytes(1, 2))
	ro, err := Open(odd)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, ok := ro.View("w"); ok {
		t.Error("View of misaligned data is ok")
	}
	v, err := ro.Read("w")
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "misaligned read", v, []float32{1, 2})

	useMmap = false
	defer func() { useMmap = true }()
	ru, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ru.Close()
	if _, ok := ru.View("w"); ok {
		t.Error("View without a memory map is ok")
	}
}
