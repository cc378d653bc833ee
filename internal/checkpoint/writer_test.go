package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// sampleTensors covers a scalar, an empty tensor, several shapes and
// special values, with names whose natural order differs from byte order.
func sampleTensors() []Tensor {
	return []Tensor{
		{Name: "layers.10.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3.25, float32(math.Inf(-1)), 1e-40, float32(math.Copysign(0, -1))}},
		{Name: "layers.2.bias", Shape: []int{3}, Data: []float32{0.1, 0.2, float32(math.NaN())}},
		{Name: "heads.rot90.weight", Shape: []int{1, 2}, Data: []float32{7, 8}},
		{Name: "scale", Shape: []int{}, Data: []float32{0.5}},
		{Name: "empty", Shape: []int{0, 4}, Data: nil},
	}
}

// parsedRaw is a safetensors file decoded independently of the package's
// reader, straight from the bytes.
type parsedRaw struct {
	headerLen int
	header    map[string]json.RawMessage
	order     []string // tensor keys in header order
	data      []byte
}

type rawEntryT struct {
	DType   string  `json:"dtype"`
	Shape   []int   `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// checkByteValid parses path by hand and asserts the layout rules of the
// format as evomerge writes it.
func checkByteValid(t *testing.T, path string, wantDType string) (parsedRaw, map[string]rawEntryT) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 {
		t.Fatalf("file is %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint64(b[:8]))
	if (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not a multiple of 8", 8+n)
	}
	hdr := b[8 : 8+n]
	if hdr[0] != '{' {
		t.Errorf("header starts with %q", hdr[0])
	}
	trimmed := bytes.TrimRight(hdr, " ")
	if trimmed[len(trimmed)-1] != '}' || len(hdr)-len(trimmed) >= 8 {
		t.Errorf("header must end with '}' and fewer than 8 padding spaces: %q", hdr[len(trimmed)-1:])
	}
	p := parsedRaw{headerLen: n, data: b[8+n:]}
	if err := json.Unmarshal(hdr, &p.header); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		var skip json.RawMessage
		dec.Decode(&skip)
		if k != "__metadata__" {
			p.order = append(p.order, k.(string))
		}
	}
	entries := map[string]rawEntryT{}
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	for name, raw := range p.header {
		if name == "__metadata__" {
			continue
		}
		var e rawEntryT
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("entry %s: %v", name, err)
		}
		if e.DType != wantDType {
			t.Errorf("%s: dtype %s, want %s", name, e.DType, wantDType)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			numel *= int64(d)
		}
		if len(e.Offsets) != 2 || e.Offsets[1]-e.Offsets[0] != numel*int64(DType(wantDType).Size()) {
			t.Errorf("%s: offsets %v do not span numel(%v)*size bytes", name, e.Offsets, e.Shape)
		}
		entries[name] = e
		spans = append(spans, span{name, e.Offsets[0], e.Offsets[1]})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var at int64
	for _, s := range spans {
		if s.begin != at {
			t.Errorf("%s starts at %d, want %d (contiguous from 0)", s.name, s.begin, at)
		}
		at = s.end
	}
	if at != int64(len(p.data)) {
		t.Errorf("tensors cover %d bytes, data section is %d", at, len(p.data))
	}
	// Offsets follow the canonical order, and so does the header.
	canon := slices.Clone(p.order)
	SortNames(canon)
	if !slices.Equal(canon, p.order) {
		t.Errorf("header order %v is not canonical %v", p.order, canon)
	}
	for i := 1; i < len(canon); i++ {
		if entries[canon[i]].Offsets[0] != entries[canon[i-1]].Offsets[1] {
			t.Errorf("%s does not follow %s in the data section", canon[i], canon[i-1])
		}
	}
	return p, entries
}

func TestWriteIsByteValidSafetensors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	in := sampleTensors()
	md := map[string]string{"evomerge.spec": `{"arch":"mlp"}`, "format": "pt"}
	if err := Write(path, in, md, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, entries := checkByteValid(t, path, "F32")
	var gotMD map[string]string
	if err := json.Unmarshal(p.header["__metadata__"], &gotMD); err != nil || gotMD["evomerge.spec"] != md["evomerge.spec"] || gotMD["format"] != "pt" {
		t.Errorf("__metadata__ = %s (%v)", p.header["__metadata__"], err)
	}
	if want := []string{"empty", "heads.rot90.weight", "layers.2.bias", "layers.10.weight", "scale"}; !slices.Equal(p.order, want) {
		t.Errorf("header order = %v, want %v", p.order, want)
	}
	for _, tn := range in {
		e := entries[tn.Name]
		if !slices.Equal(e.Shape, tn.Shape) {
			t.Errorf("%s: shape %v, want %v", tn.Name, e.Shape, tn.Shape)
		}
		raw := p.data[e.Offsets[0]:e.Offsets[1]]
		for i, v := range tn.Data {
			if got := binary.LittleEndian.Uint32(raw[4*i:]); got != math.Float32bits(v) {
				t.Errorf("%s[%d] bits %#08x, want %#08x", tn.Name, i, got, math.Float32bits(v))
			}
		}
	}
}

func TestWriteRoundTripF32(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	in := sampleTensors()
	if err := Write(path, in, map[string]string{"k": "v"}, WriteOptions{DType: F32}); err != nil {
		t.Fatal(err)
	}
	got, md, err := LoadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if md["k"] != "v" {
		t.Errorf("metadata = %v", md)
	}
	byName := map[string]Tensor{}
	for _, tn := range in {
		byName[tn.Name] = tn
	}
	var names []string
	for _, tn := range got {
		names = append(names, tn.Name)
		want := byName[tn.Name]
		if !slices.Equal(tn.Shape, want.Shape) {
			t.Errorf("%s: shape %v, want %v", tn.Name, tn.Shape, want.Shape)
		}
		sameBits(t, tn.Name, tn.Data, append([]float32{}, want.Data...))
	}
	if want := []string{"empty", "heads.rot90.weight", "layers.2.bias", "layers.10.weight", "scale"}; !slices.Equal(names, want) {
		t.Errorf("LoadAll order = %v, want %v", names, want)
	}
}

func TestWriteBF16BitPatterns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	// Values and their hand-computed bfloat16 encodings (round to nearest even).
	in := []float32{
		1,                                // 0x3f80
		-2.5,                             // 0xc020
		math.Float32frombits(0x3f808000), // 1+2^-8, a tie: down to even 0x3f80
		math.Float32frombits(0x3f818000), // tie: up to even 0x3f82
		math.Float32frombits(0x3f808001), // above the tie: 0x3f81
		math.MaxFloat32,                  // overflows to +inf 0x7f80
		float32(math.NaN()),              // 0x7fc0
		float32(math.Copysign(0, -1)),    // 0x8000
		3.140625,                         // exactly representable: 0x4049
	}
	want := []uint16{0x3f80, 0xc020, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x7fc0, 0x8000, 0x4049}
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{3, 3}, Data: in}}, nil, WriteOptions{DType: BF16}); err != nil {
		t.Fatal(err)
	}
	p, entries := checkByteValid(t, path, "BF16")
	raw := p.data[entries["w"].Offsets[0]:entries["w"].Offsets[1]]
	for i, w := range want {
		if got := binary.LittleEndian.Uint16(raw[2*i:]); got != w {
			t.Errorf("element %d (%v): bits %#04x, want %#04x", i, in[i], got, w)
		}
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Read("w")
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if math.Float32bits(got[i]) != uint32(w)<<16 {
			t.Errorf("read back element %d = %v, want bf16 %#04x", i, got[i], w)
		}
	}
}

func TestWriteF16RoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	in := []float32{1, 65504, 1e5, float32(math.Ldexp(1, -24)), 0.1}
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{5}, Data: in}}, nil, WriteOptions{DType: F16}); err != nil {
		t.Fatal(err)
	}
	checkByteValid(t, path, "F16")
	got, _, err := LoadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 65504, float32(math.Inf(1)), float32(math.Ldexp(1, -24)), 0.0999755859375}
	sameBits(t, "w", got[0].Data, want)
}

func TestWriteRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		tensors []Tensor
		md      map[string]string
		opt     WriteOptions
		want    string
	}{
		{"wrong length", []Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3}}}, nil, WriteOptions{}, `tensor "w" has shape [2 2] (4 elements) but 3 values`},
		{"negative dim", []Tensor{{Name: "w", Shape: []int{-1}, Data: nil}}, nil, WriteOptions{}, "negative dimension"},
		{"duplicate", []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}, {Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil, WriteOptions{}, "given twice"},
		{"empty name", []Tensor{{Name: "", Shape: []int{1}, Data: []float32{1}}}, nil, WriteOptions{}, "empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, nil, WriteOptions{}, "reserved"},
		{"bad utf8 name", []Tensor{{Name: "w\xff", Shape: []int{1}, Data: []float32{1}}}, nil, WriteOptions{}, "UTF-8"},
		{"bad dtype", []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil, WriteOptions{DType: I64}, `cannot write dtype "I64"`},
		{"bad metadata", []Tensor{}, map[string]string{"k": "\xff"}, WriteOptions{}, "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "out.safetensors")
			err := Write(path, tc.tensors, tc.md, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("a file was left at %s", path)
			}
		})
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

// TestWriteIsAtomic replaces an existing checkpoint and checks no
// temporary file remains; a failing write leaves the old file intact.
func TestWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	old := []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}
	if err := Write(path, old, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}, nil, WriteOptions{}); err == nil {
		t.Fatal("bad write succeeded")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed write changed the existing file")
	}
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{5, 6}}}, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _, err := LoadAll(path)
	if err != nil || !slices.Equal(got[0].Data, []float32{5, 6}) {
		t.Fatalf("LoadAll = %v, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %v, want only m.safetensors", entries)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	// A directory that does not exist is an error, not a panic.
	if err := Write(filepath.Join(dir, "missing", "m.safetensors"), old, nil, WriteOptions{}); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

// TestWriteEscapesNamesAndMetadata round-trips names and metadata that
// need JSON escaping or are not ASCII.
func TestWriteEscapesNamesAndMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	names := []string{`quote"name`, `back\slash`, "tab\tname", "ünï.cödé", "<html>&"}
	var in []Tensor
	for i, n := range names {
		in = append(in, Tensor{Name: n, Shape: []int{1}, Data: []float32{float32(i)}})
	}
	md := map[string]string{`k"ey`: "välue\n", "evomerge.spec": `{"layers":[{"kind":"linear"}]}`}
	if err := Write(path, in, md, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	checkByteValid(t, path, "F32")
	got, gotMD, err := LoadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range got {
		i := slices.Index(names, tn.Name)
		if i < 0 || tn.Data[0] != float32(i) {
			t.Errorf("tensor %q = %v", tn.Name, tn.Data)
		}
	}
	if len(got) != len(names) || gotMD[`k"ey`] != "välue\n" || gotMD["evomerge.spec"] != md["evomerge.spec"] {
		t.Errorf("got %d tensors, metadata %v", len(got), gotMD)
	}
}

// TestWriteAtomicRemovesTempOnFailure makes the fill step fail midway and
// checks that neither the target nor a temporary file remains.
func TestWriteAtomicRemovesTempOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	err := writeAtomic(path, func(f *os.File) error {
		if _, err := f.Write([]byte("partial")); err != nil {
			return err
		}
		return os.ErrDeadlineExceeded // stands in for a disk error
	})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error = %v, want one naming %s", err, path)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}
