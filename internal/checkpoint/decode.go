package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/evomerge/evomerge/internal/tensor"
)

// hostLittleEndian is true on little-endian machines, where F32 data can be
// copied without decoding.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// f16Table maps every binary16 bit pattern to its float32 value.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = F16ToFloat32(uint16(i))
	}
	return &t
})

// decode converts little-endian elements of dtype dt in src to float32.
// len(src) must be len(dst)*dt.Size().
func decode(dst []float32, src []byte, dt DType) {
	if len(src) != len(dst)*dt.Size() {
		panic("checkpoint: decode length mismatch")
	}
	switch dt {
	case F32:
		if hostLittleEndian && len(dst) > 0 && uintptr(unsafe.Pointer(&src[0]))%4 == 0 {
			copy(dst, unsafe.Slice((*float32)(unsafe.Pointer(&src[0])), len(dst)))
			return
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case BF16:
		// Four elements per 64-bit load; each bfloat16 is the upper half of
		// its float32.
		i := 0
		for ; i+4 <= len(dst); i += 4 {
			v := binary.LittleEndian.Uint64(src[2*i:])
			d := dst[i : i+4 : i+4]
			d[0] = math.Float32frombits(uint32(v<<16) & 0xffff0000)
			d[1] = math.Float32frombits(uint32(v) & 0xffff0000)
			d[2] = math.Float32frombits(uint32(v>>16) & 0xffff0000)
			d[3] = math.Float32frombits(uint32(v>>32) & 0xffff0000)
		}
		for ; i < len(dst); i++ {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case F16:
		t := f16Table()
		i := 0
		for ; i+4 <= len(dst); i += 4 {
			v := binary.LittleEndian.Uint64(src[2*i:])
			d := dst[i : i+4 : i+4]
			d[0] = t[uint16(v)]
			d[1] = t[uint16(v>>16)]
			d[2] = t[uint16(v>>32)]
			d[3] = t[uint16(v>>48)]
		}
		for ; i < len(dst); i++ {
			dst[i] = t[binary.LittleEndian.Uint16(src[2*i:])]
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	default:
		panic("checkpoint: decode of unsupported dtype " + string(dt))
	}
}

// decodeChunk is the number of elements one goroutine converts at a time.
const decodeChunk = 1 << 18

// decodeParallel runs decode over fixed chunks on all cores (through
// tensor.ForEach, on the helpers shared with the other parallel kernels).
// Memory-mapped input can fault (a file truncated under the map); such a fault
// becomes an error instead of crashing the process. The error reported is the
// one of the first chunk that failed, in chunk order.
func decodeParallel(dst []float32, src []byte, dt DType) error {
	chunks := (len(dst) + decodeChunk - 1) / decodeChunk
	if chunks <= 1 || runtime.GOMAXPROCS(0) == 1 {
		return decodeGuarded(dst, src, dt)
	}
	t := &decodeTask{dst: dst, src: src, dt: dt, bad: chunks}
	tensor.ForEach(chunks, t)
	return t.err
}

// decodeTask is one decodeParallel call; its items are chunks of decodeChunk
// elements.
type decodeTask struct {
	dst []float32
	src []byte
	dt  DType

	mu  sync.Mutex
	bad int   // the first chunk that failed so far
	err error // its error
}

// Run decodes chunk c, unless an earlier chunk already failed.
func (t *decodeTask) Run(c int) {
	t.mu.Lock()
	skip := c > t.bad
	t.mu.Unlock()
	if skip {
		return
	}
	size := t.dt.Size()
	lo, hi := c*decodeChunk, min((c+1)*decodeChunk, len(t.dst))
	if err := decodeGuarded(t.dst[lo:hi], t.src[lo*size:hi*size], t.dt); err != nil {
		t.mu.Lock()
		if c < t.bad {
			t.bad, t.err = c, err
		}
		t.mu.Unlock()
	}
}

// decodeGuarded is decode with memory faults turned into an error.
func decodeGuarded(dst []float32, src []byte, dt DType) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if fault, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("memory fault reading mapped data at %#x", fault.Addr())
				return
			}
			panic(r)
		}
	}()
	decode(dst, src, dt)
	return nil
}
