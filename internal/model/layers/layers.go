package layers

import (
	"iter"
	"math"
	"math/rand/v2"

	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tensor"
)

// layer is one differentiable operation on a batch of n examples, each a flat vector
// of inSize values (C×H×W in NCHW order) mapped to outSize values.
//
// forward writes y (n*outSize values) from x. When train is true, layers with training
// behaviour (dropout) use r and remember what backward needs.
//
// backward receives x and y of the last forward call and dy = dL/dy; it adds the
// parameter gradients to Param.Grad and, when dx is not nil, writes dL/dx into dx.
type layer interface {
	forward(y, x []float32, n int, train bool, r *rand.Rand)
	backward(dx, dy, x, y []float32, n int)
	params() []*model.Param
}

// linear: y = x W^T + b, W is [out, in].
type linear struct {
	in, out int
	w, b    *model.Param
}

func newLinear(prefix string, in, out int) *linear {
	return &linear{in: in, out: out, w: model.NewParam(prefix+".weight", out, in), b: model.NewParam(prefix+".bias", out)}
}

func (l *linear) params() []*model.Param { return []*model.Param{l.w, l.b} }

func (l *linear) forward(y, x []float32, n int, _ bool, _ *rand.Rand) {
	y = y[:n*l.out]
	for i := range n {
		copy(y[i*l.out:(i+1)*l.out], l.b.Data)
	}
	tensor.Gemm(false, true, n, l.out, l.in, 1, x, l.in, l.w.Data, l.in, 1, y, l.out)
}

func (l *linear) backward(dx, dy, x, _ []float32, n int) {
	tensor.Gemm(true, false, l.out, l.in, n, 1, dy, l.out, x, l.in, 1, l.w.Grad, l.in)
	db := l.b.Grad
	for i := range n {
		row := dy[i*l.out : (i+1)*l.out]
		for j, v := range row {
			db[j] += v
		}
	}
	if dx != nil {
		tensor.Gemm(false, false, n, l.in, l.out, 1, dy, l.out, l.w.Data, l.in, 0, dx, l.in)
	}
}

// convColsBudget bounds the im2col buffer (in float32 values); images are processed in
// chunks of a fixed size derived from the layer shape only, so results do not depend on
// the number of threads.
const convColsBudget = 1 << 20

// conv2d: NCHW convolution with a square kernel, stride and zero padding, computed as
// im2col followed by Gemm. W is [out, in, k, k].
//
// The im2col matrix of a chunk of images is channel-major: one row per kernel tap
// (ci, ky, kx) and one column per output position of every image of the chunk, so
// each row is built from contiguous runs of an input row and the product
// W·cols = [outC × positions] holds whole output planes, copied to NCHW with the bias
// added. The Gemm is outC×positions×(inC·k·k): a long n dimension whatever outC is.
type conv2d struct {
	inC, inH, inW    int
	outC, outH, outW int
	k, stride, pad   int
	w, b             *model.Param
	chunk            int // images per im2col chunk
	cols, out, dcol  []float32

	// Per-call state of the parallel per-image loops.
	task     convTask
	taskMode int
	x, y     []float32
	chunk0   int
	ld       int // columns of cols, out and dcol for the current chunk
}

const (
	convIm2col = iota
	convScatter
	convGather
	convCol2im
)

// convTask runs one of the conv2d per-image loops over a range of images of the
// current chunk.
type convTask struct{ c *conv2d }

func (t *convTask) runRange(lo, hi int) {
	c := t.c
	i0, i1 := c.chunk0+lo, c.chunk0+hi
	switch c.taskMode {
	case convIm2col:
		c.im2col(c.x, i0, i1)
	case convScatter:
		c.scatter(c.y, i0, i1)
	case convGather:
		c.gather(c.y, i0, i1)
	case convCol2im:
		c.col2im(c.x, i0, i1)
	}
}

// runImages runs mode over the images [i0, i1) of the chunk starting at i0.
func (c *conv2d) runImages(mode, i0, i1 int, x, y []float32) {
	c.taskMode, c.chunk0, c.x, c.y = mode, i0, x, y
	c.task.c = c
	parallelRange(&c.task, i1-i0, 1)
	c.x, c.y = nil, nil
}

