package checkpoint

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

func TestBF16Rounding(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"minus 2.5", 0xc0200000, 0xc020},
		{"tie rounds down to even", 0x3f808000, 0x3f80},
		{"tie rounds up to even", 0x3f818000, 0x3f82},
		{"above tie rounds up", 0x3f808001, 0x3f81},
		{"below tie rounds down", 0x3f807fff, 0x3f80},
		{"carry into exponent", 0x3fffff00, 0x4000},
		{"max float32 overflows to inf", 0x7f7fffff, 0x7f80},
		{"largest bf16 stays", 0x7f7f0000, 0x7f7f},
		{"+inf", 0x7f800000, 0x7f80},
		{"-inf", 0xff800000, 0xff80},
		{"quiet nan", 0x7fc00000, 0x7fc0},
		{"signalling nan stays nan", 0x7f800001, 0x7fc0},
		{"negative nan keeps sign", 0xff800001, 0xffc0},
		{"+0", 0x00000000, 0x0000},
		{"-0", 0x80000000, 0x8000},
		{"tiny subnormal to zero", 0x00000001, 0x0000},
		{"subnormal tie to even zero", 0x00008000, 0x0000},
		{"subnormal tie up to even", 0x00018000, 0x0002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Float32ToBF16(math.Float32frombits(tc.in))
			if got != tc.want {
				t.Errorf("Float32ToBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
}

// TestBF16NearestAgainstFloat64 checks rounding of random finite values
// against a float64 comparison of the two candidate neighbours.
func TestBF16NearestAgainstFloat64(t *testing.T) {
	r := rng.New(1, "checkpoint-test", "bf16")
	for range 200000 {
		b := r.Uint32()
		f := math.Float32frombits(b)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		lo := b &^ 0xffff
		hi := lo + 0x10000 // next bf16 away from zero (may be inf)
		dlo := math.Abs(float64(f) - float64(math.Float32frombits(lo)))
		dhi := math.Abs(float64(math.Float32frombits(hi)) - float64(f))
		if hi&0x7fffffff == 0x7f800000 { // distance to inf: treat as the next binade step
			dhi = math.Abs(math.Ldexp(1, 128) - math.Abs(float64(f)))
		}
		want := uint16(lo >> 16)
		if dhi < dlo || (dhi == dlo && (lo>>16)&1 == 1) {
			want = uint16(hi >> 16)
		}
		if got := Float32ToBF16(f); got != want {
			t.Fatalf("Float32ToBF16(%#08x) = %#04x, want %#04x", b, got, want)
		}
	}
}

func TestF16ToFloat32(t *testing.T) {
	tests := []struct {
		in   uint16
		want float32
	}{
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x0001, float32(math.Ldexp(1, -24))}, // smallest subnormal
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x0200, float32(math.Ldexp(1, -15))},
		{0x0400, float32(math.Ldexp(1, -14))}, // smallest normal
		{0x7bff, 65504},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
		{0x0000, 0},
	}
	for _, tc := range tests {
		if got := F16ToFloat32(tc.in); got != tc.want {
			t.Errorf("F16ToFloat32(%#04x) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := math.Float32bits(F16ToFloat32(0x8000)); got != 0x80000000 {
		t.Errorf("F16ToFloat32(-0) bits = %#08x, want 0x80000000", got)
	}
	if got := math.Float32bits(F16ToFloat32(0x7e01)); got != 0x7fc02000 {
		t.Errorf("F16ToFloat32(nan 0x7e01) bits = %#08x, want payload kept 0x7fc02000", got)
	}
}

func TestFloat32ToF16Rounding(t *testing.T) {
	sub := math.Ldexp(1, -24) // smallest binary16 subnormal
	tests := []struct {
		name string
		in   float64
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"tie to even down", 1 + math.Ldexp(1, -11), 0x3c00},
		{"tie to even up", 1 + 3*math.Ldexp(1, -11), 0x3c02},
		{"max", 65504, 0x7bff},
		{"just below overflow tie", 65519.99, 0x7bff},
		{"overflow tie to inf", 65520, 0x7c00},
		{"huge", 1e10, 0x7c00},
		{"-huge", -1e10, 0xfc00},
		{"half smallest subnormal ties to zero", sub / 2, 0x0000},
		{"above half smallest subnormal", sub / 2 * 1.0001, 0x0001},
		{"1.5 subnormal ties to 2", 1.5 * sub, 0x0002},
		{"2.5 subnormal ties to 2", 2.5 * sub, 0x0002},
		{"largest subnormal", 1023 * sub, 0x03ff},
		{"subnormal rounds to smallest normal", 1023.5 * sub, 0x0400},
		{"smallest normal", math.Ldexp(1, -14), 0x0400},
		{"negative subnormal", -3 * sub, 0x8003},
		{"tiny to zero", 1e-30, 0x0000},
		{"-tiny to -0", -1e-30, 0x8000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Float32ToF16(float32(tc.in)); got != tc.want {
				t.Errorf("Float32ToF16(%v) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
	if got := Float32ToF16(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("Float32ToF16(NaN) = %#04x, not a NaN", got)
	}
	if got := Float32ToF16(math.Float32frombits(0x7f800001)); got&0x3ff == 0 {
		t.Errorf("signalling NaN became %#04x, not a NaN", got)
	}
}

// TestF16RoundTripAllPatterns widens every binary16 value and narrows it
// back: every non-NaN pattern must come back unchanged.
func TestF16RoundTripAllPatterns(t *testing.T) {
	for h := range 1 << 16 {
		f := F16ToFloat32(uint16(h))
		got := Float32ToF16(f)
		if f != f {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, got)
		}
	}
}

// TestF16NearestAgainstTable checks random float32 values against the
// nearest finite binary16 value found by search, ties to even.
func TestF16NearestAgainstTable(t *testing.T) {
	var finite []uint16 // non-negative finite binary16 patterns, increasing value
	for h := uint16(0); h < 0x7c00; h++ {
		finite = append(finite, h)
	}
	r := rand.New(rng.NewSource(2, "checkpoint-test", "f16"))
	for range 200000 {
		// Magnitudes spread over the binary16 range and a little beyond.
		x := math.Ldexp(r.Float64(), r.IntN(44)-28)
		f := float32(x)
		i := sort.Search(len(finite), func(i int) bool { return float64(F16ToFloat32(finite[i])) >= float64(f) })
		var want uint16
		switch {
		case i == len(finite): // above 65504
			if float64(f) >= 65520 {
				want = 0x7c00
			} else {
				want = 0x7bff
			}
		case i == 0:
			want = finite[0]
		default:
			lo, hi := finite[i-1], finite[i]
			dlo := float64(f) - float64(F16ToFloat32(lo))
			dhi := float64(F16ToFloat32(hi)) - float64(f)
			want = lo
			if dhi < dlo || (dhi == dlo && hi&1 == 0) {
				want = hi
			}
		}
		if got := Float32ToF16(f); got != want {
			t.Fatalf("Float32ToF16(%v) = %#04x, want %#04x", f, got, want)
		}
		if got := Float32ToF16(-f); got != want|0x8000 {
			t.Fatalf("Float32ToF16(%v) = %#04x, want %#04x", -f, got, want|0x8000)
		}
	}
}

func TestDTypeSizes(t *testing.T) {
	tests := []struct {
		d           DType
		size        int
		convertible bool
	}{
		{F32, 4, true}, {F16, 2, true}, {BF16, 2, true}, {F64, 8, true},
		{I64, 8, false}, {U8, 1, false}, {Bool, 1, false}, {F8E4M3, 1, false},
		{I32, 4, false}, {"Q4", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		if got := tc.d.Size(); got != tc.size {
			t.Errorf("%q.Size() = %d, want %d", tc.d, got, tc.size)
		}
		if got := tc.d.Convertible(); got != tc.convertible {
			t.Errorf("%q.Convertible() = %v, want %v", tc.d, got, tc.convertible)
		}
	}
}
