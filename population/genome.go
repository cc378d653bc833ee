package population

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
)

// Genome is what a search proposes, as plain data. Exactly one of Values and
// Recipe is set: Values is a point of the search space (in space units, one
// value per dimension), Recipe describes a child built from earlier candidates
// (M2N2-style crossover).
type Genome struct {
	Values []float64 `json:"values,omitempty"`
	Recipe *Recipe   `json:"recipe,omitempty"`
}

// Recipe builds a child from parent candidates with a named crossover
// operator and its numeric parameters (for example a split point and a mixing
// ratio).
type Recipe struct {
	// Operator names the crossover, e.g. "split-slerp".
	Operator string `json:"operator"`
	// Parents are candidate ids, in the order the operator uses them.
	Parents []string `json:"parents"`
	// Params are the operator's parameters by name.
	Params map[string]float64 `json:"params,omitempty"`
}

// VectorGenome returns a coefficient-vector genome holding a copy of x.
func VectorGenome(x []float64) Genome { return Genome{Values: slices.Clone(x)} }

// Clone returns a deep copy.
func (g Genome) Clone() Genome {
	out := Genome{Values: slices.Clone(g.Values)}
	if g.Recipe != nil {
		r := *g.Recipe
		r.Parents = slices.Clone(r.Parents)
		if r.Params != nil {
			r.Params = make(map[string]float64, len(g.Recipe.Params))
			for k, v := range g.Recipe.Params {
				r.Params[k] = v
			}
		}
		out.Recipe = &r
	}
	return out
}

// Equal reports whether two genomes have the same canonical encoding.
func (g Genome) Equal(h Genome) bool {
	a, errA := g.CanonicalJSON()
	b, errB := h.CanonicalJSON()
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// Validate checks that exactly one of Values and Recipe is set, that every
// number is finite, and that a recipe names its operator and parents.
func (g Genome) Validate() error {
	switch {
	case g.Values == nil && g.Recipe == nil:
		return errors.New("population: genome has neither values nor a recipe")
	case g.Values != nil && g.Recipe != nil:
		return errors.New("population: genome has both values and a recipe: give one")
	}
	for i, v := range g.Values {
		if !finite(v) {
			return fmt.Errorf("population: genome value %d is %v: values must be finite", i, v)
		}
	}
	if r := g.Recipe; r != nil {
		if r.Operator == "" {
			return errors.New("population: recipe has no operator name")
		}
		if len(r.Parents) == 0 {
			return fmt.Errorf("population: recipe %q has no parents", r.Operator)
		}
		for i, p := range r.Parents {
			if p == "" {
				return fmt.Errorf("population: recipe %q: parent %d has an empty id", r.Operator, i)
			}
		}
		for k, v := range r.Params {
			if !finite(v) {
				return fmt.Errorf("population: recipe %q: parameter %q is %v: parameters must be finite", r.Operator, k, v)
			}
		}
	}
	return nil
}

// CanonicalJSON is the one encoding of g that identities are computed from:
// no whitespace, object keys in a fixed (sorted) order, numbers written by
// strconv.FormatFloat(x, 'g', -1, 64) (the shortest text that parses back to
// the same float64) with -0 written as 0. Non-finite numbers are an error.
func (g Genome) CanonicalJSON() ([]byte, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	var b []byte
	b = append(b, '{')
	if g.Recipe != nil {
		r := g.Recipe
		b = append(b, `"recipe":{"operator":`...)
		b = appendString(b, r.Operator)
		b = append(b, `,"params":{`...)
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendFloat(b, r.Params[k])
		}
		b = append(b, `},"parents":[`...)
		for i, p := range r.Parents {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p)
		}
		b = append(b, "]}"...)
	} else {
		b = append(b, `"values":[`...)
		for i, v := range g.Values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	return b, nil
}

// appendFloat writes a finite float canonically; -0 is written as 0.
func appendFloat(b []byte, v float64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendString writes s as a JSON string. encoding/json's escaping is
// deterministic, so it is canonical.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // marshalling a string cannot fail
	return append(b, q...)
}

// MarshalJSON writes the canonical encoding, so journals and caches store the
// exact genome identities are computed from.
func (g Genome) MarshalJSON() ([]byte, error) { return g.CanonicalJSON() }

// UnmarshalJSON reads a genome and validates it. Numbers are parsed exactly
// (the canonical form round-trips bit for bit).
func (g *Genome) UnmarshalJSON(data []byte) error {
	var raw struct {
		Values []float64 `json:"values"`
		Recipe *Recipe   `json:"recipe"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("population: decoding genome: %w", err)
	}
	out := Genome{Values: raw.Values, Recipe: raw.Recipe}
	if err := out.Validate(); err != nil {
		return err
	}
	*g = out
	return nil
}

// ID returns a candidate id: the hex sha256 of the canonical JSON object
// {"genome":G,"spec":S,"version":V} where G is the genome's canonical
// encoding, S the evaluation spec (which tasks, splits and metrics) and V the
// evaluator and benchmark version. Equal genomes evaluated the same way get
// equal ids on every machine; any change to the spec or version changes the
// id, so a cache never answers for another benchmark.
func ID(g Genome, evalSpec, version string) (string, error) {
	enc, err := g.CanonicalJSON()
	if err != nil {
		return "", err
	}
	b := make([]byte, 0, len(enc)+len(evalSpec)+len(version)+40)
	b = append(b, `{"genome":`...)
	b = append(b, enc...)
	b = append(b, `,"spec":`...)
	b = appendString(b, evalSpec)
	b = append(b, `,"version":`...)
	b = appendString(b, version)
	b = append(b, '}')
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
