//go:build !amd64

package tensor

// Outside amd64 the merge kernels run their Go loops only.
var vecAVX2 = false

func vecAVX2Supported() bool { return false }

func axpyFast(dst, x []float32, a float32) int                               { return 0 }
func scaleIntoFast(dst, x []float32, a float32) int                          { return 0 }
func axpyDiffFast(acc, x, b []float32, w float32) int                        { return 0 }
func addIntoFast(dst, x, y []float32) int                                    { return 0 }
func electSignFast(sg, v []float32) int                                      { return 0 }
func disjointAccFast(num, den, x, sg []float32, w float32) int               { return 0 }
func maskAboveFast(dst, x []float32, thr float32) int                        { return 0 }
func divOrZeroFast(dst, num, den []float32) int                              { return 0 }
func subIntoFast(dst, x, y []float32) int                                    { return 0 }
func reluFast(dst, x []float32) int                                          { return 0 }
func reluGradFast(dx, dy, x []float32) int                                   { return 0 }
func transposePack8Fast(dst []float32, w int, src []float32, ld, kc int) int { return 0 }
func bracketScanFast(x []float32, lo, hi float32, out []float32) (done, above, m int) {
	return 0, 0, 0
}