func newConv2D(prefix string, in [3]int, spec LayerSpec) *conv2d {
	c := &conv2d{
		inC: in[0], inH: in[1], inW: in[2],
		outC: spec.Out, k: spec.Kernel, stride: spec.stride(), pad: spec.Padding,
	}
	c.outH, c.outW = windowOut(in[1], spec), windowOut(in[2], spec)
	c.w = model.NewParam(prefix+".weight", c.outC, c.inC, c.k, c.k)
	c.b = model.NewParam(prefix+".bias", c.outC)
	perImage := c.outH * c.outW * c.inC * c.k * c.k
	c.chunk = max(1, convColsBudget/perImage)
	return c
}

func (c *conv2d) params() []*model.Param { return []*model.Param{c.w, c.b} }

// prepare sizes the buffers for a chunk of images and sets c.ld.
func (c *conv2d) prepare(images int) {
	c.ld = images * c.outH * c.outW
	ckk := c.inC * c.k * c.k
	if cap(c.cols) < c.ld*ckk {
		c.cols = make([]float32, c.ld*ckk)
	}
	if cap(c.out) < c.ld*c.outC {
		c.out = make([]float32, c.ld*c.outC)
	}
	c.cols = c.cols[:c.ld*ckk]
	c.out = c.out[:c.ld*c.outC]
}

// tapRange returns the output columns [lo, hi) whose input column ox*stride-pad+kx
// lies inside the image.
func (c *conv2d) tapRange(kx int) (lo, hi int) {
	lo = max(0, ceilDiv(c.pad-kx, c.stride))
	hi = min(c.outW, ceilDiv(c.inW+c.pad-kx, c.stride))
	return lo, max(lo, hi)
}

func ceilDiv(a, b int) int {
	if a <= 0 {
		return -(-a / b)
	}
	return (a + b - 1) / b
}

// convTap is one kernel tap (ci, ky, kx) of one image of the current chunk, as
// im2col and col2im visit them.
type convTap struct {
	plane  []float32 // the image's input channel ci (of x or dx), inH×inW values
	row    []float32 // the image's outH·outW columns of the tap's row of a column buffer
	ky, kx int
	lo, hi int // the output columns whose input column lies inside the image (tapRange)
}

// taps yields the taps of images [i0, i1) of the chunk, image by image and in each
// image in the row order (ci, ky, kx) of the column buffer cols (rows of c.ld
// columns); planes are those of images (NCHW: the input, or its gradient).
func (c *conv2d) taps(images, cols []float32, i0, i1 int) iter.Seq[convTap] {
	return func(yield func(convTap) bool) {
		inSize := c.inC * c.inH * c.inW
		ohw := c.outH * c.outW
		for i := i0; i < i1; i++ {
			xi := images[i*inSize : (i+1)*inSize]
			col0 := (i - c.chunk0) * ohw
			r := 0
			for ci := range c.inC {
				plane := xi[ci*c.inH*c.inW : (ci+1)*c.inH*c.inW]
				for ky := range c.k {
					for kx := range c.k {
						t := convTap{plane: plane, row: cols[r*c.ld+col0 : r*c.ld+col0+ohw], ky: ky, kx: kx}
						t.lo, t.hi = c.tapRange(kx)
						if !yield(t) {
							return
						}
						r++
					}
				}
			}
		}
	}
}

// im2col writes the columns of images [i0, i1) of x into c.cols: row (ci, ky, kx),
// column (image−chunk0)·outH·outW + oy·outW + ox holds the input value under that tap,
// zero where the window hangs over the padding.
func (c *conv2d) im2col(x []float32, i0, i1 int) {
	for t := range c.taps(x, c.cols, i0, i1) {
		lo, hi := t.lo, t.hi
		for oy := range c.outH {
			seg := t.row[oy*c.outW : (oy+1)*c.outW]
			iy := oy*c.stride - c.pad + t.ky
			if iy < 0 || iy >= c.inH || lo >= hi {
				clear(seg)
				continue
			}
			src := t.plane[iy*c.inW : (iy+1)*c.inW]
			clear(seg[:lo])
			clear(seg[hi:])
			ix0 := lo*c.stride - c.pad + t.kx
			if c.stride == 1 {
				copy(seg[lo:hi], src[ix0:ix0+hi-lo])
				continue
			}
			for ox := lo; ox < hi; ox++ {
				seg[ox] = src[ix0]
				ix0 += c.stride
			}
		}
	}
}

