package configs

import (
	"encoding"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/evomerge/evomerge/internal/suggest"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string // file name as given to the decoder
	Key  string // dotted key path, "" for file-level problems
	Line int    // 1-based line, 0 when unknown
	Msg  string // what is wrong and how to fix it
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Key != "" {
		fmt.Fprintf(&b, ": %s", p.Key)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	return b.String()
}

// Problems lists every problem found in a configuration; it is the error
// returned by strict decoding and validation, so users fix them all at once.
type Problems []Problem

func (ps Problems) Error() string {
	if len(ps) == 1 {
		return ps[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Err returns ps as an error, or nil when there are no problems.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
	primitiveType       = reflect.TypeFor[toml.Primitive]()
)

// DecodeStrict decodes TOML data into v (a pointer to a struct whose fields
// carry `toml:"name"` tags) and rejects, all at once: syntax errors (with
// line and column), unknown keys (with a suggestion), keys that match a field
// only when case is ignored, and values of the wrong type. Fields of type
// toml.Primitive accept any value; decode them later with
// MetaData.PrimitiveDecode and call CheckUndecoded last.
func DecodeStrict(file string, data []byte, v any) (toml.MetaData, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// ParseError.ErrorWithPosition of toml v1.6.0 panics on some
			// inputs (found by FuzzDecodeStrict), so the excerpt is built here.
			return toml.MetaData{}, Problems{{File: file, Line: pe.Position.Line,
				Msg: "syntax error: " + pe.Message + excerpt(data, pe.Position.Line, pe.Position.Col)}}
		}
		return toml.MetaData{}, Problems{{File: file, Msg: err.Error()}}
	}
	rt := reflect.TypeOf(v)
	if rt == nil || rt.Kind() != reflect.Pointer || rt.Elem().Kind() != reflect.Struct {
		panic("configs: DecodeStrict needs a pointer to a struct")
	}
	lines := newLineIndex(data)
	var problems Problems
	checkTable(raw, rt.Elem(), "", file, lines, &problems)
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return toml.MetaData{}, problems
	}
	md, err := toml.Decode(string(data), v)
	if err != nil {
		return md, Problems{{File: file, Msg: err.Error()}}
	}
	return md, nil
}

// excerpt returns the source line with a caret under column col (both
// 1-based), or "" when the position is outside the text.
func excerpt(data []byte, line, col int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	text := strings.TrimRight(lines[line-1], "\r")
	if col < 1 || col > len(text)+1 {
		return "\n    " + text
	}
	return "\n    " + text + "\n    " + strings.Repeat(" ", col-1) + "^"
}

// CheckUndecoded reports keys that no Go value received: call it after every
// toml.Primitive field has been decoded with md.PrimitiveDecode.
func CheckUndecoded(file string, data []byte, md toml.MetaData) error {
	lines := newLineIndex(data)
	var problems Problems
	for _, key := range md.Undecoded() {
		k := key.String()
		problems = append(problems, Problem{File: file, Key: k, Line: lines.find(key), Msg: "unknown key; check its spelling against the documented parameters"})
	}
	return problems.Err()
}

// openTables is the toml tag of a field that stands for sub-tables of any
// name, each decoded later by the component it names (Search.Table).
const openTables = "*"

// openKeys is the toml tag of a field that stands for the other keys of its
// table, of any name, decoded later by the component the table selects
// (Evaluator.Table).
const openKeys = "+"

// fieldsOf maps the TOML names of a struct's fields to their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
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
		fields[name] = f.Type
	}
	return fields
}

func checkTable(raw map[string]any, t reflect.Type, prefix, file string, lines *lineIndex, problems *Problems) {
	fields := fieldsOf(t)
	for _, key := range sortedKeys(raw) {
		path := joinKey(prefix, key)
		ft, ok := fields[key]
		if key == openTables || key == openKeys {
			ok = false // a marker, not a key
		}
		if _, isTable := raw[key].(map[string]any); !ok && isTable && fields[openTables] != nil {
			continue // a component's own table, decoded by its type
		}
		if !ok && fields[openKeys] != nil {
			continue // a component's own key, decoded by its type
		}
		if !ok {
			named := fields
			if fields[openTables] != nil {
				named = maps.Clone(fields)
				delete(named, openTables)
			}
			*problems = append(*problems, Problem{File: file, Key: path, Line: lines.findPath(path), Msg: unknownKey(key, named)})
			continue
		}
		checkValue(raw[key], ft, path, file, lines, problems)
	}
}

