package operators

import (
	"fmt"
	"sort"
	"strings"
)

// Registry is an explicit set of operators looked up by name. It is built by
// a constructor from a literal list; nothing registers itself.
type Registry struct {
	ops   map[string]Operator
	order []string
}

// NewRegistry builds a registry from ops, in listing order. Empty or
// duplicate names are an error.
func NewRegistry(ops ...Operator) (*Registry, error) {
	r := &Registry{ops: make(map[string]Operator, len(ops))}
	for _, op := range ops {
		name := op.Name()
		if name == "" {
			return nil, fmt.Errorf("operators: an operator has an empty name")
		}
		if _, dup := r.ops[name]; dup {
			return nil, fmt.Errorf("operators: operator %q is registered twice", name)
		}
		if err := checkSpecs(op); err != nil {
			return nil, err
		}
		r.ops[name] = op
		r.order = append(r.order, name)
	}
	return r, nil
}

// checkSpecs verifies an operator's declared parameters are consistent: unique
// names and defaults inside their own ranges.
func checkSpecs(op Operator) error {
	seen := map[string]bool{}
	for _, s := range op.Params() {
		if seen[s.Name] {
			return fmt.Errorf("operators: %s declares parameter %q twice", op.Name(), s.Name)
		}
		seen[s.Name] = true
		if s.Scope != ScopeGlobal && s.Scope != ScopeModel {
			return fmt.Errorf("operators: %s parameter %q has unknown scope %q", op.Name(), s.Name, s.Scope)
		}
		if err := s.Check(s.Default); err != nil {
			return fmt.Errorf("operators: %s default: %w", op.Name(), err)
		}
	}
	return nil
}

// Builtin returns a registry of every operator of this package. Composite
// names "lines+<method>" (LiNeS over any task-vector method) are resolved by
// Get on demand; "lines" is LiNeS over task arithmetic.
func Builtin() *Registry {
	r, err := NewRegistry(
		Linear(),
		TaskArithmetic(),
		TIES(),
		DARE(),
		DARETIES(),
		SLERP(),
		MultiSLERP(),
		Breadcrumbs(),
		DELLA(),
		ModelStock(),
		Fisher(),
		RegMean(),
		MustLiNeS(TaskArithmetic()),
		PCB(),
		Consensus(),
		M2N2Crossover(),
	)
	if err != nil {
		panic("operators: builtin registry: " + err.Error())
	}
	return r
}

// Get returns the named operator. "lines+<method>" wraps a registered
// task-vector method with LiNeS scaling.
func (r *Registry) Get(name string) (Operator, error) {
	if op, ok := r.ops[name]; ok {
		return op, nil
	}
	if inner, ok := strings.CutPrefix(name, "lines+"); ok {
		base, err := r.Get(inner)
		if err != nil {
			return nil, err
		}
		return LiNeS(base)
	}
	return nil, fmt.Errorf("unknown merge method %q; known methods: %s (and lines+<task-vector method>)", name, strings.Join(r.Names(), ", "))
}

// Names lists the registered names in listing order.
func (r *Registry) Names() []string { return append([]string(nil), r.order...) }

// Info describes one operator for `evomerge methods`.
type Info struct {
	Name         string
	Formula      string
	Params       []ParamSpec
	Requirements Requirements
}

// List describes every registered operator in listing order.
func (r *Registry) List() []Info {
	out := make([]Info, 0, len(r.order))
	for _, name := range r.order {
		op := r.ops[name]
		out = append(out, Info{Name: name, Formula: op.Formula(), Params: op.Params(), Requirements: op.Requirements()})
	}
	return out
}

// SortedNames lists the registered names alphabetically.
func (r *Registry) SortedNames() []string {
	n := r.Names()
	sort.Strings(n)
	return n
}
