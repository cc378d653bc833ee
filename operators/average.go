package operators

import (
	"errors"
	"fmt"
)

// Averager is implemented by operators that can express plain weight
// averaging of n experts, (1/n)·Σ θi: AverageValues returns the values of
// the searched parameters (searched holds their names) that make the merge
// the average, given the fixed values (a recipe's [params]).
type Averager interface {
	AverageValues(n int, fixed map[string]any, searched map[string]bool) (map[string]float64, error)
}

var (
	_ Averager = linearOp{}
	_ Averager = taskArithmeticOp{}
)

// AverageValues: equal weights 1/n.
func (linearOp) AverageValues(n int, _ map[string]any, searched map[string]bool) (map[string]float64, error) {
	if !searched["weight"] {
		return nil, errors.New(`plain averaging needs linear's weight to be searched`)
	}
	return map[string]float64{"weight": 1 / float64(n)}, nil
}

// AverageValues: θ0 + Σ λ·w_i (θi − θ0) is the average when λ·w_i = 1/n.
func (taskArithmeticOp) AverageValues(n int, fixed map[string]any, searched map[string]bool) (map[string]float64, error) {
	if normalize, _ := fixed["normalize"].(bool); normalize {
		return nil, errors.New(`plain averaging assumes normalize = false for task_arithmetic`)
	}
	switch {
	case searched["weight"] && searched["lambda"]:
		return map[string]float64{"weight": 1 / float64(n), "lambda": 1}, nil
	case searched["weight"]:
		lambda, ok := fixedFloat(fixed, "lambda", 1)
		if !ok || lambda == 0 {
			return nil, errors.New(`plain averaging needs a non-zero scalar merge.params.lambda`)
		}
		return map[string]float64{"weight": 1 / (float64(n) * lambda)}, nil
	case searched["lambda"]:
		if _, given := fixed["weight"]; given {
			return nil, errors.New(`plain averaging needs the default weights (1) when only lambda is searched`)
		}
		return map[string]float64{"lambda": 1 / float64(n)}, nil
	}
	return nil, errors.New(`plain averaging needs weight or lambda to be searched`)
}

// fixedFloat reads a fixed scalar value: def when absent, false when it is
// not a number.
func fixedFloat(fixed map[string]any, name string, def float64) (float64, bool) {
	switch v := fixed[name].(type) {
	case nil:
		return def, true
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// AverageValuesOf is op's AverageValues, or an error naming op when it
// cannot express plain averaging.
func AverageValuesOf(op Operator, n int, fixed map[string]any, searched map[string]bool) (map[string]float64, error) {
	a, ok := op.(Averager)
	if !ok {
		return nil, fmt.Errorf("plain averaging is defined for the operators that can express it (task_arithmetic and linear), not %s", op.Name())
	}
	return a.AverageValues(n, fixed, searched)
}