func (c *conv2d) forward(y, x []float32, n int, _ bool, _ *rand.Rand) {
	ckk := c.inC * c.k * c.k
	for i0 := 0; i0 < n; i0 += c.chunk {
		i1 := min(n, i0+c.chunk)
		c.prepare(i1 - i0)
		c.runImages(convIm2col, i0, i1, x, nil)
		tensor.Gemm(false, false, c.outC, c.ld, ckk, 1, c.w.Data, ckk, c.cols, c.ld, 0, c.out, c.ld)
		c.runImages(convScatter, i0, i1, nil, y)
	}
}

// scatter writes images [i0, i1) of y (NCHW) from the chunk's channel-major Gemm
// output, adding the bias.
func (c *conv2d) scatter(y []float32, i0, i1 int) {
	ohw := c.outH * c.outW
	outSize := c.outC * ohw
	for img := i0; img < i1; img++ {
		col0 := (img - c.chunk0) * ohw
		for o := range c.outC {
			bias := c.b.Data[o]
			plane := y[img*outSize+o*ohw : img*outSize+(o+1)*ohw]
			src := c.out[o*c.ld+col0 : o*c.ld+col0+ohw]
			for pos, v := range src {
				plane[pos] = v + bias
			}
		}
	}
}

// gather copies images [i0, i1) of dy (NCHW) into the chunk's channel-major layout.
func (c *conv2d) gather(dy []float32, i0, i1 int) {
	ohw := c.outH * c.outW
	outSize := c.outC * ohw
	for img := i0; img < i1; img++ {
		col0 := (img - c.chunk0) * ohw
		for o := range c.outC {
			copy(c.out[o*c.ld+col0:o*c.ld+col0+ohw], dy[img*outSize+o*ohw:img*outSize+(o+1)*ohw])
		}
	}
}

// col2im scatter-adds the tap gradients c.dcol of images [i0, i1) onto dx, tap by tap
// in a fixed order.
func (c *conv2d) col2im(dx []float32, i0, i1 int) {
	inSize := c.inC * c.inH * c.inW
	clear(dx[i0*inSize : i1*inSize])
	for t := range c.taps(dx, c.dcol, i0, i1) {
		for oy := range c.outH {
			iy := oy*c.stride - c.pad + t.ky
			if iy < 0 || iy >= c.inH {
				continue
			}
			row := t.plane[iy*c.inW : (iy+1)*c.inW]
			seg := t.row[oy*c.outW : (oy+1)*c.outW]
			ix := t.lo*c.stride - c.pad + t.kx
			for ox := t.lo; ox < t.hi; ox++ {
				row[ix] += seg[ox]
				ix += c.stride
			}
		}
	}
}

func (c *conv2d) backward(dx, dy, x, _ []float32, n int) {
	ckk := c.inC * c.k * c.k
	ohw := c.outH * c.outW
	for i0 := 0; i0 < n; i0 += c.chunk {
		i1 := min(n, i0+c.chunk)
		c.prepare(i1 - i0)
		c.runImages(convIm2col, i0, i1, x, nil)
		c.runImages(convGather, i0, i1, nil, dy)
		// Bias gradient: per channel, images in order.
		for o := range c.outC {
			var sum float32
			for img := range i1 - i0 {
				for _, v := range c.out[o*c.ld+img*ohw : o*c.ld+(img+1)*ohw] {
					sum += v
				}
			}
			c.b.Grad[o] += sum
		}
		tensor.Gemm(false, true, c.outC, ckk, c.ld, 1, c.out, c.ld, c.cols, c.ld, 1, c.w.Grad, ckk)
		if dx == nil {
			continue
		}
		if cap(c.dcol) < c.ld*ckk {
			c.dcol = make([]float32, c.ld*ckk)
		}
		c.dcol = c.dcol[:c.ld*ckk]
		tensor.Gemm(true, false, ckk, c.ld, c.outC, 1, c.w.Data, ckk, c.out, c.ld, 0, c.dcol, c.ld)
		c.runImages(convCol2im, i0, i1, dx, nil)
	}
}

// relu: y = max(x, 0); the gradient at 0 is taken as 0.
type relu struct{ size int }

func (relu) params() []*model.Param { return nil }

func (l relu) forward(y, x []float32, n int, _ bool, _ *rand.Rand) {
	x = x[:n*l.size]
	tensor.ReLU(y[:len(x)], x)
}

func (l relu) backward(dx, dy, x, _ []float32, n int) {
	if dx == nil {
		return
	}
	x = x[:n*l.size]
	tensor.ReLUGrad(dx[:len(x)], dy[:len(x)], x)
}

