package checkpoint

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

// TestDecodeMatchesScalarConversions decodes random bit patterns of every
// readable dtype, at every byte misalignment and for lengths that exercise
// the four-at-a-time loops and their tails, against the scalar conversions.
func TestDecodeMatchesScalarConversions(t *testing.T) {
	r := rng.New(4, "checkpoint-test", "decode")
	for _, dt := range []DType{F32, BF16, F16, F64} {
		size := dt.Size()
		for _, n := range []int{0, 1, 3, 4, 5, 8, 37} {
			for shift := range 8 {
				buf := make([]byte, shift+n*size)
				for i := range buf {
					buf[i] = byte(r.Uint32())
				}
				src := buf[shift:]
				dst := make([]float32, n)
				decode(dst, src, dt)
				for i := range n {
					var want float32
					switch dt {
					case F32:
						want = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
					case BF16:
						want = BF16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
					case F16:
						want = F16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
					case F64:
						want = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
					}
					if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
						t.Fatalf("%s n=%d shift=%d: element %d = %#08x, want %#08x", dt, n, shift, i, math.Float32bits(dst[i]), math.Float32bits(want))
					}
				}
			}
		}
	}
}

// TestDecodeParallelMatchesSerial converts a tensor spanning many chunks on
// several workers and compares with one serial pass.
func TestDecodeParallelMatchesSerial(t *testing.T) {
	n := 5*decodeChunk + 3
	src := make([]byte, 2*n)
	r := rng.New(5, "checkpoint-test", "parallel")
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	serial := make([]float32, n)
	decode(serial, src, BF16)
	parallel := make([]float32, n)
	if err := decodeParallel(parallel, src, BF16); err != nil {
		t.Fatal(err)
	}
	for i := range serial {
		if math.Float32bits(serial[i]) != math.Float32bits(parallel[i]) {
			t.Fatalf("element %d differs: %#08x vs %#08x", i, math.Float32bits(serial[i]), math.Float32bits(parallel[i]))
		}
	}
}
