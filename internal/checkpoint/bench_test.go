package checkpoint

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkReadInto measures conversion throughput from a memory-mapped
// file (page cache warm) into a reused float32 buffer. Bytes are counted on
// the float32 side, so F32 and BF16 figures compare directly.
func BenchmarkReadInto(b *testing.B) {
	const n = 8 << 20 // 8 Mi elements: 32 MiB as float32
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i%4099) * 0.001
	}
	dir := b.TempDir()
	for _, dt := range []DType{F32, BF16, F16} {
		path := filepath.Join(dir, fmt.Sprintf("%s.safetensors", dt))
		if err := Write(path, []Tensor{{Name: "w", Shape: []int{n}, Data: data}}, nil, WriteOptions{DType: dt}); err != nil {
			b.Fatal(err)
		}
		b.Run(string(dt), func(b *testing.B) {
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			dst := make([]float32, n)
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := r.ReadInto("w", dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWrite measures Write of the same tensor as F32 and BF16,
// including fsync.
func BenchmarkWrite(b *testing.B) {
	const n = 4 << 20
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i) * 0.5
	}
	dir := b.TempDir()
	for _, dt := range []DType{F32, BF16} {
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(4 * n)
			path := filepath.Join(dir, "w.safetensors")
			for b.Loop() {
				if err := Write(path, []Tensor{{Name: "w", Shape: []int{n}, Data: data}}, nil, WriteOptions{DType: dt}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
