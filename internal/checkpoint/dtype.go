package checkpoint

import (
	"math"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// Element types. Only F32, F16, BF16 and F64 convert to float32; the others
// are recognised so that checkpoints holding them (for example an I64
// position_ids buffer) still open, but reading them returns an error.
const (
	F32     DType = "F32"
	F16     DType = "F16"
	BF16    DType = "BF16"
	F64     DType = "F64"
	Bool    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	I16     DType = "I16"
	U16     DType = "U16"
	I32     DType = "I32"
	U32     DType = "U32"
	I64     DType = "I64"
	U64     DType = "U64"
	F8E4M3  DType = "F8_E4M3"
	F8E5M2  DType = "F8_E5M2"
	F8E8M0  DType = "F8_E8M0"
	Complex DType = "C64"
)

// Size is the number of bytes of one element, or 0 for a dtype safetensors
// does not define (or one smaller than a byte, which evomerge does not read).
func (d DType) Size() int {
	switch d {
	case Bool, U8, I8, F8E4M3, F8E5M2, F8E8M0:
		return 1
	case F16, BF16, I16, U16:
		return 2
	case F32, I32, U32:
		return 4
	case F64, I64, U64, Complex:
		return 8
	}
	return 0
}

// Convertible reports whether tensors of this dtype can be read as float32.
func (d DType) Convertible() bool {
	switch d {
	case F32, F16, BF16, F64:
		return true
	}
	return false
}

// writable reports whether Write and ShardedWriter can store this dtype.
func (d DType) writable() bool {
	switch d {
	case F32, F16, BF16:
		return true
	}
	return false
}

// BF16ToFloat32 widens a bfloat16 bit pattern to float32. It is exact: a
// bfloat16 is the upper half of a float32.
func BF16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// Float32ToBF16 narrows f to bfloat16, rounding to nearest with ties to even.
// Values beyond the bfloat16 range become ±Inf; NaN stays NaN (quiet, sign
// and upper payload kept).
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: truncating could yield Inf
		return uint16(b>>16) | 0x0040
	}
	// Adding 0x7fff plus the lowest kept bit rounds to nearest, ties to even;
	// a carry into the exponent is the correct result (next binade or Inf).
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToFloat32 widens an IEEE 754 binary16 bit pattern to float32 exactly,
// including subnormals, infinities and NaN payloads.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload in the top mantissa bits
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant * 2^-24. Shift the mantissa until its leading
	// one reaches the implicit-bit position, lowering the exponent each time.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// Float32ToF16 narrows f to IEEE 754 binary16, rounding to nearest with ties
// to even. Results below the smallest subnormal round to ±0 (or to the
// smallest subnormal when above half of it), values beyond 65504 round to
// ±Inf, NaN stays NaN (quiet, upper payload kept).
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	abs := b & 0x7fffffff
	switch {
	case abs > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(abs>>13)&0x3ff
	case abs >= 0x477ff000: // ≥ 65520 (halfway between 65504 and 65536): Inf
		return sign | 0x7c00
	case abs >= 0x38800000: // ≥ 2^-14: normal binary16
		// Rebias the exponent and round the 13 dropped bits to nearest even.
		v := abs - (127-15)<<23
		v += 0x0fff + (v>>13)&1
		return sign | uint16(v>>13)
	case abs < 0x33000000: // < 2^-25 (half the smallest subnormal): ±0
		return sign
	}
	// Subnormal binary16: value = m * 2^-24 with m in [1, 1023] after rounding.
	exp := abs >> 23
	mant := abs&0x7fffff | 0x800000 // explicit leading one
	shift := 126 - exp              // (value = mant * 2^(exp-150)) -> m = mant >> (126-exp); shift in [14, 24]
	m := mant >> shift
	rem := mant & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && m&1 == 1) {
		m++ // may carry into the smallest normal, which is the right encoding
	}
	return sign | uint16(m)
}
