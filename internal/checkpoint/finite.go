package checkpoint

import (
	"context"
	"fmt"
)

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

// CheckFinite reads every floating-point tensor of r, one at a time into
// one reused buffer (memory bounded by the largest tensor), and returns a
// *NonFiniteError for the first (in canonical order) that holds NaN or
// ±Inf values. Tensors of other dtypes are skipped.
func (r *Reader) CheckFinite(ctx context.Context) error {
	var buf []float32
	for _, name := range r.names {
		if err := ctx.Err(); err != nil {
			return err
		}
		info := r.tensors[name].entry.info
		if !info.DType.Convertible() {
			continue
		}
		n := info.NumElements()
		if cap(buf) < n {
			buf = make([]float32, n)
		}
		buf = buf[:n]
		if err := r.ReadInto(name, buf); err != nil {
			return err
		}
		if first, count := NonFinite(buf); count > 0 {
			return &NonFiniteError{Path: r.path, Tensor: name, Index: first, Value: buf[first], Count: count, Total: n}
		}
	}
	return nil
}
