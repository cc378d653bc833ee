package checkpoint

import (
	"context"
	"errors"
	"math"
	"path/filepath"
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

func TestCheckFinite(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	bad := filepath.Join(dir, "bad.safetensors")
	if err := Write(good, []Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1, 2}}}, nil, WriteOptions{DType: BF16}); err != nil {
		t.Fatal(err)
	}
	if err := Write(bad, []Tensor{
		{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "layers.1.weight", Shape: []int{4}, Data: []float32{0, float32(math.NaN()), float32(math.Inf(-1)), 3}},
	}, nil, WriteOptions{DType: F16}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want string
	}{
		{good, ""},
		{bad, `tensor "layers.1.weight" holds 2 non-finite values of 4 (the first, element 1, is NaN)`},
	} {
		r, err := Open(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		err = r.CheckFinite(context.Background())
		r.Close()
		var nf *NonFiniteError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.want != "" && (!errors.As(err, &nf) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path)):
			t.Errorf("%s: error %v, want one containing %q and the path", tt.path, err, tt.want)
		}
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
