// Package searchspace derives the search space of a merge from an
// operator's parameter specifications: a Spec says which parameters are
// searched, per model and/or per layer group, with bounds that narrow the
// specification's range, and Derive returns the population.Space with a
// Mapping that turns a point of it back into operators.Settings.
// AveragePoint is the point where an operator's merge is plain weight
// averaging, for operators that can express it (operators.Averager).
//
// # Contract
//
//   - Dimensions are ordered by target, then group, then model, and named
//     with DimName ("param", "group/param", "param[model]"), so names are
//     stable keys of a run's dimensions.
//   - A searched value replaces a fixed one at its level; everything else
//     keeps the fixed settings of the Spec, which a point never modifies.
//   - Derive's errors (an unknown parameter, bounds outside the
//     specification's range, a per-model target of a global parameter)
//     name the target and say how to fix it.
package searchspace

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
)

// Target says that one operator parameter is searched, and at which level.
type Target struct {
	// Param is the operator parameter's name.
	Param string
	// PerModel gives every expert model its own dimension; the parameter's
	// scope must be per model. Otherwise one value serves every model.
	PerModel bool
	// Groups lists the layer groups that get their own dimensions; the
	// parameter must be layered. Empty means one value at the default
	// (method) level.
	Groups []string
	// Lower and Upper override the spec's range for float and int
	// parameters; both must lie inside it. nil keeps the spec's bound, which
	// must then be finite.
	Lower, Upper *float64
}

// Spec describes what is searched: plain data that the config layer
// fills in and Derive checks against the operator's parameter specs.
type Spec struct {
	// Operator names the operator, for messages.
	Operator string
	// Models names the expert models θ1..θN in model order. Their number is
	// the number of per-model values; names appear in dimension names.
	Models []string
	// Targets are the searched parameters. A parameter may appear in several
	// targets only at different levels (different groups, or default level
	// once).
	Targets []Target
	// Fixed holds values that are not searched; the genome's values are laid
	// over a copy of it.
	Fixed operators.Settings
}

// binding ties a dimension to where its value goes in operators.Settings.
type binding struct {
	spec  operators.ParamSpec
	group string // "" for the default level
	model int    // -1 for one value for every model
}

// Mapping turns points of a derived space back into operators.Settings. It is
// immutable and safe for concurrent use.
type Mapping struct {
	space     *population.Space
	bindings  []binding
	numModels int
	fixed     operators.Settings
}

// population.Space returns the space the mapping was derived with.
func (m *Mapping) Space() *population.Space { return m.space }

// DimName is the canonical name of a searched value: "param" at the default
// level, "group/param" for a layer group, with "[model]" appended for a
// per-model value.
func DimName(param, group, model string) string {
	name := param
	if group != "" {
		name = group + "/" + name
	}
	if model != "" {
		name += "[" + model + "]"
	}
	return name
}

