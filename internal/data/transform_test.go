package data

import (
	"slices"
	"testing"
)

func tiny(h, w int, values ...float32) *Dataset {
	y := make([]int32, len(values)/(h*w))
	return &Dataset{Name: "tiny", C: 1, H: h, W: w, Classes: 10, X: values, Y: y}
}

func TestRotate90(t *testing.T) {
	// 1 2 3        7 4 1
	// 4 5 6   ->   8 5 2
	// 7 8 9        9 6 3
	d := tiny(3, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	got := Rotate90(d)
	if want := []float32{7, 4, 1, 8, 5, 2, 9, 6, 3}; !slices.Equal(got.X, want) {
		t.Fatalf("rot90 = %v, want %v", got.X, want)
	}
	if !slices.Equal(d.X, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatal("Rotate90 modified its input")
	}
	// Non-square 2x3 -> 3x2.
	// 1 2 3        4 1
	// 4 5 6   ->   5 2
	//              6 3
	r := Rotate90(tiny(2, 3, 1, 2, 3, 4, 5, 6))
	if r.H != 3 || r.W != 2 || !slices.Equal(r.X, []float32{4, 1, 5, 2, 6, 3}) {
		t.Fatalf("rot90 2x3 = %dx%d %v", r.H, r.W, r.X)
	}
	// Four quarter turns are the identity; two images are rotated independently.
	two := tiny(3, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	if full := Rotate90(Rotate90(Rotate90(Rotate90(two)))); !slices.Equal(full.X, two.X) {
		t.Fatalf("four rotations = %v", full.X)
	}
}

func TestInvert(t *testing.T) {
	got := Invert(tiny(1, 3, 0, 0.25, 1))
	if want := []float32{1, 0.75, 0}; !slices.Equal(got.X, want) {
		t.Fatalf("invert = %v, want %v", got.X, want)
	}
}

func TestPermutePixels(t *testing.T) {
	d := tiny(2, 2, 10, 20, 30, 40, 1, 2, 3, 4)
	got, err := PermutePixels(d, []int{3, 0, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{40, 10, 30, 20, 4, 1, 3, 2}; !slices.Equal(got.X, want) {
		t.Fatalf("permuted = %v, want %v", got.X, want)
	}
	for _, bad := range [][]int{{0, 1, 2}, {0, 1, 1, 2}, {0, 1, 2, 4}, {-1, 0, 1, 2}} {
		if _, err := PermutePixels(d, bad); err == nil {
			t.Fatalf("permutation %v accepted", bad)
		}
	}
	perm := PixelPermutation(784, 7, "task")
	seen := make([]bool, 784)
	for _, p := range perm {
		if seen[p] {
			t.Fatalf("PixelPermutation repeats %d", p)
		}
		seen[p] = true
	}
	if !slices.Equal(perm, PixelPermutation(784, 7, "task")) || slices.Equal(perm, PixelPermutation(784, 8, "task")) {
		t.Fatal("PixelPermutation must be fixed by (seed, name) and change with the seed")
	}
}

func TestPadAvgPool(t *testing.T) {
	// 2x2 image padded by 1 -> 4x4, pooled by 2 -> 2x2 of single-pixel blocks / 4.
	got, err := PadAvgPool(tiny(2, 2, 4, 8, 12, 16), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.H != 2 || got.W != 2 || !slices.Equal(got.X, []float32{1, 2, 3, 4}) {
		t.Fatalf("pooled = %dx%d %v", got.H, got.W, got.X)
	}
	// No padding: 4x4 -> 2x2 averages.
	got, err = PadAvgPool(tiny(4, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{3.5, 5.5, 11.5, 13.5}; !slices.Equal(got.X, want) {
		t.Fatalf("pooled = %v, want %v", got.X, want)
	}
	if _, err := PadAvgPool(tiny(3, 3, make([]float32, 9)...), 0, 2); err == nil {
		t.Fatal("3x3 pooled by 2 accepted")
	}
}

func TestPool8x8(t *testing.T) {
	x := make([]float32, 784)
	for i := range x {
		x[i] = 1
	}
	got, err := Pool8x8(tiny(28, 28, x...))
	if err != nil {
		t.Fatal(err)
	}
	if got.H != 8 || got.W != 8 || got.Len() != 1 {
		t.Fatalf("pooled shape %dx%d n=%d", got.H, got.W, got.Len())
	}
	// Corner blocks see 2x2 real pixels of 16, edge blocks 2x4, inner 4x4.
	if got.X[0] != 0.25 || got.X[1] != 0.5 || got.X[9] != 1 || got.X[63] != 0.25 {
		t.Fatalf("pooled values %v", got.X)
	}
	if _, err := Pool8x8(tiny(2, 2, 0, 0, 0, 0)); err == nil {
		t.Fatal("Pool8x8 accepted 2x2 images")
	}
}

func TestLabelMaps(t *testing.T) {
	d := &Dataset{Name: "d", C: 1, H: 1, W: 1, Classes: 10, X: make([]float32, 10), Y: []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	for _, tc := range []struct {
		m    LabelMap
		want []int32
	}{
		{Parity, []int32{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}},
		{Mod3, []int32{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}},
		{HighLow, []int32{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}},
	} {
		got, err := tc.m.Apply(d)
		if err != nil {
			t.Fatal(err)
		}
		if got.Classes != tc.m.Classes || !slices.Equal(got.Y, tc.want) {
			t.Fatalf("%s: classes %d labels %v", tc.m.Name, got.Classes, got.Y)
		}
		if err := got.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	bad := LabelMap{Name: "bad", Table: []int32{0, 2}, Classes: 2}
	if _, err := bad.Apply(d); err == nil {
		t.Fatal("map to class 2 of 2 accepted")
	}
	short := LabelMap{Name: "short", Table: []int32{0, 1}, Classes: 2}
	if _, err := short.Apply(d); err == nil {
		t.Fatal("map covering 2 of 10 labels accepted")
	}
}

func TestDatasetOps(t *testing.T) {
	d := &Dataset{Name: "d", C: 1, H: 1, W: 2, Classes: 3, X: []float32{0, 1, 2, 3, 4, 5, 6, 7}, Y: []int32{0, 1, 2, 1}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	f := d.FilterLabels(1)
	if !slices.Equal(f.Y, []int32{1, 1}) || !slices.Equal(f.X, []float32{2, 3, 6, 7}) || f.Classes != 3 {
		t.Fatalf("filter = %v %v", f.Y, f.X)
	}
	s := d.Subset([]int{3, 0})
	if !slices.Equal(s.Y, []int32{1, 0}) || !slices.Equal(s.X, []float32{6, 7, 0, 1}) {
		t.Fatalf("subset = %v %v", s.Y, s.X)
	}
	if h := d.Head(2); h.Len() != 2 || !slices.Equal(h.X, []float32{0, 1, 2, 3}) {
		t.Fatalf("head = %v", h.X)
	}
	if !slices.Equal(d.ClassCounts(), []int{1, 2, 1}) {
		t.Fatalf("counts = %v", d.ClassCounts())
	}
	c, err := Concat("c", d, s)
	if err != nil || c.Len() != 6 || c.Y[5] != 0 {
		t.Fatalf("concat = %v, %v", c, err)
	}
	if _, err := Concat("c", d, Invert(tiny(1, 1, 0))); err == nil {
		t.Fatal("concat of different shapes accepted")
	}
	broken := *d
	broken.Y = []int32{0, 3, 0, 0}
	if err := broken.Validate(); err == nil {
		t.Fatal("label 3 of 3 classes accepted")
	}
	broken.Y = []int32{0}
	if err := broken.Validate(); err == nil {
		t.Fatal("length mismatch accepted")
	}
}
