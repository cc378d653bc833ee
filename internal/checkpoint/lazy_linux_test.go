package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTruncatedWhileOpen shrinks a mapped file under an open Reader: the
// read must fail with an error, not crash the process with SIGBUS.
func TestTruncatedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	n := 4 * 4096
	path := filepath.Join(dir, "m.safetensors")
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{n}, Data: make([]float32, n)}}, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.shards[0].mapped == nil {
		t.Skip("file not memory-mapped")
	}
	if err := os.Truncate(path, 64); err != nil {
		t.Fatal(err)
	}
	err = r.ReadInto("w", make([]float32, n))
	if err == nil || !strings.Contains(err.Error(), "memory fault") || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Fatalf("ReadInto on truncated file: error = %v, want a memory fault error", err)
	}
}

// TestOpenHugeSparseFileIsLazy opens a checkpoint whose data section is
// 10 GB (a sparse file, so it costs almost no disk) and reads one small
// tensor: Open must parse only the header, and neither step may read the
// big tensor.
func TestOpenHugeSparseFileIsLazy(t *testing.T) {
	if math.MaxInt == math.MaxInt32 {
		t.Skip("needs a 64-bit address space")
	}
	const bigElems int64 = 2_500_000_000 // F32: 10 GB
	bigBytes := bigElems * 4
	header := fmt.Sprintf(`{"__metadata__":{"note":"sparse"},"big":{"dtype":"F32","shape":[50000,50000],"data_offsets":[0,%d]},"small":{"dtype":"F32","shape":[3],"data_offsets":[%d,%d]}}`, bigBytes, bigBytes, bigBytes+12)
	for len(header)%8 != 0 {
		header += " "
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "huge.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	prefix := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	dataStart := int64(8 + len(header))
	if _, err := f.Write(append(prefix, header...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(dataStart + bigBytes + 12); err != nil {
		t.Skipf("filesystem cannot hold a sparse 10 GB file: %v", err)
	}
	if _, err := f.WriteAt(f32Bytes(1, 2, 3), dataStart+bigBytes); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Read("small")
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	sameBits(t, "small", got, []float32{1, 2, 3})
	if info, _ := r.Info("big"); int64(info.NumElements()) != bigElems {
		t.Errorf("big has %d elements, want %d", info.NumElements(), bigElems)
	}
	// Touching the 10 GB (even as holes) takes seconds and millions of page
	// faults; parsing a header and reading 12 bytes takes well under this.
	if elapsed > 2*time.Second {
		t.Errorf("Open + Read(small) took %v; the data section is being read", elapsed)
	}
	if faults := (after.Minflt + after.Majflt) - (before.Minflt + before.Majflt); faults > 10000 {
		t.Errorf("Open + Read(small) caused %d page faults; the data section is being read", faults)
	}
}
