package tensor

import "math"

// Element-wise loops of the merge kernels. Each runs the vector loop where the
// CPU has one (AVX2 on amd64) and finishes in Go; both give the same bits, as
// every product is rounded before it is added (the explicit float32
// conversions keep the compiler from fusing them into FMAs). Operands have the
// length of the first argument.

// axpy sets dst[i] += a·x[i].
func axpy(dst, x []float32, a float32) {
	x = x[:len(dst)]
	for i := axpyFast(dst, x, a); i < len(dst); i++ {
		dst[i] += float32(a * x[i])
	}
}

// scaleInto sets dst[i] = a·x[i].
func scaleInto(dst, x []float32, a float32) {
	x = x[:len(dst)]
	for i := scaleIntoFast(dst, x, a); i < len(dst); i++ {
		dst[i] = a * x[i]
	}
}

// axpyDiff sets acc[i] += w·(x[i] − b[i]).
func axpyDiff(acc, x, b []float32, w float32) {
	x, b = x[:len(acc)], b[:len(acc)]
	for i := axpyDiffFast(acc, x, b, w); i < len(acc); i++ {
		acc[i] += float32(w * (x[i] - b[i]))
	}
}

// addInto sets dst[i] = x[i] + y[i].
func addInto(dst, x, y []float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := addIntoFast(dst, x, y); i < len(dst); i++ {
		dst[i] = x[i] + y[i]
	}
}

// subInto sets dst[i] = x[i] − y[i].
func subInto(dst, x, y []float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := subIntoFast(dst, x, y); i < len(dst); i++ {
		dst[i] = x[i] - y[i]
	}
}

// electSign sets sg[i] = −1 where v[i] < 0 and +1 elsewhere (NaN elects +1).
// sg may alias v.
func electSign(sg, v []float32) {
	v = v[:len(sg)]
	for i := electSignFast(sg, v); i < len(sg); i++ {
		s := float32(1)
		if v[i] < 0 {
			s = -1
		}
		sg[i] = s
	}
}

// disjointAcc adds the entries w·x[i] that agree with the elected sign sg[i]
// to num and w to den. Agreement is tested branch-free: the bits of
// (w·x[i])·sg[i], read as an int32, are positive (the entry is non-zero with
// the elected sign); disagreeing entries add +0.
func disjointAcc(num, den, x, sg []float32, w float32) {
	n := len(num)
	den, x, sg = den[:n], x[:n], sg[:n]
	wbits := math.Float32bits(w)
	for i := disjointAccFast(num, den, x, sg, w); i < n; i++ {
		v := w * x[i]
		k := int32(math.Float32bits(v * sg[i]))
		mask := uint32((^k & -k) >> 31)
		num[i] += math.Float32frombits(math.Float32bits(v) & mask)
		den[i] += math.Float32frombits(wbits & mask)
	}
}

// maskAbove sets dst[i] = x[i] where |x[i]| > thr and +0 elsewhere (NaN gives
// +0). dst may alias x.
func maskAbove(dst, x []float32, thr float32) {
	x = x[:len(dst)]
	for i := maskAboveFast(dst, x, thr); i < len(dst); i++ {
		keep := abs32(x[i]) > thr
		dst[i] = math.Float32frombits(math.Float32bits(x[i]) & -uint32(b2i(keep)))
	}
}

// divOrZero sets dst[i] = num[i]/den[i] where den[i] != 0 and +0 elsewhere,
// without a branch (den is often zero in a data-dependent pattern).
func divOrZero(dst, num, den []float32) {
	num, den = num[:len(dst)], den[:len(dst)]
	for i := divOrZeroFast(dst, num, den); i < len(dst); i++ {
		q := num[i] / den[i]
		dst[i] = math.Float32frombits(math.Float32bits(q) & -uint32(b2i(den[i] != 0)))
	}
}

// bracketScan counts the entries of x with |x| > hi and appends every |x| with
// lo ≤ |x| ≤ hi to out (which needs len(x) elements), in index order; NaN is
// neither. It returns the count above and the number appended.
func bracketScan(x []float32, lo, hi float32, out []float32) (above, m int) {
	done, above, m := bracketScanFast(x, lo, hi, out)
	for _, v := range x[done:] {
		a := abs32(v)
		above += b2i(a > hi)
		if a >= lo && a <= hi {
			out[m] = a
			m++
		}
	}
	return above, m
}
