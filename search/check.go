package search

import (
	"fmt"
	"math"
	"strings"
)

// Checker reports problems of a settings table by key; the checks below
// word their messages the same way for every method.
type Checker func(key, msg string)

// Addf reports a problem at key.
func (c Checker) Addf(key, format string, args ...any) { c(key, fmt.Sprintf(format, args...)) }

// OneOf reports v unless it is one of allowed.
func (c Checker) OneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	var named []string
	for _, a := range allowed {
		if a != "" {
			named = append(named, a)
		}
	}
	c.Addf(key, "unknown value %q: use %s", v, QuoteJoin(named))
}

// PositiveCount reports a negative count; def says what 0 means.
func (c Checker) PositiveCount(key string, v int, def string) {
	if v < 0 {
		c.Addf(key, "%d: give a positive count (0 means %s)", v, def)
	}
}

// FiniteIn reports v outside [lo, hi] or not finite; def says what 0 means.
func (c Checker) FiniteIn(key string, v, lo, hi float64, def string) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		c.Addf(key, "%v: give a number in [%g, %g] (0 means %s)", v, lo, hi, def)
	}
}

// Probability reports an optional probability (whose 0 is a real value)
// outside [0, 1].
func (c Checker) Probability(key string, v *float64) {
	if v != nil && (math.IsNaN(*v) || *v < 0 || *v > 1) {
		c.Addf(key, "%v: give a probability in [0, 1]", *v)
	}
}

// NonNegative reports v < 0 or not finite (0 means the default).
func (c Checker) NonNegative(key string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		c.Addf(key, "%v: give a finite non-negative number (0 means the default)", v)
	}
}

// Finite reports an optional number that is not finite.
func (c Checker) Finite(key string, v *float64) {
	if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
		c.Addf(key, "%v is not a finite number", *v)
	}
}

// QuoteJoin writes `"a", "b" or "c"`.
func QuoteJoin(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// Or returns v, or def when v is empty.
func Or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// DefaultInt sets *v to def when it is 0, DefaultFloat likewise, and
// DefaultPtr sets an absent (nil) pointer to def.
func DefaultInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// DefaultFloat sets *v to def when it is 0.
func DefaultFloat(v *float64, def float64) {
	if *v == 0 {
		*v = def
	}
}

// DefaultPtr sets *p to a pointer to def when it is nil.
func DefaultPtr[T any](p **T, def T) {
	if *p == nil {
		*p = &def
	}
}

// ZeroMeantDefault clears an explicit 0 (for a resolved configuration
// written when 0 stood for the default).
func ZeroMeantDefault[T comparable](p **T) {
	var zero T
	if *p != nil && **p == zero {
		*p = nil
	}
}

// ExplicitRate maps a settings rate onto the method options' convention:
// absent (nil) is 0, their "default"; an explicit 0 is -1, their "never".
func ExplicitRate(v *float64) float64 {
	switch {
	case v == nil:
		return 0
	case *v == 0:
		return -1
	}
	return *v
}
