package data

import (
	"fmt"

	"github.com/evomerge/evomerge/internal/rng"
)

// The transforms act on image datasets; every transform returns a new
// dataset and leaves its input untouched.

// Rotate90 rotates every image a quarter turn clockwise: output pixel (r, c)
// is input pixel (H-1-c, r), and an H×W image becomes W×H.
func Rotate90(d *Dataset) *Dataset {
	h, w := d.H, d.W
	plane := h * w
	x := make([]float32, len(d.X))
	for base := 0; base < len(x); base += plane {
		src := d.X[base : base+plane]
		dst := x[base : base+plane]
		for r := 0; r < w; r++ {
			for c := 0; c < h; c++ {
				dst[r*h+c] = src[(h-1-c)*w+r]
			}
		}
	}
	out := d.withImages(d.Name+"/rot90", x, append([]int32(nil), d.Y...))
	out.H, out.W = w, h
	return out
}

// Invert maps every pixel p to 1-p (white digits on black become black on
// white). Pixels must be in [0, 1].
func Invert(d *Dataset) *Dataset {
	x := make([]float32, len(d.X))
	for i, p := range d.X {
		x[i] = 1 - p
	}
	return d.withImages(d.Name+"/invert", x, append([]int32(nil), d.Y...))
}

// PixelPermutation returns a fixed permutation of n pixel positions drawn
// from the rng stream (seed, "data", "pixel-permutation", name).
func PixelPermutation(n int, seed uint64, name string) []int {
	return rng.New(seed, "data", "pixel-permutation", name).Perm(n)
}

// PermutePixels reorders the pixels of every image: output value j is input
// value perm[j] (within one example, across channels). perm must be a
// permutation of [0, Features()).
func PermutePixels(d *Dataset, perm []int) (*Dataset, error) {
	f := d.Features()
	if len(perm) != f {
		return nil, fmt.Errorf("data: pixel permutation has %d entries, dataset %q has %d values per example", len(perm), d.Name, f)
	}
	seen := make([]bool, f)
	for _, p := range perm {
		if p < 0 || p >= f || seen[p] {
			return nil, fmt.Errorf("data: pixel permutation for %q is not a permutation of 0..%d", d.Name, f-1)
		}
		seen[p] = true
	}
	x := make([]float32, len(d.X))
	for base := 0; base < len(x); base += f {
		src := d.X[base : base+f]
		dst := x[base : base+f]
		for j, p := range perm {
			dst[j] = src[p]
		}
	}
	return d.withImages(d.Name+"/permuted", x, append([]int32(nil), d.Y...)), nil
}

// PadAvgPool zero-pads every image by pad pixels on each side, then averages
// non-overlapping k×k blocks. (H+2*pad) and (W+2*pad) must be multiples of k.
func PadAvgPool(d *Dataset, pad, k int) (*Dataset, error) {
	ph, pw := d.H+2*pad, d.W+2*pad
	if pad < 0 || k <= 0 || ph%k != 0 || pw%k != 0 {
		return nil, fmt.Errorf("data: cannot pool %q: %dx%d padded by %d is not a multiple of %d", d.Name, d.H, d.W, pad, k)
	}
	oh, ow := ph/k, pw/k
	inPlane, outPlane := d.H*d.W, oh*ow
	planes := d.Len() * d.C
	x := make([]float32, planes*outPlane)
	scale := 1 / float32(k*k)
	for p := range planes {
		src := d.X[p*inPlane : (p+1)*inPlane]
		dst := x[p*outPlane : (p+1)*outPlane]
		for orow := range oh {
			for ocol := range ow {
				var sum float32
				for dr := range k {
					r := orow*k + dr - pad
					if r < 0 || r >= d.H {
						continue
					}
					for dc := range k {
						c := ocol*k + dc - pad
						if c < 0 || c >= d.W {
							continue
						}
						sum += src[r*d.W+c]
					}
				}
				dst[orow*ow+ocol] = sum * scale
			}
		}
	}
	out := d.withImages(fmt.Sprintf("%s/pool%dx%d", d.Name, oh, ow), x, append([]int32(nil), d.Y...))
	out.H, out.W = oh, ow
	return out, nil
}

// Pool8x8 turns 28×28 MNIST images into 8×8 ones the way scikit-learn's
// digits were made from 32×32 bitmaps: pad 2 zero pixels on each side to
// 32×32, then average 4×4 blocks. Values stay in [0, 1].
func Pool8x8(d *Dataset) (*Dataset, error) {
	if d.H != MNISTHeight || d.W != MNISTWidth {
		return nil, fmt.Errorf("data: Pool8x8 needs 28x28 images, %q has %dx%d", d.Name, d.H, d.W)
	}
	return PadAvgPool(d, 2, 4)
}

// LabelMap relabels examples: new label = Table[old label]. Classes is the
// number of new classes.
type LabelMap struct {
	Name    string
	Table   []int32
	Classes int
}

// Validate checks every entry of the table is a valid new class.
func (lm LabelMap) Validate() error {
	if lm.Classes <= 0 {
		return fmt.Errorf("data: label map %q: classes %d must be positive", lm.Name, lm.Classes)
	}
	for old, nu := range lm.Table {
		if nu < 0 || int(nu) >= lm.Classes {
			return fmt.Errorf("data: label map %q sends label %d to %d, outside [0,%d)", lm.Name, old, nu, lm.Classes)
		}
	}
	return nil
}

// Apply returns a copy of d relabelled by the map. Every label of d must
// have an entry in the table.
func (lm LabelMap) Apply(d *Dataset) (*Dataset, error) {
	if err := lm.Validate(); err != nil {
		return nil, err
	}
	if d.Classes > len(lm.Table) {
		return nil, fmt.Errorf("data: label map %q covers %d labels, dataset %q has %d classes", lm.Name, len(lm.Table), d.Name, d.Classes)
	}
	y := make([]int32, len(d.Y))
	for i, old := range d.Y {
		y[i] = lm.Table[old]
	}
	out := d.withImages(d.Name+"/"+lm.Name, append([]float32(nil), d.X...), y)
	out.Classes = lm.Classes
	return out, nil
}

// Label maps over the ten digits.
var (
	// Parity: 0 for even digits, 1 for odd ones.
	Parity = LabelMap{Name: "parity", Table: []int32{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, Classes: 2}
	// Mod3: the digit modulo 3.
	Mod3 = LabelMap{Name: "mod3", Table: []int32{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}, Classes: 3}
	// HighLow: 0 for digits 0-4, 1 for digits 5-9.
	HighLow = LabelMap{Name: "high-low", Table: []int32{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, Classes: 2}
)