// unknownKey says what is wrong with a key that is not one of the named
// fields: its case, the field it is a misspelling of, or the fields
// allowed.
func unknownKey(key string, named map[string]reflect.Type) string {
	if match := sameIgnoringCase(key, named); match != "" {
		return fmt.Sprintf("keys are case-sensitive: write %q", match)
	}
	if near := nearestKey(key, named); near != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", near)
	}
	return fmt.Sprintf("unknown key; allowed here: %s", strings.Join(sortedKeys(named), ", "))
}

func checkValue(val any, t reflect.Type, path, file string, lines *lineIndex, problems *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(want string) {
		*problems = append(*problems, Problem{File: file, Key: path, Line: lines.findPath(path),
			Msg: fmt.Sprintf("wrong type: want %s, got %s", want, describe(val))})
	}
	switch {
	case t == primitiveType || t.Kind() == reflect.Interface:
		return
	case t == durationType:
		if s, ok := val.(string); ok {
			if _, err := time.ParseDuration(s); err != nil {
				bad(`a duration such as "90s" or "2h30m"`)
			}
			return
		}
		if _, ok := val.(int64); !ok {
			bad(`a duration such as "90s" or "2h30m"`)
		}
		return
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		if _, ok := val.(string); !ok {
			bad("a string")
		}
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		if _, ok := val.(bool); !ok {
			bad("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := val.(int64)
		if !ok {
			bad("an integer")
		} else if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 && n < 0 {
			bad("a non-negative integer")
		}
	case reflect.Float32, reflect.Float64:
		switch val.(type) {
		case float64, int64:
		default:
			bad("a number")
		}
	case reflect.String:
		if _, ok := val.(string); !ok {
			bad("a string")
		}
	case reflect.Slice, reflect.Array:
		switch items := val.(type) {
		case []any:
			for i, item := range items {
				checkValue(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), file, lines, problems)
			}
		case []map[string]any:
			for i, item := range items {
				checkValue(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), file, lines, problems)
			}
		default:
			bad("an array")
		}
	case reflect.Map:
		m, ok := val.(map[string]any)
		if !ok {
			bad("a table")
			return
		}
		for _, k := range sortedKeys(m) {
			checkValue(m[k], t.Elem(), joinKey(path, k), file, lines, problems)
		}
	case reflect.Struct:
		m, ok := val.(map[string]any)
		if !ok {
			bad("a table")
			return
		}
		checkTable(m, t, path, file, lines, problems)
	default:
		panic("configs: unsupported field type " + t.String())
	}
}

func describe(val any) string {
	switch v := val.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("number %g", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", val)
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sameIgnoringCase(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
}

// nearestKey returns the allowed key within edit distance 2 of key, if any.
func nearestKey(key string, fields map[string]reflect.Type) string {
	return suggest.Nearest(key, sortedKeys(fields), 2)
}

// lineIndex finds the line of a dotted key in the source text. The TOML
// decoder does not expose key positions, so the index scans table headers
// and assignments; it handles the layouts configs are written in (tables,
// arrays of tables, dotted keys) and returns 0 when unsure.
type lineIndex struct {
	lines []string
}

var (
	headerRE     = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$`)
	arrayIndexRE = regexp.MustCompile(`\[\d+\]`)
)

func newLineIndex(data []byte) *lineIndex {
	return &lineIndex{lines: strings.Split(string(data), "\n")}
}

func (li *lineIndex) find(key toml.Key) int {
	return li.findPath(strings.Join(key, "."))
}

// findPath locates "a.b.c" (array indices such as "[2]" are ignored): the
// line of the header [a.b.c], or the assignment "c =" inside [a.b], or the
// dotted assignment "b.c =" inside [a].
func (li *lineIndex) findPath(path string) int {
	path = arrayIndexRE.ReplaceAllString(path, "")
	table := ""
	for i, line := range li.lines {
		if m := headerRE.FindStringSubmatch(line); m != nil {
			table = strings.ReplaceAll(m[1], " ", "")
			table = strings.ReplaceAll(table, `"`, "")
			if table == path {
				return i + 1
			}
			continue
		}
		key, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key = strings.ReplaceAll(strings.TrimSpace(key), " ", "")
		key = strings.ReplaceAll(key, `"`, "")
		if key == "" || strings.HasPrefix(key, "#") {
			continue
		}
		if joinKey(table, key) == path {
			return i + 1
		}
	}
	return 0
}
