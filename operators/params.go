package operators

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Kind is the type of a parameter value.
type Kind string

// Parameter kinds.
const (
	KindFloat  Kind = "float"
	KindInt    Kind = "int"
	KindBool   Kind = "bool"
	KindChoice Kind = "choice"
)

// Scope says whether a parameter has one value per merge or one value per
// expert model.
type Scope string

// Parameter scopes.
const (
	// ScopeGlobal parameters have one value (per tensor) for the whole merge.
	ScopeGlobal Scope = "global"
	// ScopeModel parameters have one value per expert model θ1..θN (per tensor).
	ScopeModel Scope = "model"
)

// ParamSpec describes one operator parameter as data, so configs, recipes and
// search genomes can be validated against it and a search space can be derived
// from it.
type ParamSpec struct {
	Name  string
	Kind  Kind
	Scope Scope
	// Min and Max bound float and int values, both inclusive.
	Min, Max float64
	// Default is the value used when none is given (for every model when the
	// scope is ScopeModel).
	Default Value
	// Choices lists the allowed values of a KindChoice parameter.
	Choices []string
	// Layered is true when the value may differ per layer group or per tensor.
	// Parameters that are not layered may only be given at the default level.
	Layered bool
	// Doc is a one-line description.
	Doc string
}

// Value is one parameter value. Float and int kinds use Float (ints hold an
// integral value), bool kinds use Bool and choice kinds use Choice.
type Value struct {
	Float  float64
	Bool   bool
	Choice string
}

// F returns a float (or int) value.
func F(x float64) Value { return Value{Float: x} }

// I returns an int value.
func I(n int) Value { return Value{Float: float64(n)} }

// B returns a bool value.
func B(b bool) Value { return Value{Bool: b} }

// C returns a choice value.
func C(s string) Value { return Value{Choice: s} }

// Format renders v as the spec's kind, for messages and listings.
func (s ParamSpec) Format(v Value) string {
	switch s.Kind {
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindChoice:
		return strconv.Quote(v.Choice)
	case KindInt:
		return strconv.FormatInt(int64(v.Float), 10)
	default:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	}
}

// Allowed describes the allowed values, e.g. "a float in [0, 1]".
func (s ParamSpec) Allowed() string {
	switch s.Kind {
	case KindBool:
		return "true or false"
	case KindChoice:
		q := make([]string, len(s.Choices))
		for i, c := range s.Choices {
			q[i] = strconv.Quote(c)
		}
		return "one of " + strings.Join(q, ", ")
	case KindInt:
		return "an integer in [" + fmtBound(s.Min) + ", " + fmtBound(s.Max) + "]"
	default:
		return "a float in [" + fmtBound(s.Min) + ", " + fmtBound(s.Max) + "]"
	}
}

