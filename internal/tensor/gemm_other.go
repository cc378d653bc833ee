//go:build !amd64

package tensor

// supportedGemmKernels: only the portable kernel outside amd64.
func supportedGemmKernels() []*gemmKernel { return []*gemmKernel{&kernelGeneric} }
