package data

import (
	"fmt"
	"slices"
)

// Dataset is a labelled image set held in memory.
//
// X holds Len() images of C×H×W float32 pixels each, row-major in N×C×H×W
// order; MNIST-derived datasets keep pixel values in [0, 1]. Y holds one label
// per image in [0, Classes).
type Dataset struct {
	Name    string
	C, H, W int
	Classes int
	X       []float32
	Y       []int32
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Y) }

// Features returns the number of values per example, C*H*W.
func (d *Dataset) Features() int { return d.C * d.H * d.W }

// Shape returns the per-example shape [C, H, W].
func (d *Dataset) Shape() [3]int { return [3]int{d.C, d.H, d.W} }

// Image returns the pixels of example i (a view into X, not a copy).
func (d *Dataset) Image(i int) []float32 {
	f := d.Features()
	return d.X[i*f : (i+1)*f]
}

// Validate checks the dataset is internally consistent: positive shape,
// len(X) == Len()*Features(), and every label in [0, Classes).
func (d *Dataset) Validate() error {
	if d.C <= 0 || d.H <= 0 || d.W <= 0 {
		return fmt.Errorf("data: dataset %q: shape %dx%dx%d must be positive", d.Name, d.C, d.H, d.W)
	}
	if d.Classes <= 0 {
		return fmt.Errorf("data: dataset %q: classes %d must be positive", d.Name, d.Classes)
	}
	if len(d.X) != d.Len()*d.Features() {
		return fmt.Errorf("data: dataset %q: %d pixel values for %d examples of %d features", d.Name, len(d.X), d.Len(), d.Features())
	}
	for i, y := range d.Y {
		if y < 0 || int(y) >= d.Classes {
			return fmt.Errorf("data: dataset %q: label %d of example %d outside [0,%d)", d.Name, y, i, d.Classes)
		}
	}
	return nil
}

// withData returns a dataset with d's shape and classes and the given data.
func (d *Dataset) withData(name string, x []float32, y []int32) *Dataset {
	return &Dataset{Name: name, C: d.C, H: d.H, W: d.W, Classes: d.Classes, X: x, Y: y}
}

// Subset returns a copy holding the examples at the given indices, in that
// order. An index outside [0, Len()) is a programming error and panics.
func (d *Dataset) Subset(indices []int) *Dataset {
	f := d.Features()
	x := make([]float32, len(indices)*f)
	y := make([]int32, len(indices))
	for j, i := range indices {
		copy(x[j*f:(j+1)*f], d.X[i*f:(i+1)*f])
		y[j] = d.Y[i]
	}
	return d.withData(d.Name, x, y)
}

// Head returns a copy of the first n examples (all of them when n <= 0 or
// n >= Len()).
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || n > d.Len() {
		n = d.Len()
	}
	f := d.Features()
	return d.withData(d.Name, slices.Clone(d.X[:n*f]), slices.Clone(d.Y[:n]))
}

// FilterLabels returns a copy holding, in their original order, only the
// examples whose label is one of keep. Classes is unchanged, so a model's
// outputs still index the original labels.
func (d *Dataset) FilterLabels(keep ...int32) *Dataset {
	var indices []int
	for i, y := range d.Y {
		if slices.Contains(keep, y) {
			indices = append(indices, i)
		}
	}
	return d.Subset(indices)
}

// ClassCounts returns how many examples carry each label.
func (d *Dataset) ClassCounts() []int {
	counts := make([]int, d.Classes)
	for _, y := range d.Y {
		if y >= 0 && int(y) < d.Classes {
			counts[y]++
		}
	}
	return counts
}

// Concat joins datasets of the same shape and class count, in argument order.
func Concat(name string, parts ...*Dataset) (*Dataset, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("data: concat %q: no datasets given", name)
	}
	first := parts[0]
	var n int
	for _, p := range parts {
		if p.Shape() != first.Shape() || p.Classes != first.Classes {
			return nil, fmt.Errorf("data: concat %q: dataset %q is %v with %d classes, %q is %v with %d classes",
				name, p.Name, p.Shape(), p.Classes, first.Name, first.Shape(), first.Classes)
		}
		n += p.Len()
	}
	x := make([]float32, 0, n*first.Features())
	y := make([]int32, 0, n)
	for _, p := range parts {
		x = append(x, p.X...)
		y = append(y, p.Y...)
	}
	return first.withData(name, x, y), nil
}
