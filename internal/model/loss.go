package model

import (
	"fmt"
	"math"
)

// LossKind selects the training or adaptation objective computed from a
// head's logits.
type LossKind int

const (
	// CrossEntropy is softmax cross-entropy against integer labels, mean
	// over the batch.
	CrossEntropy LossKind = iota
	// Entropy is the Shannon entropy H(softmax(z)) of the prediction, mean
	// over the batch (natural log). It needs no labels; AdaMerging
	// minimises it on unlabelled inputs.
	Entropy
)

func (k LossKind) String() string {
	switch k {
	case CrossEntropy:
		return "cross-entropy"
	case Entropy:
		return "entropy"
	}
	return fmt.Sprintf("LossKind(%d)", int(k))
}

// CheckLabels verifies that y holds at least n labels, the first n in
// [0, classes).
func CheckLabels(y []int32, n, classes int, head string) error {
	if len(y) < n {
		return fmt.Errorf("model: %d labels for %d examples: pass one label per example", len(y), n)
	}
	for i, v := range y[:n] {
		if v < 0 || int(v) >= classes {
			return fmt.Errorf("model: label %d of example %d is outside head %q's classes [0, %d)", v, i, head, classes)
		}
	}
	return nil
}

// LogSumExp returns log Σ exp(z) in float64, shifted by the maximum so it
// never overflows; the cross-entropy of a row of logits z for class y is
// LogSumExp(z) − z[y].
func LogSumExp(z []float32) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// ExampleLoss returns the loss of one row of logits; for CrossEntropy label
// is the class.
func ExampleLoss(kind LossKind, z []float32, label int32) float64 {
	lse := LogSumExp(z)
	if kind == CrossEntropy {
		return lse - float64(z[label])
	}
	var h float64
	for _, v := range z {
		logp := float64(v) - lse
		h -= math.Exp(logp) * logp
	}
	return h
}

// LossGrad returns the mean loss over n rows of logits z (n × classes) and,
// when dz is not nil, writes dLoss/dz into it. All arithmetic is in float64.
// y holds the labels for CrossEntropy and is not read for Entropy.
func LossGrad(kind LossKind, dz, z []float32, n, classes int, y []int32) float64 {
	var total float64
	invN := 1 / float64(n)
	for i := range n {
		row := z[i*classes : (i+1)*classes]
		lse := LogSumExp(row)
		var label int32
		if kind == CrossEntropy {
			label = y[i]
			total += lse - float64(row[label])
		} else {
			var h float64
			for _, v := range row {
				logp := float64(v) - lse
				h -= math.Exp(logp) * logp
			}
			total += h
			if dz != nil {
				drow := dz[i*classes : (i+1)*classes]
				for j, v := range row {
					logp := float64(v) - lse
					drow[j] = float32(-math.Exp(logp) * (logp + h) * invN)
				}
			}
			continue
		}
		if dz != nil {
			drow := dz[i*classes : (i+1)*classes]
			for j, v := range row {
				p := math.Exp(float64(v) - lse)
				if int32(j) == label {
					p--
				}
				drow[j] = float32(p * invN)
			}
		}
	}
	return total * invN
}
