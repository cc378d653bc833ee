package model

import (
	"fmt"
	"strings"
)

// CheckBatch verifies that net has head and that x holds n ≥ 1 examples of
// net's input size. It does not allocate unless it fails.
func CheckBatch(net Network, x []float32, n int, head string) error {
	if net.Classes(head) == 0 {
		return fmt.Errorf("model: network has no head %q (heads: %s)", head, strings.Join(net.Heads(), ", "))
	}
	if n < 1 {
		return fmt.Errorf("model: batch of %d examples: pass at least one", n)
	}
	if size := net.InputSize(); len(x) != n*size {
		return fmt.Errorf("model: input has %d values, want %d examples × %d values (C,H,W = %v) = %d", len(x), n, size, net.Config().InputShape(), n*size)
	}
	return nil
}

// LossAndGrad is net.Backward without the input gradient, in inference
// mode: the mean loss of head on n examples, its gradient left in
// Param.Grad.
func LossAndGrad(net Network, x []float32, n int, head string, y []int32, kind LossKind) (float64, error) {
	loss, _, err := net.Backward(x, n, head, y, kind, Pass{})
	return loss, err
}