func fmtBound(x float64) string {
	switch {
	case math.IsInf(x, 1) || x >= math.MaxInt64:
		return "inf"
	case math.IsInf(x, -1) || x <= math.MinInt64:
		return "-inf"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// Check reports whether v is an allowed value of the parameter. The error names
// the parameter and the allowed range.
func (s ParamSpec) Check(v Value) error {
	switch s.Kind {
	case KindFloat, KindInt:
		if math.IsNaN(v.Float) || v.Float < s.Min || v.Float > s.Max {
			return fmt.Errorf("parameter %q = %s is out of range: want %s", s.Name, s.Format(v), s.Allowed())
		}
		if s.Kind == KindInt && v.Float != math.Trunc(v.Float) {
			return fmt.Errorf("parameter %q = %g is not an integer: want %s", s.Name, v.Float, s.Allowed())
		}
	case KindBool:
	case KindChoice:
		if !slices.Contains(s.Choices, v.Choice) {
			return fmt.Errorf("parameter %q = %q is not allowed: want %s", s.Name, v.Choice, s.Allowed())
		}
	default:
		return fmt.Errorf("parameter %q has unknown kind %q", s.Name, s.Kind)
	}
	return nil
}

// ParseValue converts a decoded config value (float64, int, int64, bool or
// string, as TOML or JSON decoders produce) to a Value of the spec's kind and
// checks it.
func (s ParamSpec) ParseValue(raw any) (Value, error) {
	var v Value
	switch s.Kind {
	case KindFloat, KindInt:
		switch x := raw.(type) {
		case float64:
			v.Float = x
		case float32:
			v.Float = float64(x)
		case int:
			v.Float = float64(x)
		case int64:
			v.Float = float64(x)
		default:
			return Value{}, fmt.Errorf("parameter %q: got %v (%T), want %s", s.Name, raw, raw, s.Allowed())
		}
	case KindBool:
		b, ok := raw.(bool)
		if !ok {
			return Value{}, fmt.Errorf("parameter %q: got %v (%T), want %s", s.Name, raw, raw, s.Allowed())
		}
		v.Bool = b
	case KindChoice:
		str, ok := raw.(string)
		if !ok {
			return Value{}, fmt.Errorf("parameter %q: got %v (%T), want %s", s.Name, raw, raw, s.Allowed())
		}
		v.Choice = str
	}
	return v, s.Check(v)
}

// Values gives parameter values at one level (default, layer group or tensor).
type Values struct {
	// Global maps a parameter name to its value. For a ScopeModel parameter a
	// value given here applies to every model.
	Global map[string]Value
	// Models maps a ScopeModel parameter name to one value per expert model,
	// in model order.
	Models map[string][]Value
}

// Settings are the user-given parameter values of one merge. Precedence,
// highest first: Tensors[name] > Groups[group of the tensor] > Default > the
// ParamSpec defaults.
type Settings struct {
	Default Values
	// Groups maps a layer group name to overrides for every tensor in it.
	Groups map[string]Values
	// Tensors maps a tensor name to overrides for that tensor only.
	Tensors map[string]Values
	// Grouping, when set, is an explicit grouping: group name -> tensor names.
	// A tensor may be in at most one group; tensors in no group take only the
	// default and per-tensor values. When nil, the group of a tensor is
	// checkpoint.LayerGroup(name).
	Grouping map[string][]string
}

// Params are the concrete parameter values of one tensor's merge. Lookups by
// name panic on a name the operator did not declare (a programmer error).
type Params struct {
	specs  []ParamSpec
	values []Value   // indexed like specs; for ScopeModel the value of model 0
	models [][]Value // indexed like specs; per-model values for ScopeModel, nil otherwise
}

func (p *Params) index(name string) int {
	for i := range p.specs {
		if p.specs[i].Name == name {
			return i
		}
	}
	panic("operators: undeclared parameter " + name)
}

// Float returns a global float parameter.
func (p *Params) Float(name string) float64 { return p.values[p.index(name)].Float }

// Int returns a global int parameter.
func (p *Params) Int(name string) int { return int(p.values[p.index(name)].Float) }

// Bool returns a global bool parameter.
func (p *Params) Bool(name string) bool { return p.values[p.index(name)].Bool }

// Choice returns a global choice parameter.
func (p *Params) Choice(name string) string { return p.values[p.index(name)].Choice }

// ModelFloat returns model i's value of a per-model float parameter.
func (p *Params) ModelFloat(name string, i int) float64 {
	k := p.index(name)
	if p.models[k] == nil {
		panic("operators: parameter " + name + " is not per-model")
	}
	return p.models[k][i].Float
}

// NumModels is the number of expert models the values were resolved for.
func (p *Params) NumModels() int {
	for _, m := range p.models {
		if m != nil {
			return len(m)
		}
	}
	return -1
}

// Get returns the value of a global parameter and whether it is declared.
func (p *Params) Get(name string) (Value, bool) {
	for i := range p.specs {
		if p.specs[i].Name == name {
			return p.values[i], true
		}
	}
	return Value{}, false
}

// DefaultParams returns the ParamSpec defaults for a merge of numModels experts.
func DefaultParams(specs []ParamSpec, numModels int) *Params {
	p := &Params{specs: specs, values: make([]Value, len(specs)), models: make([][]Value, len(specs))}
	for i, s := range specs {
		p.values[i] = s.Default
		if s.Scope == ScopeModel {
			m := make([]Value, numModels)
			for j := range m {
				m[j] = s.Default
			}
			p.models[i] = m
		}
	}
	return p
}

// clone copies p so a level of overrides can be applied to it.
func (p *Params) clone() *Params {
	q := &Params{specs: p.specs, values: slices.Clone(p.values), models: make([][]Value, len(p.models))}
	for i, m := range p.models {
		if m != nil {
			q.models[i] = slices.Clone(m)
		}
	}
	return q
}

// apply overlays the values of one level onto p; where is used in errors.
func (p *Params) apply(v Values, where string, layered bool) error {
	for _, name := range sortedKeys(v.Global) {
		k, err := p.lookup(name, where)
		if err != nil {
			return err
		}
		s := p.specs[k]
		if layered && !s.Layered {
			return fmt.Errorf("%s: parameter %q cannot vary per layer group or tensor; give it once at the method level", where, name)
		}
		if _, dup := v.Models[name]; dup {
			return fmt.Errorf("%s: parameter %q is given both as one value and per model; give one of them", where, name)
		}
		val := v.Global[name]
		if err := s.Check(val); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		p.values[k] = val
		for j := range p.models[k] {
			p.models[k][j] = val
		}
	}
	for _, name := range sortedKeys(v.Models) {
		k, err := p.lookup(name, where)
		if err != nil {
			return err
		}
		s := p.specs[k]
		if s.Scope != ScopeModel {
			return fmt.Errorf("%s: parameter %q is global, not per model; give one value", where, name)
		}
		if layered && !s.Layered {
			return fmt.Errorf("%s: parameter %q cannot vary per layer group or tensor; give it once at the method level", where, name)
		}
		vals := v.Models[name]
		if len(vals) != len(p.models[k]) {
			return fmt.Errorf("%s: parameter %q has %d per-model values, want one per expert model (%d)", where, name, len(vals), len(p.models[k]))
		}
		for j, val := range vals {
			if err := s.Check(val); err != nil {
				return fmt.Errorf("%s: model %d: %w", where, j+1, err)
			}
		}
		copy(p.models[k], vals)
		p.values[k] = vals[0]
	}
	return nil
}

func (p *Params) lookup(name, where string) (int, error) {
	for i := range p.specs {
		if p.specs[i].Name == name {
			return i, nil
		}
	}
	known := make([]string, len(p.specs))
	for i, s := range p.specs {
		known[i] = s.Name
	}
	return -1, fmt.Errorf("%s: unknown parameter %q; this method takes %s", where, name, strings.Join(known, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Resolved holds the concrete parameter values of every tensor of a merge.
type Resolved struct {
	def      *Params
	byTensor map[string]*Params
	groupOf  map[string]string
}

// For returns the values of the named tensor (the default-level values for a
// name that was not part of the resolution).
func (r *Resolved) For(tensor string) *Params {
	if p, ok := r.byTensor[tensor]; ok {
		return p
	}
	return r.def
}

// Group returns the layer group a tensor was assigned to ("" for none).
func (r *Resolved) Group(tensor string) string { return r.groupOf[tensor] }

// Resolve validates settings against specs and gives each named tensor its
// concrete values (tensor > group > default > spec default). Every error names
// the level, the parameter and the allowed values. groupOf maps a tensor name
// to its layer group when Settings.Grouping is nil.
func Resolve(specs []ParamSpec, s Settings, tensors []string, numModels int, groupOf func(string) string) (*Resolved, error) {
	def := DefaultParams(specs, numModels)
	if err := def.apply(s.Default, "method parameters", false); err != nil {
		return nil, err
	}
	r := &Resolved{def: def, byTensor: make(map[string]*Params, len(tensors)), groupOf: make(map[string]string, len(tensors))}
	known := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		known[t] = true
	}
	if s.Grouping != nil {
		for _, g := range sortedKeys(s.Grouping) {
			for _, t := range s.Grouping[g] {
				if !known[t] {
					return nil, fmt.Errorf("grouping %q: tensor %q is not in the models", g, t)
				}
				if prev, ok := r.groupOf[t]; ok {
					return nil, fmt.Errorf("grouping: tensor %q is in both group %q and group %q; put it in one", t, prev, g)
				}
				r.groupOf[t] = g
			}
		}
	} else if groupOf != nil {
		for _, t := range tensors {
			r.groupOf[t] = groupOf(t)
		}
	}
	present := make(map[string]bool)
	for _, g := range r.groupOf {
		present[g] = true
	}
	groups := make(map[string]*Params, len(s.Groups))
	for _, g := range sortedKeys(s.Groups) {
		if !present[g] {
			names := sortedKeys(present)
			return nil, fmt.Errorf("layer group %q does not exist; groups are: %s", g, strings.Join(names, ", "))
		}
		gp := def.clone()
		if err := gp.apply(s.Groups[g], "layer group "+strconv.Quote(g), true); err != nil {
			return nil, err
		}
		groups[g] = gp
	}
	for _, t := range sortedKeys(s.Tensors) {
		if !known[t] {
			return nil, fmt.Errorf("tensor %q has parameter overrides but is not in the models", t)
		}
	}
	for _, t := range tensors {
		p := def
		if gp, ok := groups[r.groupOf[t]]; ok {
			p = gp
		}
		if tv, ok := s.Tensors[t]; ok {
			p = p.clone()
			if err := p.apply(tv, "tensor "+strconv.Quote(t), true); err != nil {
				return nil, err
			}
		}
		r.byTensor[t] = p
	}
	return r, nil
}
