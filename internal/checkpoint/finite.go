package checkpoint

import "fmt"

// NonFinite counts the NaN and ±Inf values of x and returns the index of
// the first (-1 when every value is finite). It is one pass over x without
// allocation.
func NonFinite(x []float32) (first, count int) {
	first = -1
	for i, v := range x {
		if v-v != 0 { // NaN and ±Inf; v-v is 0 for every finite v
			if first < 0 {
				first = i
			}
			count++
		}
	}
	return first, count
}

// NonFiniteError reports a tensor holding NaN or ±Inf values: the
// checkpoint, the tensor, the first bad element and how many there are.
type NonFiniteError struct {
	Path   string
	Tensor string
	Index  int
	Value  float32
	Count  int
	Total  int
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("checkpoint %s: tensor %q holds %d non-finite values of %d (the first, element %d, is %v): the checkpoint is damaged or its training diverged", e.Path, e.Tensor, e.Count, e.Total, e.Index, e.Value)
}
