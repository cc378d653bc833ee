package configs

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// decodeEvaluator decodes the keys of [evaluator] (raw, nil when there is
// no such table) besides the common ones (kind) into the settings of the
// evaluator kind, which cat gives; an absent kind is the catalog's first.
// A key only other kinds' settings have is reported with the kinds that
// use it, or ignored in a resolved configuration (which held every kind's
// keys before kinds owned them). It returns every problem, and the ones of
// values of the wrong type separately (they are left out of the settings,
// so the checks that follow do not report them again as missing).
func (e *Experiment) decodeEvaluator(raw map[string]any, schema Problems, cat Catalog, resolved bool) (ps, typed Problems) {
	for _, p := range schema {
		if p.Key == "evaluator" || p.Key == "evaluator.kind" {
			return nil, nil // no kind to decode for; its problem is reported
		}
	}
	if e.Evaluator.Kind == "" {
		if names := cat.EvaluatorNames(); len(names) > 0 {
			e.Evaluator.Kind = names[0]
		}
	}
	t, known := cat.EvaluatorTable(e.Evaluator.Kind)
	if known {
		e.Evaluator.Table = t
	}
	common := fieldsOf(reflect.TypeFor[Evaluator]())
	delete(common, openKeys)
	// Every kind's keys, and the kinds that use each.
	users := map[string][]string{}
	every := map[string]reflect.Type{}
	for _, name := range cat.EvaluatorNames() {
		other, ok := cat.EvaluatorTable(name)
		if !ok {
			continue
		}
		for k, ft := range fieldsOf(reflect.TypeOf(other.Target()).Elem()) {
			users[k] = append(users[k], name)
			every[k] = ft
		}
	}
	allowed := map[string]reflect.Type{}
	for k, ft := range common {
		allowed[k] = ft
	}
	var targetType reflect.Type
	if !known {
		// Suggest among every kind's keys.
		for k, ft := range every {
			allowed[k] = ft
		}
	} else {
		targetType = reflect.TypeOf(t.Target()).Elem()
		for k, ft := range fieldsOf(targetType) {
			allowed[k] = ft
		}
	}
	own := map[string]any{}
	for _, key := range sortedKeys(raw) {
		if _, ok := common[key]; ok {
			continue // decoded with the experiment
		}
		path := joinKey("evaluator", key)
		var msg string
		_, isOwn := allowed[key]
		switch {
		case known && isOwn:
			own[key] = raw[key]
			continue
		case !known && users[key] != nil:
			continue // whether it belongs depends on the kind, which is reported unknown
		case resolved && users[key] != nil:
			continue // written for every kind by an older evomerge, without effect
		case users[key] != nil:
			msg = fmt.Sprintf("only used by kind = %s (this evaluator is kind = %q): remove it or change the kind", quotedList(users[key], "or"), e.Evaluator.Kind)
		default:
			msg = unknownKey(key, allowed)
			if sameIgnoringCase(key, allowed) == "" && nearestKey(key, allowed) == "" {
				// A misspelling of another kind's key.
				if near := nearestKey(key, every); near != "" {
					msg = fmt.Sprintf("unknown key; did you mean %q (used by kind = %s)?", near, quotedList(users[near], "or"))
				}
			}
		}
		ps = append(ps, Problem{File: e.file, Key: path, Line: e.lines.findPath(path), Msg: msg})
	}
	if !known {
		return ps, nil
	}
	checkTable(own, targetType, "evaluator", e.file, e.lines, &typed)
	ps = append(ps, typed...)
	if len(typed) > 0 {
		// Decode the rest, so its other problems are listed with these.
		decodeWithout(own, "evaluator", typed, t.Target())
		return ps, typed
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(own); err != nil {
		return append(ps, e.Problem("evaluator", err.Error())), typed
	}
	if _, err := toml.Decode(buf.String(), t.Target()); err != nil {
		ps = append(ps, e.Problem("evaluator", err.Error()))
	}
	return ps, typed
}

// target is what the evaluator kind's settings encode from: the table's
// target, or an empty table when the kind is unknown.
func (ev Evaluator) target() any {
	if ev.Table == nil {
		return struct{}{}
	}
	return ev.Table.Target()
}

// quotedList writes names quoted and separated by commas, the last two by
// conj: `"a", "b" or "c"`.
func quotedList(names []string, conj string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conj + " " + q[len(q)-1]
}
