package checkpoint

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderBytes is the largest JSON header evomerge accepts, as in the
// reference safetensors implementation; a larger length prefix is taken as a
// corrupt file rather than an allocation request.
const MaxHeaderBytes = 100_000_000

// metadataKey is the reserved header key holding the string-to-string metadata.
const metadataKey = "__metadata__"

// FormatError reports a file that is not valid safetensors (or not a valid
// sharded index). Tensor is empty when the problem is not about one tensor.
type FormatError struct {
	File    string
	Tensor  string
	Problem string
}

func (e *FormatError) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("checkpoint %s: tensor %q: %s", e.File, e.Tensor, e.Problem)
	}
	return fmt.Sprintf("checkpoint %s: %s", e.File, e.Problem)
}

func formatErr(file, tensor, format string, args ...any) error {
	return &FormatError{File: file, Tensor: tensor, Problem: fmt.Sprintf(format, args...)}
}

// TensorInfo describes one tensor: its name, element type and shape.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
}

// NumElements is the product of the dimensions (1 for a scalar, shape []).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// headerEntry is one validated tensor of a parsed header; begin and end are
// byte offsets into the data section.
type headerEntry struct {
	info       TensorInfo
	begin, end int64
}

// parsedHeader is the validated content of a safetensors header.
type parsedHeader struct {
	entries  []headerEntry // canonical name order
	metadata map[string]string
}

// checkHeaderLength validates the 8-byte length prefix of a safetensors file of the
// given size and returns the header length.
func checkHeaderLength(file string, prefix []byte, fileSize int64) (int64, error) {
	if fileSize < 8 {
		return 0, formatErr(file, "", "file is %d bytes, shorter than the 8-byte header length prefix; it is not a safetensors file or it was truncated", fileSize)
	}
	n := binary.LittleEndian.Uint64(prefix)
	if n > MaxHeaderBytes {
		return 0, formatErr(file, "", "header length prefix says %d bytes, above the %d-byte limit; the file is corrupt or not safetensors", n, MaxHeaderBytes)
	}
	if int64(n) > fileSize-8 {
		return 0, formatErr(file, "", "header length prefix says %d bytes but only %d bytes follow it; the file is truncated or corrupt", n, fileSize-8)
	}
	if n < 2 {
		return 0, formatErr(file, "", "header length prefix says %d bytes, too short for a JSON object", n)
	}
	return int64(n), nil
}

// parseHeader validates a safetensors JSON header for a data section of
// dataLen bytes. It enforces the format's rules: UTF-8 text starting with
// '{', one JSON object (trailing spaces allowed), unique names, entries with a
// known dtype, non-negative integer shape and data_offsets [begin, end]
// whose length matches the shape, and offsets that tile the data section
// exactly, without overlaps or holes.
func parseHeader(file string, header []byte, dataLen int64) (*parsedHeader, error) {
	if !utf8.Valid(header) {
		return nil, formatErr(file, "", "header is not valid UTF-8 text; the file is corrupt or not safetensors")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, formatErr(file, "", "header does not start with '{'; the file is corrupt or not safetensors")
	}
	members, err := objectMembers(header)
	if err != nil {
		var dup *duplicateKeyError
		if errors.As(err, &dup) {
			return nil, formatErr(file, dup.key, "the name appears more than once in the header (duplicate names are not allowed)")
		}
		return nil, formatErr(file, "", "header is not a valid JSON object: %v", err)
	}
	h := &parsedHeader{metadata: map[string]string{}}
	h.entries = make([]headerEntry, 0, len(members))
	for _, m := range members {
		if m.key == metadataKey {
			md, err := parseStringMap(m.raw)
			if err != nil {
				return nil, formatErr(file, "", "%s: %v", metadataKey, err)
			}
			h.metadata = md
			continue
		}
		e, err := parseEntry(m.raw)
		if err != nil {
			return nil, formatErr(file, m.key, "%v", err)
		}
		if m.key == "" {
			return nil, formatErr(file, "", "a tensor has an empty name")
		}
		e.info.Name = m.key
		h.entries = append(h.entries, e)
	}
	if err := checkLayout(file, h.entries, dataLen); err != nil {
		return nil, err
	}
	slices.SortFunc(h.entries, func(a, b headerEntry) int { return compareNames(a.info.Name, b.info.Name) })
	return h, nil
}

// checkLayout verifies each entry's byte size and that the entries tile
// [0, dataLen) exactly.
func checkLayout(file string, entries []headerEntry, dataLen int64) error {
	for _, e := range entries {
		if e.end < e.begin {
			return formatErr(file, e.info.Name, "data_offsets [%d, %d] end before they begin", e.begin, e.end)
		}
		if e.end > dataLen {
			return formatErr(file, e.info.Name, "data_offsets [%d, %d] reach past the end of the %d-byte data section; the file is truncated or the header is corrupt", e.begin, e.end, dataLen)
		}
		size := int64(e.info.DType.Size())
		numel, ok := checkedNumElements(e.info.Shape)
		if !ok || numel > math.MaxInt64/size {
			return formatErr(file, e.info.Name, "shape %v is too large", e.info.Shape)
		}
		if want := numel * size; want != e.end-e.begin {
			return formatErr(file, e.info.Name, "shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d bytes", e.info.Shape, e.info.DType, want, e.begin, e.end, e.end-e.begin)
		}
	}
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := entries[i], entries[j]
		if a.begin != b.begin {
			return cmp.Compare(a.begin, b.begin)
		}
		if a.end != b.end {
			return cmp.Compare(a.end, b.end)
		}
		return compareNames(a.info.Name, b.info.Name)
	})
	var covered int64
	prev := ""
	for _, i := range order {
		e := entries[i]
		switch {
		case e.begin < covered:
			return formatErr(file, e.info.Name, "data_offsets [%d, %d] overlap tensor %q, which ends at %d", e.begin, e.end, prev, covered)
		case e.begin > covered:
			return formatErr(file, e.info.Name, "data_offsets [%d, %d] leave bytes [%d, %d) of the data section covered by no tensor; the data section must be tiled without holes", e.begin, e.end, covered, e.begin)
		}
		covered, prev = e.end, e.info.Name
	}
	if covered != dataLen {
		return formatErr(file, "", "the tensors cover %d bytes but the data section holds %d; the file has trailing bytes or the header is corrupt", covered, dataLen)
	}
	return nil
}

