package operators

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// RecipeMetadataKey is the __metadata__ key under which a merged checkpoint
// records the recipe that produced it, as Recipe JSON.
const RecipeMetadataKey = "evomerge.recipe"

// Recipe is a complete description of one merge as plain data: the method,
// the inputs and every user-given parameter value, with values as decoded
// from TOML or JSON (bool, int64, float64, string, or []any of them for one
// value per model). It is what `evomerge merge` reads (through configs) and
// what a merged checkpoint records in its metadata.
type Recipe struct {
	Method string        `json:"method"`
	Seed   uint64        `json:"seed"`
	Base   string        `json:"base,omitempty"`
	Models []RecipeModel `json:"models"`
	// Params are method-level values: a scalar (for a per-model parameter the
	// value of every model) or an array of one value per model.
	Params map[string]any `json:"params,omitempty"`
	// Groups and Tensors override Params per layer group and per tensor.
	Groups  map[string]map[string]any `json:"groups,omitempty"`
	Tensors map[string]map[string]any `json:"tensors,omitempty"`
	// Grouping, when set, replaces the block-index layer groups.
	Grouping map[string][]string `json:"grouping,omitempty"`
	// TaskTensors are per-task tensor patterns; empty means DefaultTaskTensors.
	TaskTensors []string `json:"task_tensors,omitempty"`
}

// RecipeModel is one expert θi of a recipe.
type RecipeModel struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Params are this model's method-level values of per-model parameters.
	Params map[string]any `json:"params,omitempty"`
}

// RecipeError is a problem with one recipe key. Key is dotted the way the
// recipe file is written ("params.density", "models[1].params.weight",
// "tensors.layers.2.weight.lambda"), so callers can point at the line.
type RecipeError struct {
	Key string
	Err error
}

func (e *RecipeError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *RecipeError) Unwrap() error { return e.Err }

// RecipeErrors lists every key-level problem of a recipe.
type RecipeErrors []*RecipeError

func (es RecipeErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return fmt.Sprintf("%d problems:\n  %s", len(es), strings.Join(parts, "\n  "))
}

// Settings converts the recipe's parameter values into Settings for op,
// checking every value against op's ParamSpecs: unknown names, wrong types,
// out-of-range values, per-model arrays of the wrong length, values given
// per layer group or tensor for parameters that cannot vary, and a per-model
// parameter given both in [params] and in a model's table. All problems are
// returned at once as RecipeErrors.
func (r *Recipe) Settings(op Operator) (Settings, error) {
	specs := op.Params()
	n := len(r.Models)
	var errs RecipeErrors
	fail := func(key string, format string, args ...any) {
		errs = append(errs, &RecipeError{Key: key, Err: fmt.Errorf(format, args...)})
	}
	s := Settings{Grouping: r.Grouping}
	level := func(prefix string, raw map[string]any, layered bool) Values {
		v := Values{}
		for _, name := range sortedKeys(raw) {
			key := prefix + "." + name
			spec, ok := findSpec(specs, name)
			if !ok {
				fail(key, "%s has no parameter %q; it takes %s", op.Name(), name, specNames(specs))
				continue
			}
			if layered && !spec.Layered {
				fail(key, "parameter %q cannot vary per layer group or tensor; give it once under [params]", name)
				continue
			}
			if arr, isArr := raw[name].([]any); isArr {
				if spec.Scope != ScopeModel {
					fail(key, "parameter %q is global: give one value, not an array", name)
					continue
				}
				if len(arr) != n {
					fail(key, "parameter %q has %d values; give one per model (%d), in [[models]] order", name, len(arr), n)
					continue
				}
				vals := make([]Value, n)
				bad := false
				for i, item := range arr {
					val, err := spec.ParseValue(item)
					if err != nil {
						fail(fmt.Sprintf("%s[%d]", key, i), "%v", err)
						bad = true
					}
					vals[i] = val
				}
				if !bad {
					if v.Models == nil {
						v.Models = map[string][]Value{}
					}
					v.Models[name] = vals
				}
				continue
			}
			val, err := spec.ParseValue(raw[name])
			if err != nil {
				fail(key, "%v", err)
				continue
			}
			if v.Global == nil {
				v.Global = map[string]Value{}
			}
			v.Global[name] = val
		}
		return v
	}
	s.Default = level("params", r.Params, false)

	// Per-model tables feed the method-level per-model values.
	perModel := map[string][]Value{}
	given := map[string][]bool{}
	for i, m := range r.Models {
		for _, name := range sortedKeys(m.Params) {
			key := fmt.Sprintf("models[%d].params.%s", i, name)
			spec, ok := findSpec(specs, name)
			if !ok {
				fail(key, "%s has no parameter %q; it takes %s", op.Name(), name, specNames(specs))
				continue
			}
			if spec.Scope != ScopeModel {
				fail(key, "parameter %q is global, not per model; put it under [params]", name)
				continue
			}
			_, inGlobal := s.Default.Global[name]
			_, inModels := s.Default.Models[name]
			_, inRaw := r.Params[name]
			if inGlobal || inModels || inRaw {
				fail(key, "parameter %q is also given under [params]; give it in one place", name)
				continue
			}
			val, err := spec.ParseValue(m.Params[name])
			if err != nil {
				fail(key, "%v", err)
				continue
			}
			if perModel[name] == nil {
				perModel[name] = make([]Value, n)
				given[name] = make([]bool, n)
			}
			perModel[name][i] = val
			given[name][i] = true
		}
	}
	for _, name := range sortedKeys(perModel) {
		spec, _ := findSpec(specs, name)
		for i, ok := range given[name] {
			if !ok {
				perModel[name][i] = spec.Default // models without a value keep the default
			}
		}
		if s.Default.Models == nil {
			s.Default.Models = map[string][]Value{}
		}
		s.Default.Models[name] = perModel[name]
	}

	if len(r.Groups) > 0 {
		s.Groups = make(map[string]Values, len(r.Groups))
		for _, g := range sortedKeys(r.Groups) {
			s.Groups[g] = level("groups."+g, r.Groups[g], true)
		}
	}
	if len(r.Tensors) > 0 {
		s.Tensors = make(map[string]Values, len(r.Tensors))
		for _, t := range sortedKeys(r.Tensors) {
			s.Tensors[t] = level("tensors."+t, r.Tensors[t], true)
		}
	}
	if len(errs) > 0 {
		return Settings{}, errs
	}
	return s, nil
}