// gelu is the exact GELU, x·Φ(x) with Φ the standard normal CDF computed with erf
// (PyTorch's default approximate="none"), evaluated in float64. Its loops run in
// parallel over fixed ranges of values.
type gelu struct {
	size         int
	backwardPass bool
	x, y, dy     []float32
}

// geluGrain is the number of values per parallel chunk.
const geluGrain = 4096

func (*gelu) params() []*model.Param { return nil }

func (l *gelu) forward(y, x []float32, n int, _ bool, _ *rand.Rand) {
	l.backwardPass, l.x, l.y = false, x, y
	parallelRange(l, n*l.size, geluGrain)
	l.x, l.y = nil, nil
}

func (l *gelu) backward(dx, dy, x, _ []float32, n int) {
	if dx == nil {
		return
	}
	l.backwardPass, l.x, l.y, l.dy = true, x, dx, dy
	parallelRange(l, n*l.size, geluGrain)
	l.x, l.y, l.dy = nil, nil, nil
}

func (l *gelu) runRange(lo, hi int) {
	x, y := l.x[lo:hi], l.y[lo:hi]
	if !l.backwardPass {
		for i, v := range x {
			z := float64(v)
			y[i] = float32(0.5 * z * (1 + math.Erf(z/math.Sqrt2)))
		}
		return
	}
	dy := l.dy[lo:hi]
	const invSqrt2Pi = 0.3989422804014327
	for i, v := range x {
		z := float64(v)
		cdf := 0.5 * (1 + math.Erf(z/math.Sqrt2))
		pdf := invSqrt2Pi * math.Exp(-0.5*z*z)
		y[i] = float32(float64(dy[i]) * (cdf + z*pdf))
	}
}

// pool2d is max or average pooling over square windows, per channel.
type pool2d struct {
	max              bool
	c, inH, inW      int
	outH, outW       int
	k, stride, pad   int
	argmax           []int32 // index within the channel plane of each max, for backward
	windowCountScale float32

	// Per-call state of the parallel loop over channel planes.
	backwardPass bool
	x, y         []float32
}

func newPool2D(in [3]int, spec LayerSpec) *pool2d {
	p := &pool2d{max: spec.Kind == KindMaxPool, c: in[0], inH: in[1], inW: in[2], k: spec.Kernel, stride: spec.stride(), pad: spec.Padding}
	p.outH, p.outW = windowOut(in[1], spec), windowOut(in[2], spec)
	p.windowCountScale = 1 / float32(p.k*p.k)
	return p
}

func (p *pool2d) params() []*model.Param { return nil }

func (p *pool2d) forward(y, x []float32, n int, _ bool, _ *rand.Rand) {
	planes := n * p.c
	if p.max {
		outPlane := p.outH * p.outW
		if cap(p.argmax) < planes*outPlane {
			p.argmax = make([]int32, planes*outPlane)
		}
		p.argmax = p.argmax[:planes*outPlane]
	}
	p.backwardPass, p.x, p.y = false, x, y
	parallelRange(p, planes, poolGrain)
	p.x, p.y = nil, nil
}

func (p *pool2d) backward(dx, dy, _, _ []float32, n int) {
	if dx == nil {
		return
	}
	p.backwardPass, p.x, p.y = true, dx, dy
	parallelRange(p, n*p.c, poolGrain)
	p.x, p.y = nil, nil
}

// poolGrain is the number of channel planes per parallel chunk.
const poolGrain = 16

// runRange pools (or back-propagates) the channel planes [lo, hi).
func (p *pool2d) runRange(lo, hi int) {
	if p.backwardPass {
		p.backwardPlanes(p.x, p.y, lo, hi)
	} else {
		p.forwardPlanes(p.y, p.x, lo, hi)
	}
}

// window returns the input positions [lo, hi), along an axis of size positions (rows
// or columns), that the window of output position o covers, padding left out.
func (p *pool2d) window(o, size int) (lo, hi int) {
	start := o*p.stride - p.pad
	return max(start, 0), min(start+p.k, size)
}

