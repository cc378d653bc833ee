package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
)

// Kind says what a dataset's examples are.
type Kind string

// The kinds of examples. The zero Kind is Images.
const (
	// Images are C×H×W float32 values per example, in Dataset.X.
	Images Kind = ""
	// Tokens are sequences of SeqLen token ids per example, in
	// Dataset.Tokens. evomerge has no tokenizer and no model that reads
	// tokens yet: token datasets can be held and checked, not scored.
	Tokens Kind = "tokens"
)

// Dataset is a labelled set of examples held in memory: images (the
// default) or token sequences, with one label per example.
//
// For Images, X holds Len() images of C×H×W float32 pixels each, row-major
// in N×C×H×W order; MNIST-derived datasets keep pixel values in [0, 1]. For
// Tokens, Tokens holds Len() sequences of SeqLen token ids each and X is
// empty. Y holds one label per example in [0, Classes).
type Dataset struct {
	Name    string
	Kind    Kind
	C, H, W int
	Classes int
	X       []float32
	// Tokens and SeqLen hold token sequences (Kind Tokens).
	Tokens []int32
	SeqLen int
	Y      []int32
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Y) }

// Features returns the number of values per example: C*H*W for images,
// SeqLen for token sequences.
func (d *Dataset) Features() int {
	if d.Kind == Tokens {
		return d.SeqLen
	}
	return d.C * d.H * d.W
}

// Shape returns the per-example shape [C, H, W].
func (d *Dataset) Shape() [3]int { return [3]int{d.C, d.H, d.W} }

// Image returns the pixels of example i (a view into X, not a copy).
func (d *Dataset) Image(i int) []float32 {
	f := d.Features()
	return d.X[i*f : (i+1)*f]
}

// Validate checks the dataset is internally consistent: a known kind,
// positive shape, len(X) == Len()*Features() for images (len(Tokens) for
// token sequences, with non-negative ids), and every label in [0, Classes).
func (d *Dataset) Validate() error {
	switch d.Kind {
	case Images:
		if d.C <= 0 || d.H <= 0 || d.W <= 0 {
			return fmt.Errorf("data: dataset %q: shape %dx%dx%d must be positive", d.Name, d.C, d.H, d.W)
		}
		if len(d.X) != d.Len()*d.Features() {
			return fmt.Errorf("data: dataset %q: %d pixel values for %d examples of %d features", d.Name, len(d.X), d.Len(), d.Features())
		}
	case Tokens:
		if d.SeqLen <= 0 {
			return fmt.Errorf("data: dataset %q: sequence length %d must be positive", d.Name, d.SeqLen)
		}
		if len(d.Tokens) != d.Len()*d.SeqLen || len(d.X) != 0 {
			return fmt.Errorf("data: dataset %q: %d token ids and %d pixel values for %d sequences of %d tokens", d.Name, len(d.Tokens), len(d.X), d.Len(), d.SeqLen)
		}
		for i, t := range d.Tokens {
			if t < 0 {
				return fmt.Errorf("data: dataset %q: token id %d at position %d is negative", d.Name, t, i)
			}
		}
	default:
		return fmt.Errorf("data: dataset %q: unknown kind %q: use %q (images, the default) or %q", d.Name, d.Kind, Images, Tokens)
	}
	if d.Classes <= 0 {
		return fmt.Errorf("data: dataset %q: classes %d must be positive", d.Name, d.Classes)
	}
	for i, y := range d.Y {
		if y < 0 || int(y) >= d.Classes {
			return fmt.Errorf("data: dataset %q: label %d of example %d outside [0,%d)", d.Name, y, i, d.Classes)
		}
	}
	return nil
}

// withData returns a dataset with d's kind, shape and classes and the
// given values (x for images, tokens for token sequences) and labels.
func (d *Dataset) withData(name string, x []float32, tokens []int32, y []int32) *Dataset {
	return &Dataset{Name: name, Kind: d.Kind, C: d.C, H: d.H, W: d.W, Classes: d.Classes, X: x, Tokens: tokens, SeqLen: d.SeqLen, Y: y}
}