// Derive builds the search space described by spec from the operator's
// parameter specs, and the Mapping that turns its points into Settings.
// Dimensions come in target order; within a target, default level or groups in
// the given order, and models in model order. Bool parameters become choice
// dimensions over {"false", "true"}. Every problem is reported at once.
func Derive(specs []operators.ParamSpec, spec Spec) (*population.Space, *Mapping, error) {
	op := spec.Operator
	if op == "" {
		op = "the operator"
	}
	if len(spec.Targets) == 0 {
		return nil, nil, fmt.Errorf("population: nothing of %s is searched: list at least one parameter to search", op)
	}
	byName := make(map[string]operators.ParamSpec, len(specs))
	for _, s := range specs {
		byName[s.Name] = s
	}
	var (
		dims     []population.Dim
		bindings []binding
		errs     []error
		levels   = map[string]bool{} // param + "\x00" + group
	)
	for ti, t := range spec.Targets {
		where := fmt.Sprintf("search target %d (parameter %q of %s)", ti, t.Param, op)
		ps, ok := byName[t.Param]
		if !ok {
			names := make([]string, len(specs))
			for i, s := range specs {
				names[i] = s.Name
			}
			errs = append(errs, fmt.Errorf("population: %s: unknown parameter; %s takes %s", where, op, strings.Join(names, ", ")))
			continue
		}
		if t.PerModel && ps.Scope != operators.ScopeModel {
			errs = append(errs, fmt.Errorf("population: %s: the parameter is global, not per model: drop per-model search for it", where))
			continue
		}
		if t.PerModel && len(spec.Models) == 0 {
			errs = append(errs, fmt.Errorf("population: %s: per-model search needs the list of expert models", where))
			continue
		}
		if len(t.Groups) > 0 && !ps.Layered {
			errs = append(errs, fmt.Errorf("population: %s: the parameter cannot vary per layer group: search it at the method level", where))
			continue
		}
		base, err := dimForSpec(ps, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("population: %s: %w", where, err))
			continue
		}
		groups := t.Groups
		if len(groups) == 0 {
			groups = []string{""}
		}
		for _, g := range groups {
			if len(t.Groups) > 0 && strings.TrimSpace(g) == "" {
				errs = append(errs, fmt.Errorf("population: %s: empty layer group name", where))
				continue
			}
			key := t.Param + "\x00" + g
			if levels[key] {
				errs = append(errs, fmt.Errorf("population: %s: searched twice at level %s: list it once", where, levelName(g)))
				continue
			}
			levels[key] = true
			if !t.PerModel {
				d := base
				d.Name = DimName(t.Param, g, "")
				dims = append(dims, d)
				bindings = append(bindings, binding{spec: ps, group: g, model: -1})
				continue
			}
			for mi, model := range spec.Models {
				d := base
				d.Name = DimName(t.Param, g, model)
				dims = append(dims, d)
				bindings = append(bindings, binding{spec: ps, group: g, model: mi})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	space, err := population.NewSpace(dims)
	if err != nil {
		return nil, nil, err
	}
	return space, &Mapping{space: space, bindings: bindings, numModels: len(spec.Models), fixed: cloneSettings(spec.Fixed)}, nil
}

func levelName(group string) string {
	if group == "" {
		return "the method level"
	}
	return "layer group " + fmt.Sprintf("%q", group)
}

// dimForSpec makes the dimension (without its name) for one parameter.
func dimForSpec(ps operators.ParamSpec, t Target) (population.Dim, error) {
	switch ps.Kind {
	case operators.KindBool:
		if t.Lower != nil || t.Upper != nil {
			return population.Dim{}, errors.New("bounds do not apply to a bool parameter: remove them")
		}
		def := 0.0
		if ps.Default.Bool {
			def = 1
		}
		return population.Dim{Kind: population.KindChoice, Choices: []string{"false", "true"}, Default: def}, nil
	case operators.KindChoice:
		if t.Lower != nil || t.Upper != nil {
			return population.Dim{}, errors.New("bounds do not apply to a choice parameter: remove them")
		}
		def := slices.Index(ps.Choices, ps.Default.Choice)
		if def < 0 {
			def = 0
		}
		return population.Dim{Kind: population.KindChoice, Choices: slices.Clone(ps.Choices), Default: float64(def)}, nil
	case operators.KindFloat, operators.KindInt:
	default:
		return population.Dim{}, fmt.Errorf("unknown parameter kind %q", ps.Kind)
	}
	lo, hi := ps.Min, ps.Max
	if t.Lower != nil {
		if *t.Lower < ps.Min || *t.Lower > ps.Max || math.IsNaN(*t.Lower) {
			return population.Dim{}, fmt.Errorf("lower bound %s is outside the parameter's range: want %s", fmtFloat(*t.Lower), ps.Allowed())
		}
		lo = *t.Lower
	}
	if t.Upper != nil {
		if *t.Upper < ps.Min || *t.Upper > ps.Max || math.IsNaN(*t.Upper) {
			return population.Dim{}, fmt.Errorf("upper bound %s is outside the parameter's range: want %s", fmtFloat(*t.Upper), ps.Allowed())
		}
		hi = *t.Upper
	}
	if !finite(lo) || !finite(hi) || math.Abs(lo) >= math.MaxInt64 || math.Abs(hi) >= math.MaxInt64 {
		return population.Dim{}, fmt.Errorf("the range [%s, %s] is unbounded: give finite lower and upper bounds", fmtFloat(lo), fmtFloat(hi))
	}
	if lo > hi {
		return population.Dim{}, fmt.Errorf("lower bound %s is above upper bound %s: swap them", fmtFloat(lo), fmtFloat(hi))
	}
	kind := population.KindFloat
	if ps.Kind == operators.KindInt {
		kind = population.KindInt
		if lo != math.Trunc(lo) || hi != math.Trunc(hi) {
			return population.Dim{}, fmt.Errorf("bounds [%s, %s] of an int parameter must be integers", fmtFloat(lo), fmtFloat(hi))
		}
	}
	def := min(max(ps.Default.Float, lo), hi)
	return population.Dim{Kind: kind, Lower: lo, Upper: hi, Default: def}, nil
}

// Settings lays the values of point x (a point of the mapping's space, in
// space units) over the fixed settings and returns the result, ready for
// operators.Resolve. At each level a searched value replaces a fixed value of
// the same parameter; per-model values replace a single value and fill every
// model. The error names the dimension of an invalid value.
func (m *Mapping) Settings(x []float64) (operators.Settings, error) {
	if err := m.space.Validate(x); err != nil {
		return operators.Settings{}, err
	}
	out := cloneSettings(m.fixed)
	for i, b := range m.bindings {
		lvl := levelOf(&out, b.group)
		v := valueOf(b.spec, x[i])
		name := b.spec.Name
		if b.model < 0 {
			delete(lvl.Models, name)
			lvl.Global[name] = v
			continue
		}
		vals, ok := lvl.Models[name]
		if !ok || len(vals) != m.numModels {
			fill := b.spec.Default
			if g, ok := lvl.Global[name]; ok {
				fill = g
			}
			vals = make([]operators.Value, m.numModels)
			for j := range vals {
				vals[j] = fill
			}
			lvl.Models[name] = vals
		}
		delete(lvl.Global, name)
		vals[b.model] = v
	}
	return out, nil
}

// GenomeSettings is Settings for a coefficient-vector genome. A recipe
// genome is an error: it is materialised by its crossover operator from its
// parents, not through a Mapping.
func (m *Mapping) GenomeSettings(g population.Genome) (operators.Settings, error) {
	if g.Recipe != nil {
		return operators.Settings{}, fmt.Errorf("population: genome is a %q recipe, not a coefficient vector: build it from its parents with that crossover", g.Recipe.Operator)
	}
	return m.Settings(g.Values)
}

// valueOf converts a dimension value to an operator parameter value.
func valueOf(ps operators.ParamSpec, v float64) operators.Value {
	switch ps.Kind {
	case operators.KindBool:
		return operators.B(v == 1)
	case operators.KindChoice:
		return operators.C(ps.Choices[int(v)])
	}
	return operators.F(v)
}

// levelOf returns the Values of a level, creating its maps.
func levelOf(s *operators.Settings, group string) *operators.Values {
	var v operators.Values
	if group == "" {
		v = s.Default
	} else {
		if s.Groups == nil {
			s.Groups = map[string]operators.Values{}
		}
		v = s.Groups[group]
	}
	if v.Global == nil {
		v.Global = map[string]operators.Value{}
	}
	if v.Models == nil {
		v.Models = map[string][]operators.Value{}
	}
	if group == "" {
		s.Default = v
		return &s.Default
	}
	s.Groups[group] = v
	// Values holds maps only, so the copy in the map shares them with v.
	return &v
}

func cloneValues(v operators.Values) operators.Values {
	out := operators.Values{Global: maps.Clone(v.Global)}
	if v.Models != nil {
		out.Models = make(map[string][]operators.Value, len(v.Models))
		for k, vals := range v.Models {
			out.Models[k] = slices.Clone(vals)
		}
	}
	return out
}

func cloneSettings(s operators.Settings) operators.Settings {
	out := operators.Settings{Default: cloneValues(s.Default)}
	if s.Groups != nil {
		out.Groups = make(map[string]operators.Values, len(s.Groups))
		for g, v := range s.Groups {
			out.Groups[g] = cloneValues(v)
		}
	}
	if s.Tensors != nil {
		out.Tensors = make(map[string]operators.Values, len(s.Tensors))
		for t, v := range s.Tensors {
			out.Tensors[t] = cloneValues(v)
		}
	}
	if s.Grouping != nil {
		out.Grouping = make(map[string][]string, len(s.Grouping))
		for g, names := range s.Grouping {
			out.Grouping[g] = slices.Clone(names)
		}
	}
	return out
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
func finite(x float64) bool     { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// AveragePoint is the point of space where op's merge of n experts is
// plain weight averaging (operators.Averager), with the fixed values of
// the merge's [params]; the other dimensions keep their defaults.
func AveragePoint(space *population.Space, op operators.Operator, fixed map[string]any, n int) ([]float64, error) {
	x := space.Defaults()
	param := func(name string) string {
		name, _, _ = strings.Cut(name, "[")
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		return name
	}
	searched := map[string]bool{}
	for i := range x {
		searched[param(space.Dim(i).Name)] = true
	}
	want, err := operators.AverageValuesOf(op, n, fixed, searched)
	if err != nil {
		return nil, err
	}
	for i := range x {
		d := space.Dim(i)
		v, ok := want[param(d.Name)]
		if !ok {
			continue
		}
		if v < d.Lower || v > d.Upper || math.IsNaN(v) {
			return nil, fmt.Errorf("plain averaging needs %s = %g, outside its bounds [%g, %g]: widen the bounds", d.Name, v, d.Lower, d.Upper)
		}
		x[i] = v
	}
	return x, nil
}
