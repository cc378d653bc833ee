package nats

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
)

// InnerKind is an evaluator kind workers can score with: its name in
// evaluator.kind, whether it needs a built-in benchmark (Benchmark says why,
// "" when it does not), its settings and its factory, as internal/registry
// lists it. Settings (NewSettings) and workers (BuildOptions.Kinds) are
// given the registry's list; this package keeps none of its own.
type InnerKind struct {
	Name        string
	Benchmark   string
	NewSettings func() evaluate.Settings
	New         func(ctx context.Context, s evaluate.Settings, env evaluate.Env) (*evaluate.Built, error)
}

// lookupKind finds the named kind; the error lists the known ones.
func lookupKind(kinds []InnerKind, name string) (InnerKind, error) {
	if len(kinds) == 0 {
		return InnerKind{}, errors.New("no evaluator kinds are known to score with (the caller gives the registry's list)")
	}
	var names []string
	for _, k := range kinds {
		if k.Name == name && name != Kind {
			return k, nil
		}
		if k.Name != Kind {
			names = append(names, fmt.Sprintf("%q", k.Name))
		}
	}
	if name == Kind {
		return InnerKind{}, fmt.Errorf("workers cannot score through NATS themselves: use %s", strings.Join(names, " or "))
	}
	return InnerKind{}, fmt.Errorf("unknown evaluator %q for the workers: use %s", name, strings.Join(names, " or "))
}

// examplesKey is the key of a kind's fitness-examples setting (the kinds
// whose settings are evaluate.ExampleLimiter).
const examplesKey = "examples"

// kindKey names the inner kind in [evaluator.inner].
const kindKey = "kind"

// decodeKindSettings builds the kind's settings from values keyed by TOML
// name (TOML values as configs decodes them, or JSON values read with
// json.Decoder.UseNumber), strictly: every key must be a setting and every
// value of its type. Problems go to report with their key.
func decodeKindSettings(k InnerKind, values map[string]any, report func(key, msg string)) evaluate.Settings {
	s := k.NewSettings()
	decodeStruct(reflect.ValueOf(s).Elem(), values, "", report)
	return s
}

// settingsValues are a kind's settings as TOML values keyed by TOML name:
// what the resolved configuration writes of them.
func settingsValues(s evaluate.Settings) (map[string]any, error) {
	v, err := configs.TableValues(s)
	if err != nil {
		return nil, fmt.Errorf("nats: encode the workers' evaluator settings: %w", err)
	}
	return v, nil
}

// problemsError joins problems as "key: msg" lines.
type problemsError []string

func (p problemsError) Error() string { return strings.Join(p, "; ") }

// collect returns a report function gathering problems under prefix, and
// the error of what it gathered.
func collect(prefix string) (report func(key, msg string), err func() error) {
	var ps problemsError
	return func(key, msg string) {
			ps = append(ps, prefix+key+": "+msg)
		}, func() error {
			if len(ps) == 0 {
				return nil
			}
			return ps
		}
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodeStruct sets the fields of v (a struct whose fields carry toml tags)
// from values, reporting unknown keys and values of the wrong type.
func decodeStruct(v reflect.Value, values map[string]any, prefix string, report func(key, msg string)) {
	fields := map[string]int{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = i
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		i, ok := fields[key]
		if !ok {
			allowed := make([]string, 0, len(fields))
			for k := range fields {
				allowed = append(allowed, k)
			}
			slices.Sort(allowed)
			report(prefix+key, "unknown key; allowed here: "+strings.Join(allowed, ", "))
			continue
		}
		if err := setValue(v.Field(i), values[key], prefix+key, report); err != nil {
			report(prefix+key, err.Error())
		}
	}
}

// setValue stores a TOML or JSON value into v: durations from a string
// ("90s") or a number of nanoseconds, nested tables field by field, the
// rest as encoding/json converts the value.
func setValue(v reflect.Value, val any, key string, report func(key, msg string)) error {
	switch {
	case v.Type() == durationType:
		switch x := val.(type) {
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return fmt.Errorf("wrong type: want a duration such as \"90s\" or \"2h30m\", got %q", x)
			}
			v.SetInt(int64(d))
			return nil
		case int64:
			v.SetInt(x)
			return nil
		case json.Number:
			if n, err := x.Int64(); err == nil {
				v.SetInt(n)
				return nil
			}
		}
		return errors.New(`wrong type: want a duration such as "90s" or "2h30m"`)
	case v.Kind() == reflect.Struct && !reflect.PointerTo(v.Type()).Implements(textUnmarshalerType):
		m, ok := val.(map[string]any)
		if !ok {
			return errors.New("wrong type: want a table")
		}
		decodeStruct(v, m, key+".", report)
		return nil
	}
	b, err := json.Marshal(val)
	if err != nil {
		return fmt.Errorf("unreadable value: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	p := reflect.New(v.Type())
	if err := dec.Decode(p.Interface()); err != nil {
		return fmt.Errorf("wrong type: want %s", describeType(v.Type()))
	}
	v.Set(p.Elem())
	return nil
}

// describeType words a setting's type for messages.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "a table"
	}
	return t.String()
}
