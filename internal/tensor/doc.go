// Package tensor holds the float32 kernels of evomerge: dense matrix multiplication
// (Gemm) for the neural backend, and the element-wise and selection kernels used to
// merge checkpoints.
//
// Contract:
//
//   - Data are plain []float32 slices in row-major order; matrices are described by
//     their dimensions and a leading dimension (the distance between rows), as in BLAS.
//   - Kernels take the destination first and never allocate in steady state: the caller
//     owns every buffer. Internal scratch space (Gemm's packing buffers) is recycled.
//   - Determinism: a kernel gives bit-identical results whatever GOMAXPROCS is. Parallel
//     kernels split work by output rows or fixed blocks, and every reduction runs in a
//     fixed order that does not depend on how many goroutines take part.
//   - Kernels are safe for concurrent use on disjoint destinations. Gemm runs large
//     products on up to GOMAXPROCS goroutines (the caller plus persistent helpers that
//     are started on first use and stay parked when idle).
//   - Shape mismatches (slices too short for the stated dimensions, negative sizes) are
//     programming errors and panic with a message starting with "tensor:"; kernels do not
//     validate user input, which is checked by the packages that read it.
package tensor
