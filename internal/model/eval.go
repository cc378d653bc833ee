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

// Metrics summarises a head's predictions on labelled data.
type Metrics struct {
	Accuracy float64 // fraction of examples whose arg-max logit equals the label
	Loss     float64 // mean softmax cross-entropy
	Correct  []bool  // per example, in input order
}

// Evaluate runs inference on n labelled examples in batches of at most
// batch examples and returns accuracy, mean cross-entropy (summed in
// float64 in example order) and per-example correctness. Ties in the
// arg-max go to the lowest class index. Results do not depend on batch.
func Evaluate(net Network, x []float32, y []int32, n int, head string, batch int) (Metrics, error) {
	if err := CheckBatch(net, x, n, head); err != nil {
		return Metrics{}, err
	}
	if batch < 1 {
		return Metrics{}, fmt.Errorf("model: evaluation batch size %d: use at least 1", batch)
	}
	if len(y) != n {
		return Metrics{}, fmt.Errorf("model: %d labels for %d examples: pass one label per example", len(y), n)
	}
	classes := net.Classes(head)
	if err := CheckLabels(y, n, classes, head); err != nil {
		return Metrics{}, err
	}
	res := Metrics{Correct: make([]bool, n)}
	var lossSum float64
	correct := 0
	size := net.InputSize()
	for i0 := 0; i0 < n; i0 += batch {
		i1 := min(n, i0+batch)
		logits, err := net.Logits(x[i0*size:i1*size], i1-i0, head)
		if err != nil {
			return Metrics{}, err
		}
		for i := i0; i < i1; i++ {
			row := logits[(i-i0)*classes : (i-i0+1)*classes]
			lossSum += ExampleLoss(CrossEntropy, row, y[i])
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if int32(best) == y[i] {
				res.Correct[i] = true
				correct++
			}
		}
	}
	res.Accuracy = float64(correct) / float64(n)
	res.Loss = lossSum / float64(n)
	return res, nil
}