// checkedNumElements multiplies the dimensions, reporting a negative
// dimension or a product that does not fit in an int.
func checkedNumElements(shape []int) (int64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt { // MaxInt: element counts are ints
			return 0, false
		}
		n = lo
	}
	return int64(n), true
}

// parseEntry decodes {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
// Unknown fields are ignored, as the reference implementation does.
func parseEntry(raw []byte) (headerEntry, error) {
	var e headerEntry
	if len(raw) == 0 || raw[0] != '{' {
		return e, fmt.Errorf("entry is %s, not a JSON object with dtype, shape and data_offsets", describeJSON(raw))
	}
	members, err := objectMembers(raw)
	if err != nil {
		return e, err
	}
	var haveDType, haveShape, haveOffsets bool
	for _, m := range members {
		switch m.key {
		case "dtype":
			var s string
			if err := json.Unmarshal(m.raw, &s); err != nil {
				return e, fmt.Errorf("dtype is %s, not a string", describeJSON(m.raw))
			}
			d := DType(s)
			if d.Size() == 0 {
				return e, fmt.Errorf("unknown dtype %q (known: F32, F16, BF16, F64, and the integer, bool and F8 types, which open but cannot be read as float32)", s)
			}
			e.info.DType, haveDType = d, true
		case "shape":
			dims, err := parseIntArray(m.raw, "shape")
			if err != nil {
				return e, err
			}
			e.info.Shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return e, fmt.Errorf("shape dimension %d is too large", d)
				}
				e.info.Shape[i] = int(d)
			}
			haveShape = true
		case "data_offsets":
			offs, err := parseIntArray(m.raw, "data_offsets")
			if err != nil {
				return e, err
			}
			if len(offs) != 2 {
				return e, fmt.Errorf("data_offsets has %d values, want [begin, end]", len(offs))
			}
			e.begin, e.end, haveOffsets = offs[0], offs[1], true
		}
	}
	switch {
	case !haveDType:
		return e, errors.New(`entry has no "dtype"`)
	case !haveShape:
		return e, errors.New(`entry has no "shape"`)
	case !haveOffsets:
		return e, errors.New(`entry has no "data_offsets"`)
	}
	return e, nil
}

// parseIntArray decodes a JSON array of non-negative integers that fit int64.
func parseIntArray(raw []byte, what string) ([]int64, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("%s is %s, not an array of non-negative integers", what, describeJSON(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	out := make([]int64, len(items))
	for i, it := range items {
		s := string(it)
		if len(s) > 0 && s[0] == '-' {
			return nil, fmt.Errorf("%s[%d] is negative (%s)", what, i, s)
		}
		if len(s) == 0 || s[0] < '0' || s[0] > '9' {
			return nil, fmt.Errorf("%s[%d] is %s, not a non-negative integer", what, i, describeJSON(it))
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] = %s is not an integer that fits in 64 bits", what, i, s)
		}
		out[i] = v
	}
	return out, nil
}

// parseStringMap decodes a JSON object whose values are all strings,
// rejecting duplicate keys.
func parseStringMap(raw []byte) (map[string]string, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("is %s, not an object of strings", describeJSON(raw))
	}
	members, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(members))
	for _, m := range members {
		var s string
		if len(m.raw) == 0 || m.raw[0] != '"' || json.Unmarshal(m.raw, &s) != nil {
			return nil, fmt.Errorf("value of %q is %s, but metadata values must be strings", m.key, describeJSON(m.raw))
		}
		out[m.key] = s
	}
	return out, nil
}

// describeJSON names the kind of a JSON value for error messages.
func describeJSON(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch c := raw[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	default:
		if len(raw) > 24 {
			raw = raw[:24]
		}
		return "the number " + string(raw)
	}
}

// duplicateKeyError reports a key that occurs twice in one JSON object.
type duplicateKeyError struct{ key string }

func (e *duplicateKeyError) Error() string {
	return fmt.Sprintf("key %q appears more than once", e.key)
}

// member is one key/value pair of a JSON object, value undecoded.
type member struct {
	key string
	raw json.RawMessage
}

// objectMembers decodes one JSON object into its members in file order,
// rejecting duplicate keys (which encoding/json would silently collapse)
// and anything but whitespace after the object.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("expected an object, found %v", tok)
	}
	var out []member
	seen := map[string]struct{}{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("expected an object key, found %v", tok)
		}
		if _, dup := seen[key]; dup {
			return nil, &duplicateKeyError{key: key}
		}
		seen[key] = struct{}{}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("value of %q: %v", key, err)
		}
		out = append(out, member{key: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("unexpected data after the object")
		}
		return nil, fmt.Errorf("after the object: %v", err)
	}
	return out, nil
}
