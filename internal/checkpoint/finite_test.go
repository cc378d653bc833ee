package checkpoint

import (
	"math"
	"strings"
	"testing"
)

func TestNonFinite(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, tt := range []struct {
		x            []float32
		first, count int
	}{
		{nil, -1, 0},
		{[]float32{0, 1, -3.5, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}, -1, 0},
		{[]float32{1, nan, 2, -inf, inf}, 1, 3},
		{[]float32{-inf}, 0, 1},
	} {
		if first, count := NonFinite(tt.x); first != tt.first || count != tt.count {
			t.Errorf("NonFinite(%v) = %d, %d; want %d, %d", tt.x, first, count, tt.first, tt.count)
		}
	}
}

func TestNonFiniteErrorNamesTheTensor(t *testing.T) {
	err := error(&NonFiniteError{Path: "m.safetensors", Tensor: "layers.1.weight", Index: 1, Value: float32(math.NaN()), Count: 2, Total: 4})
	want := `checkpoint m.safetensors: tensor "layers.1.weight" holds 2 non-finite values of 4 (the first, element 1, is NaN)`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want %q", err, want)
	}
}

func BenchmarkNonFinite(b *testing.B) {
	x := make([]float32, 1<<22)
	for i := range x {
		x[i] = float32(i%1000) * 0.001
	}
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		if _, n := NonFinite(x); n != 0 {
			b.Fatal(n)
		}
	}
}