// TaskTensorPatterns returns the recipe's per-task tensor selection.
func (r *Recipe) TaskTensorPatterns() TaskTensors {
	if len(r.TaskTensors) == 0 {
		return DefaultTaskTensors()
	}
	return TaskTensors{Patterns: append([]string(nil), r.TaskTensors...)}
}

// Plan checks the recipe against op and the inputs and returns the merge
// plan (not yet prepared). stats may be nil for data-free methods.
func (r *Recipe) Plan(op Operator, src Source, stats StatsSource) (*Plan, error) {
	if src.NumModels() != len(r.Models) {
		return nil, fmt.Errorf("recipe lists %d models but the source holds %d", len(r.Models), src.NumModels())
	}
	if (r.Base != "") != src.HasBase() {
		return nil, fmt.Errorf("recipe base %q does not match the source (has base: %v)", r.Base, src.HasBase())
	}
	s, err := r.Settings(op)
	if err != nil {
		return nil, err
	}
	tasks := r.TaskTensorPatterns()
	return NewPlan(op, src, s, PlanOptions{Seed: r.Seed, Stats: stats, TaskTensors: &tasks})
}

// JSON renders the recipe as canonical JSON (map keys sorted), the form
// recorded under RecipeMetadataKey.
func (r *Recipe) JSON() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode recipe: %w", err)
	}
	return string(b), nil
}

// RecipeFromMetadata decodes the recipe a merged checkpoint records. ok is
// false when the metadata holds none.
func RecipeFromMetadata(meta map[string]string) (r *Recipe, ok bool, err error) {
	text, ok := meta[RecipeMetadataKey]
	if !ok {
		return nil, false, nil
	}
	r = &Recipe{}
	if err := json.Unmarshal([]byte(text), r); err != nil {
		return nil, true, fmt.Errorf("metadata %s: %w", RecipeMetadataKey, err)
	}
	return r, true, nil
}

// AsRecipeErrors returns the key-level problems inside err, if any.
func AsRecipeErrors(err error) (RecipeErrors, bool) {
	var es RecipeErrors
	if errors.As(err, &es) {
		return es, true
	}
	var e *RecipeError
	if errors.As(err, &e) {
		return RecipeErrors{e}, true
	}
	return nil, false
}

func findSpec(specs []ParamSpec, name string) (ParamSpec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return ParamSpec{}, false
}

func specNames(specs []ParamSpec) string {
	if len(specs) == 0 {
		return "no parameters"
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
