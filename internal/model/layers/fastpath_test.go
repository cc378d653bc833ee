package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

// The 2×2 stride-2 max-pool fast path gives the same values and argmax as the
// general window loop, including ties (the first maximum wins) and NaN (skipped).
func TestMaxPool2x2FastPathMatchesGeneral(t *testing.T) {
	for _, shape := range [][3]int{{3, 28, 28}, {2, 7, 9}, {1, 2, 2}, {4, 5, 4}} {
		p := newPool2D(shape, LayerSpec{Kind: KindMaxPool, Kernel: 2})
		const n = 3
		r := rng.New(1, "pool", fmt.Sprint(shape))
		x := make([]float32, n*shape[0]*shape[1]*shape[2])
		for i := range x {
			// Few distinct values so windows hold ties; some NaN and -Inf.
			switch v := r.IntN(12); v {
			case 0:
				x[i] = float32(math.NaN())
			case 1:
				x[i] = float32(math.Inf(-1))
			default:
				x[i] = float32(v - 6)
			}
		}
		fast := make([]float32, n*p.c*p.outH*p.outW)
		p.forward(fast, x, n, false, nil)
		fastArg := append([]int32(nil), p.argmax...)

		// Reference: the general window loop written out for 2×2 windows.
		general := make([]float32, len(fast))
		inPlane, outPlane := p.inH*p.inW, p.outH*p.outW
		for pl := range n * p.c {
			xp := x[pl*inPlane : (pl+1)*inPlane]
			for oy := range p.outH {
				for ox := range p.outW {
					best, at := float32(math.Inf(-1)), int32(2*oy*p.inW+2*ox)
					for iy := 2 * oy; iy < 2*oy+2; iy++ {
						for ix := 2 * ox; ix < 2*ox+2; ix++ {
							if v := xp[iy*p.inW+ix]; v > best {
								best, at = v, int32(iy*p.inW+ix)
							}
						}
					}
					general[pl*outPlane+oy*p.outW+ox] = best
					if fastArg[pl*outPlane+oy*p.outW+ox] != at {
						t.Fatalf("%v plane %d (%d,%d): argmax %d, want %d", shape, pl, oy, ox, fastArg[pl*outPlane+oy*p.outW+ox], at)
					}
				}
			}
		}
		for i := range fast {
			if math.Float32bits(fast[i]) != math.Float32bits(general[i]) {
				t.Fatalf("%v: output %d = %v, want %v", shape, i, fast[i], general[i])
			}
		}
	}
}

// conv2d (channel-major im2col + Gemm) matches a direct float64 convolution on
// several channels, strides and paddings.
func TestConvMatchesDirectConvolution(t *testing.T) {
	for _, tc := range []struct {
		in   [3]int
		spec LayerSpec
	}{
		{[3]int{3, 9, 7}, LayerSpec{Kind: KindConv2D, Out: 5, Kernel: 3, Padding: 1}},
		{[3]int{2, 8, 11}, LayerSpec{Kind: KindConv2D, Out: 3, Kernel: 3, Stride: 2, Padding: 1}},
		{[3]int{1, 6, 6}, LayerSpec{Kind: KindConv2D, Out: 17, Kernel: 2, Stride: 2}},
		{[3]int{4, 5, 5}, LayerSpec{Kind: KindConv2D, Out: 2, Kernel: 5, Padding: 2}},
	} {
		c := newConv2D("layers.0", tc.in, tc.spec)
		r := rng.New(2, "conv", fmt.Sprint(tc.in))
		copy(c.w.Data, randomValues(r, len(c.w.Data), 1))
		copy(c.b.Data, randomValues(r, len(c.b.Data), 1))
		const n = 3
		x := randomValues(r, n*c.inC*c.inH*c.inW, 1)
		y := make([]float32, n*c.outC*c.outH*c.outW)
		c.forward(y, x, n, false, nil)
		for img := range n {
			for o := range c.outC {
				for oy := range c.outH {
					for ox := range c.outW {
						s := float64(c.b.Data[o])
						for ci := range c.inC {
							for ky := range c.k {
								for kx := range c.k {
									iy, ix := oy*c.stride-c.pad+ky, ox*c.stride-c.pad+kx
									if iy < 0 || iy >= c.inH || ix < 0 || ix >= c.inW {
										continue
									}
									w := c.w.Data[((o*c.inC+ci)*c.k+ky)*c.k+kx]
									s += float64(w) * float64(x[((img*c.inC+ci)*c.inH+iy)*c.inW+ix])
								}
							}
						}
						got := y[((img*c.outC+o)*c.outH+oy)*c.outW+ox]
						if math.Abs(float64(got)-s) > 1e-4 {
							t.Fatalf("%v %+v: y[%d,%d,%d,%d] = %v, want %v", tc.in, tc.spec, img, o, oy, ox, got, s)
						}
					}
				}
			}
		}
	}
}