func (p *pool2d) forwardPlanes(y, x []float32, lo, hi int) {
	if p.max && p.k == 2 && p.stride == 2 && p.pad == 0 {
		p.maxPool2x2(y, x, lo, hi)
		return
	}
	inPlane, outPlane := p.inH*p.inW, p.outH*p.outW
	for pl := lo; pl < hi; pl++ {
		xp := x[pl*inPlane : (pl+1)*inPlane]
		yp := y[pl*outPlane : (pl+1)*outPlane]
		for oy := range p.outH {
			yLo, yHi := p.window(oy, p.inH)
			for ox := range p.outW {
				xLo, xHi := p.window(ox, p.inW)
				if p.max {
					best := float32(math.Inf(-1))
					bestAt := int32(yLo*p.inW + xLo)
					for iy := yLo; iy < yHi; iy++ {
						for ix := xLo; ix < xHi; ix++ {
							if v := xp[iy*p.inW+ix]; v > best {
								best, bestAt = v, int32(iy*p.inW+ix)
							}
						}
					}
					yp[oy*p.outW+ox] = best
					p.argmax[pl*outPlane+oy*p.outW+ox] = bestAt
					continue
				}
				var sum float32
				for iy := yLo; iy < yHi; iy++ {
					for ix := xLo; ix < xHi; ix++ {
						sum += xp[iy*p.inW+ix]
					}
				}
				yp[oy*p.outW+ox] = sum * p.windowCountScale
			}
		}
	}
}

// maxPool2x2 is forwardPlanes for 2×2 max pooling with stride 2 and no padding:
// the same comparisons in the same order (row by row, the first maximum wins),
// without the general window bounds.
func (p *pool2d) maxPool2x2(y, x []float32, lo, hi int) {
	inPlane, outPlane := p.inH*p.inW, p.outH*p.outW
	inW, outW := p.inW, p.outW
	for pl := lo; pl < hi; pl++ {
		xp := x[pl*inPlane : (pl+1)*inPlane]
		yp := y[pl*outPlane : (pl+1)*outPlane]
		arg := p.argmax[pl*outPlane : (pl+1)*outPlane]
		for oy := range p.outH {
			top := xp[2*oy*inW : 2*oy*inW+2*outW]
			bottom := xp[(2*oy+1)*inW : (2*oy+1)*inW+2*outW]
			out := yp[oy*outW : (oy+1)*outW]
			at := arg[oy*outW : (oy+1)*outW]
			base := int32(2 * oy * inW)
			for ox := range out {
				// Branch-free (max pooling data make these comparisons
				// unpredictable) and as a tree: the first maximum of each row
				// pair, then the bottom one only if strictly greater, which is
				// the row-by-row scan's result (NaN never wins, ties keep the
				// earlier element).
				i0 := base + int32(2*ox)
				tv, ta := takeGreater(top[2*ox], float32(math.Inf(-1)), i0, i0)
				tv, ta = takeGreater(top[2*ox+1], tv, i0+1, ta)
				bv, ba := takeGreater(bottom[2*ox], float32(math.Inf(-1)), i0+int32(inW), i0+int32(inW))
				bv, ba = takeGreater(bottom[2*ox+1], bv, i0+int32(inW)+1, ba)
				best, bestAt := takeGreater(bv, tv, ba, ta)
				out[ox], at[ox] = best, bestAt
			}
		}
	}
}

// takeGreater returns (v, at) when v > best, else (best, bestAt), without a branch.
func takeGreater(v, best float32, at, bestAt int32) (float32, int32) {
	var mask int32
	if v > best {
		mask = -1
	}
	bits := math.Float32bits(v)&uint32(mask) | math.Float32bits(best)&^uint32(mask)
	return math.Float32frombits(bits), at&mask | bestAt&^mask
}

func (p *pool2d) backwardPlanes(dx, dy []float32, lo, hi int) {
	inPlane, outPlane := p.inH*p.inW, p.outH*p.outW
	clear(dx[lo*inPlane : hi*inPlane])
	for pl := lo; pl < hi; pl++ {
		dxp := dx[pl*inPlane : (pl+1)*inPlane]
		dyp := dy[pl*outPlane : (pl+1)*outPlane]
		if p.max {
			arg := p.argmax[pl*outPlane : (pl+1)*outPlane]
			for o, g := range dyp {
				dxp[arg[o]] += g
			}
			continue
		}
		for oy := range p.outH {
			yLo, yHi := p.window(oy, p.inH)
			for ox := range p.outW {
				xLo, xHi := p.window(ox, p.inW)
				g := dyp[oy*p.outW+ox] * p.windowCountScale
				for iy := yLo; iy < yHi; iy++ {
					for ix := xLo; ix < xHi; ix++ {
						dxp[iy*p.inW+ix] += g
					}
				}
			}
		}
	}
}

// flatten reshapes C×H×W to C·H·W×1×1; the data layout is unchanged.
type flatten struct{ size int }