// withImages is withData for the image transforms.
func (d *Dataset) withImages(name string, x []float32, y []int32) *Dataset {
	return d.withData(name, x, nil, y)
}

// Sequence returns the token ids of example i of a token dataset (a view
// into Tokens, not a copy).
func (d *Dataset) Sequence(i int) []int32 {
	return d.Tokens[i*d.SeqLen : (i+1)*d.SeqLen]
}

// Subset returns a copy holding the examples at the given indices, in that
// order. An index outside [0, Len()) is a programming error and panics.
func (d *Dataset) Subset(indices []int) *Dataset {
	f := d.Features()
	var x []float32
	var tokens []int32
	if d.Kind == Tokens {
		tokens = make([]int32, len(indices)*f)
	} else {
		x = make([]float32, len(indices)*f)
	}
	y := make([]int32, len(indices))
	for j, i := range indices {
		if d.Kind == Tokens {
			copy(tokens[j*f:(j+1)*f], d.Tokens[i*f:(i+1)*f])
		} else {
			copy(x[j*f:(j+1)*f], d.X[i*f:(i+1)*f])
		}
		y[j] = d.Y[i]
	}
	return d.withData(d.Name, x, tokens, y)
}

// Head returns a copy of the first n examples (all of them when n <= 0 or
// n >= Len()).
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || n > d.Len() {
		n = d.Len()
	}
	f := d.Features()
	if d.Kind == Tokens {
		return d.withData(d.Name, nil, slices.Clone(d.Tokens[:n*f]), slices.Clone(d.Y[:n]))
	}
	return d.withData(d.Name, slices.Clone(d.X[:n*f]), nil, slices.Clone(d.Y[:n]))
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

// Concat joins datasets of the same kind, shape (or sequence length) and
// class count, in argument order.
func Concat(name string, parts ...*Dataset) (*Dataset, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("data: concat %q: no datasets given", name)
	}
	first := parts[0]
	var n int
	for _, p := range parts {
		if p.Kind != first.Kind || p.SeqLen != first.SeqLen {
			return nil, fmt.Errorf("data: concat %q: dataset %q holds %s of length %d, %q holds %s of length %d",
				name, p.Name, p.kindName(), p.SeqLen, first.Name, first.kindName(), first.SeqLen)
		}
		if p.Shape() != first.Shape() || p.Classes != first.Classes {
			return nil, fmt.Errorf("data: concat %q: dataset %q is %v with %d classes, %q is %v with %d classes",
				name, p.Name, p.Shape(), p.Classes, first.Name, first.Shape(), first.Classes)
		}
		n += p.Len()
	}
	var x []float32
	var tokens []int32
	if first.Kind == Tokens {
		tokens = make([]int32, 0, n*first.Features())
	} else {
		x = make([]float32, 0, n*first.Features())
	}
	y := make([]int32, 0, n)
	for _, p := range parts {
		x = append(x, p.X...)
		tokens = append(tokens, p.Tokens...)
		y = append(y, p.Y...)
	}
	return first.withData(name, x, tokens, y), nil
}

// kindName names the kind of examples for messages.
func (d *Dataset) kindName() string {
	if d.Kind == Images {
		return "images"
	}
	return string(d.Kind)
}

// Fingerprint identifies the dataset's contents: the first 16 hex digits of
// the SHA-256 of its values (each float32 pixel's bits, or each token id,
// little-endian, in example order) followed by its labels (int32,
// little-endian). Evaluation specs name the data they score on with it.
func (d *Dataset) Fingerprint() string {
	h := sha256.New()
	var b [4]byte
	for _, v := range d.X {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	for _, t := range d.Tokens {
		binary.LittleEndian.PutUint32(b[:], uint32(t))
		h.Write(b[:])
	}
	for _, y := range d.Y {
		binary.LittleEndian.PutUint32(b[:], uint32(y))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
