//go:build amd64

package tensor

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// AVX2 loops in vec_amd64.s; n must be a multiple of 32.
//
//go:noescape
func axpyAVX2(dst, x *float32, n int, a float32)

//go:noescape
func scaleIntoAVX2(dst, x *float32, n int, a float32)

//go:noescape
func axpyDiffAVX2(acc, x, b *float32, n int, w float32)

//go:noescape
func addIntoAVX2(dst, x, y *float32, n int)

//go:noescape
func electSignAVX2(sg, v *float32, n int)

//go:noescape
func disjointAccAVX2(num, den, x, sg *float32, n int, w float32)

//go:noescape
func maskAboveAVX2(dst, x *float32, n int, thr float32)

//go:noescape
func divOrZeroAVX2(dst, num, den *float32, n int)

//go:noescape
func subIntoAVX2(dst, x, y *float32, n int)

//go:noescape
func reluAVX2(dst, x *float32, n int)

//go:noescape
func reluGradAVX2(dx, dy, x *float32, n int)

//go:noescape
func transposePack8AVX2(dst *float32, w int, src *float32, ld int, blocks int)

//go:noescape
func bracketScanAVX2(x *float32, n int, lo, hi float32, out *float32) (above, m int)

// vecAVX2 selects the AVX2 loops of the merge kernels (tests switch it off to
// compare with the Go loops, which give the same bits).
var vecAVX2 = vecAVX2Supported()

func vecAVX2Supported() bool { return cpu.X86.HasAVX2 }

// Each *Fast function runs the AVX2 loop over the longest prefix whose length
// is a multiple of 32 and returns that length (0 without AVX2). The callers
// have checked that every operand has len(dst) elements.

func axpyFast(dst, x []float32, a float32) int {
	n := len(dst) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	axpyAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), n, a)
	return n
}

func scaleIntoFast(dst, x []float32, a float32) int {
	n := len(dst) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	scaleIntoAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), n, a)
	return n
}

func axpyDiffFast(acc, x, b []float32, w float32) int {
	n := len(acc) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	axpyDiffAVX2(unsafe.SliceData(acc), unsafe.SliceData(x), unsafe.SliceData(b), n, w)
	return n
}

func addIntoFast(dst, x, y []float32) int {
	n := len(dst) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	addIntoAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), unsafe.SliceData(y), n)
	return n
}

func electSignFast(sg, v []float32) int {
	n := len(sg) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	electSignAVX2(unsafe.SliceData(sg), unsafe.SliceData(v), n)
	return n
}

func disjointAccFast(num, den, x, sg []float32, w float32) int {
	n := len(num) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	disjointAccAVX2(unsafe.SliceData(num), unsafe.SliceData(den), unsafe.SliceData(x), unsafe.SliceData(sg), n, w)
	return n
}

func maskAboveFast(dst, x []float32, thr float32) int {
	n := len(dst) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	maskAboveAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), n, thr)
	return n
}

func divOrZeroFast(dst, num, den []float32) int {
	n := len(dst) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	divOrZeroAVX2(unsafe.SliceData(dst), unsafe.SliceData(num), unsafe.SliceData(den), n)
	return n
}

func subIntoFast(dst, x, y []float32) int {
	n := len(dst) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	subIntoAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), unsafe.SliceData(y), n)
	return n
}

func reluFast(dst, x []float32) int {
	n := len(dst) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	reluAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), n)
	return n
}

func reluGradFast(dx, dy, x []float32) int {
	n := len(dx) &^ 31
	if !vecAVX2 || n == 0 {
		return 0
	}
	reluGradAVX2(unsafe.SliceData(dx), unsafe.SliceData(dy), unsafe.SliceData(x), n)
	return n
}

// transposePack8Fast packs 8 source lines (line r at src[r*ld:], each at least
// kc long) into dst[p*w+r] for the longest prefix of p that is a multiple of 8,
// and returns that prefix length. dst must hold (kc-1)*w+8 values.
func transposePack8Fast(dst []float32, w int, src []float32, ld, kc int) int {
	blocks := kc / 8
	if !vecAVX2 || blocks == 0 {
		return 0
	}
	_ = src[7*ld+8*blocks-1]
	_ = dst[(8*blocks-1)*w+7]
	transposePack8AVX2(unsafe.SliceData(dst), w, unsafe.SliceData(src), ld, blocks)
	return 8 * blocks
}

// bracketScanFast runs the AVX2 bracket scan over the longest prefix of x whose
// length is a multiple of 8; out must have room for that many values.
func bracketScanFast(x []float32, lo, hi float32, out []float32) (done, above, m int) {
	n := len(x) &^ 7
	if !vecAVX2 || !cpu.X86.HasBMI1 || !cpu.X86.HasPOPCNT || n == 0 {
		return 0, 0, 0
	}
	_ = out[n-1]
	above, m = bracketScanAVX2(unsafe.SliceData(x), n, lo, hi, unsafe.SliceData(out))
	return n, above, m
}