func (flatten) params() []*model.Param { return nil }

func (l flatten) forward(y, x []float32, n int, _ bool, _ *rand.Rand) {
	copy(y[:n*l.size], x[:n*l.size])
}

func (l flatten) backward(dx, dy, _, _ []float32, n int) {
	if dx != nil {
		copy(dx[:n*l.size], dy[:n*l.size])
	}
}

// layerNormEps is added to the variance, as PyTorch's default.
const layerNormEps = 1e-5

// layerNorm normalises each example over its size values: y = (x-mean)/sqrt(var+eps)*w + b,
// with the biased variance. Statistics are accumulated in float64.
type layerNorm struct {
	size       int
	w, b       *model.Param
	mean, rstd []float64
}

func newLayerNorm(prefix string, size int) *layerNorm {
	l := &layerNorm{size: size, w: model.NewParam(prefix+".weight", size), b: model.NewParam(prefix+".bias", size)}
	for i := range l.w.Data {
		l.w.Data[i] = 1
	}
	return l
}

func (l *layerNorm) params() []*model.Param { return []*model.Param{l.w, l.b} }

func (l *layerNorm) forward(y, x []float32, n int, _ bool, _ *rand.Rand) {
	if cap(l.mean) < n {
		l.mean = make([]float64, n)
		l.rstd = make([]float64, n)
	}
	l.mean, l.rstd = l.mean[:n], l.rstd[:n]
	for i := range n {
		xi := x[i*l.size : (i+1)*l.size]
		yi := y[i*l.size : (i+1)*l.size]
		var sum float64
		for _, v := range xi {
			sum += float64(v)
		}
		mean := sum / float64(l.size)
		var sq float64
		for _, v := range xi {
			d := float64(v) - mean
			sq += d * d
		}
		rstd := 1 / math.Sqrt(sq/float64(l.size)+layerNormEps)
		l.mean[i], l.rstd[i] = mean, rstd
		for j, v := range xi {
			yi[j] = float32((float64(v)-mean)*rstd)*l.w.Data[j] + l.b.Data[j]
		}
	}
}

func (l *layerNorm) backward(dx, dy, x, _ []float32, n int) {
	inv := 1 / float64(l.size)
	for i := range n {
		xi := x[i*l.size : (i+1)*l.size]
		dyi := dy[i*l.size : (i+1)*l.size]
		mean, rstd := l.mean[i], l.rstd[i]
		var sumG, sumGX float64
		for j, v := range xi {
			xhat := (float64(v) - mean) * rstd
			g := float64(dyi[j])
			l.w.Grad[j] += float32(g * xhat)
			l.b.Grad[j] += dyi[j]
			gh := g * float64(l.w.Data[j])
			sumG += gh
			sumGX += gh * xhat
		}
		if dx == nil {
			continue
		}
		dxi := dx[i*l.size : (i+1)*l.size]
		for j, v := range xi {
			xhat := (float64(v) - mean) * rstd
			gh := float64(dyi[j]) * float64(l.w.Data[j])
			dxi[j] = float32(rstd * (gh - inv*sumG - xhat*inv*sumGX))
		}
	}
}

// dropout zeroes each value with probability p during training and scales the others
// by 1/(1-p) (inverted dropout); outside training it is the identity.
type dropout struct {
	size      int
	p         float64
	mask      []float32
	lastTrain bool
}

func (*dropout) params() []*model.Param { return nil }

func (l *dropout) forward(y, x []float32, n int, train bool, r *rand.Rand) {
	x = x[:n*l.size]
	y = y[:len(x)]
	l.lastTrain = train && l.p > 0
	if !l.lastTrain {
		copy(y, x)
		return
	}
	if r == nil {
		panic("layers: dropout in training mode without a random stream")
	}
	if cap(l.mask) < len(x) {
		l.mask = make([]float32, len(x))
	}
	l.mask = l.mask[:len(x)]
	keep := float32(1 / (1 - l.p))
	for i := range l.mask {
		if r.Float64() < l.p {
			l.mask[i] = 0
		} else {
			l.mask[i] = keep
		}
		y[i] = x[i] * l.mask[i]
	}
}

func (l *dropout) backward(dx, dy, _, _ []float32, n int) {
	if dx == nil {
		return
	}
	dy = dy[:n*l.size]
	dx = dx[:len(dy)]
	if !l.lastTrain {
		copy(dx, dy)
		return
	}
	for i, g := range dy {
		dx[i] = g * l.mask[i]
	}
}
