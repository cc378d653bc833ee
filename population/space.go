package population

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a search dimension.
type Kind string

// Dimension kinds.
const (
	// KindFloat is a real value in [Lower, Upper].
	KindFloat Kind = "float"
	// KindInt is an integer in [Lower, Upper].
	KindInt Kind = "int"
	// KindChoice is an index into Choices; Lower is 0 and Upper len(Choices)-1.
	KindChoice Kind = "choice"
)

// Dim is one named, bounded dimension of a search space. Values of every kind
// are float64: int values are integral, choice values are indexes into
// Choices.
type Dim struct {
	Name    string   `json:"name"`
	Kind    Kind     `json:"kind"`
	Lower   float64  `json:"lower"`
	Upper   float64  `json:"upper"`
	Choices []string `json:"choices,omitempty"`
	// Default is the value used when a search starts from defaults.
	Default float64 `json:"default"`
}

// levels is the number of distinct values of an int or choice dimension.
func (d *Dim) levels() float64 { return d.Upper - d.Lower + 1 }

// Space is an ordered list of named dimensions. A point of the space is a
// []float64 with one value per dimension, in order. Build one with NewSpace;
// a Space is immutable afterwards and safe for concurrent use.
type Space struct {
	dims  []Dim
	index map[string]int
}

// NewSpace validates dims and returns a space over them. Every problem is
// reported at once, each naming its dimension.
func NewSpace(dims []Dim) (*Space, error) {
	if len(dims) == 0 {
		return nil, errors.New("population: the search space has no dimensions: search at least one parameter")
	}
	s := &Space{dims: make([]Dim, len(dims)), index: make(map[string]int, len(dims))}
	var errs []error
	for i, d := range dims {
		d.Choices = append([]string(nil), d.Choices...)
		if d.Kind == KindChoice {
			d.Lower, d.Upper = 0, float64(len(d.Choices)-1)
		}
		if err := checkDim(&d); err != nil {
			errs = append(errs, fmt.Errorf("population: dimension %d %q: %w", i, d.Name, err))
		}
		if j, dup := s.index[d.Name]; dup {
			errs = append(errs, fmt.Errorf("population: dimensions %d and %d are both named %q: names must be unique", j, i, d.Name))
		}
		s.index[d.Name] = i
		s.dims[i] = d
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func checkDim(d *Dim) error {
	if strings.TrimSpace(d.Name) == "" {
		return errors.New("empty name: give every dimension a name")
	}
	switch d.Kind {
	case KindFloat, KindInt:
		if !finite(d.Lower) || !finite(d.Upper) {
			return fmt.Errorf("bounds [%v, %v] must be finite: give explicit lower and upper bounds", d.Lower, d.Upper)
		}
		if d.Lower > d.Upper {
			return fmt.Errorf("lower bound %v is above upper bound %v: swap them", d.Lower, d.Upper)
		}
		if d.Kind == KindInt && (d.Lower != math.Trunc(d.Lower) || d.Upper != math.Trunc(d.Upper)) {
			return fmt.Errorf("int bounds [%v, %v] must be integers", d.Lower, d.Upper)
		}
	case KindChoice:
		if len(d.Choices) == 0 {
			return errors.New("a choice dimension needs at least one choice")
		}
		seen := make(map[string]bool, len(d.Choices))
		for _, c := range d.Choices {
			if seen[c] {
				return fmt.Errorf("choice %q is listed twice", c)
			}
			seen[c] = true
		}
	default:
		return fmt.Errorf("unknown kind %q: use %q, %q or %q", d.Kind, KindFloat, KindInt, KindChoice)
	}
	if err := d.check(d.Default); err != nil {
		return fmt.Errorf("default: %w", err)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// check reports whether v is a valid value of d.
func (d *Dim) check(v float64) error {
	if math.IsNaN(v) || v < d.Lower || v > d.Upper {
		return fmt.Errorf("value %s is outside [%s, %s]", fmtFloat(v), fmtFloat(d.Lower), fmtFloat(d.Upper))
	}
	if d.Kind != KindFloat && v != math.Trunc(v) {
		return fmt.Errorf("value %s is not an integer (kind %s)", fmtFloat(v), d.Kind)
	}
	return nil
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// Len is the number of dimensions.
func (s *Space) Len() int { return len(s.dims) }

// Dim returns dimension i.
func (s *Space) Dim(i int) Dim {
	d := s.dims[i]
	d.Choices = append([]string(nil), d.Choices...)
	return d
}

// Dims returns a copy of the dimensions.
func (s *Space) Dims() []Dim {
	out := make([]Dim, len(s.dims))
	for i := range s.dims {
		out[i] = s.Dim(i)
	}
	return out
}

// Index returns the position of the named dimension.
func (s *Space) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// Defaults returns the default point.
func (s *Space) Defaults() []float64 {
	x := make([]float64, len(s.dims))
	for i := range s.dims {
		x[i] = s.dims[i].Default
	}
	return x
}

// Validate checks that x is a point of the space: one value per dimension,
// each in range and integral for int and choice dimensions. The error names
// the first offending dimension.
func (s *Space) Validate(x []float64) error {
	if len(x) != len(s.dims) {
		return fmt.Errorf("population: point has %d values, the space has %d dimensions", len(x), len(s.dims))
	}
	for i := range s.dims {
		if err := s.dims[i].check(x[i]); err != nil {
			return fmt.Errorf("population: dimension %q: %w", s.dims[i].Name, err)
		}
	}
	return nil
}

// ClampTo writes the nearest point of the space to x into dst and returns
// dst: values are clamped into their bounds, int and choice values rounded to
// the nearest integer, NaN replaced by the default. dst may alias x. It panics
// if the lengths differ from the space's (a programmer error).
func (s *Space) ClampTo(dst, x []float64) []float64 {
	s.checkLen(dst, x)
	for i := range s.dims {
		d := &s.dims[i]
		v := x[i]
		switch {
		case math.IsNaN(v):
			v = d.Default
		case d.Kind != KindFloat:
			v = math.RoundToEven(v)
		}
		dst[i] = min(max(v, d.Lower), d.Upper)
	}
	return dst
}

// EncodeTo maps a point of the space into the unit cube [0, 1]^n and returns
// dst. Float dimensions map linearly (a dimension with Lower = Upper maps to
// 0.5). An int or choice dimension with k levels splits [0, 1] into k equal
// cells and maps level j to the centre of cell j, so DecodeTo(EncodeTo(x)) = x
// and uniform unit samples give uniform levels. Values are clamped first. dst
// may alias x.
func (s *Space) EncodeTo(dst, x []float64) []float64 {
	s.checkLen(dst, x)
	for i := range s.dims {
		d := &s.dims[i]
		v := x[i]
		if math.IsNaN(v) {
			v = d.Default
		}
		v = min(max(v, d.Lower), d.Upper)
		switch {
		case d.Kind != KindFloat:
			dst[i] = (math.RoundToEven(v) - d.Lower + 0.5) / d.levels()
		case d.Upper == d.Lower:
			dst[i] = 0.5
		default:
			dst[i] = (v - d.Lower) / (d.Upper - d.Lower)
		}
	}
	return dst
}

// DecodeTo maps a unit-cube point to the space and returns dst. Unit values
// are clamped into [0, 1] first (NaN becomes the default), so every decoded
// point is valid. dst may alias u.
func (s *Space) DecodeTo(dst, u []float64) []float64 {
	s.checkLen(dst, u)
	for i := range s.dims {
		d := &s.dims[i]
		t := u[i]
		if math.IsNaN(t) {
			dst[i] = d.Default
			continue
		}
		t = min(max(t, 0), 1)
		if d.Kind != KindFloat {
			k := d.levels()
			dst[i] = d.Lower + min(math.Floor(t*k), k-1)
			continue
		}
		v := d.Lower + t*(d.Upper-d.Lower)
		dst[i] = min(max(v, d.Lower), d.Upper)
	}
	return dst
}

// Decode returns DecodeTo into a fresh slice.
func (s *Space) Decode(u []float64) []float64 {
	return s.DecodeTo(make([]float64, len(u)), u)
}

// Encode returns EncodeTo into a fresh slice.
func (s *Space) Encode(x []float64) []float64 {
	return s.EncodeTo(make([]float64, len(x)), x)
}

func (s *Space) checkLen(dst, x []float64) {
	if len(dst) != len(s.dims) || len(x) != len(s.dims) {
		panic("population: point length does not match the space")
	}
}
