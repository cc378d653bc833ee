package checkpoint

import (
	"errors"
	"testing"
)

// FuzzParseHeader feeds arbitrary headers and data-section lengths to the
// header parser: it must never panic, must fail only with a *FormatError,
// and whatever it accepts must satisfy the layout rules.
func FuzzParseHeader(f *testing.F) {
	seeds := []struct {
		header string
		data   int64
	}{
		{`{}`, 0},
		{`{"__metadata__":{"format":"pt"}}   `, 0},
		{`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8},
		{`{"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[],"data_offsets":[8,10]}}`, 10},
		{`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, 8},
		{`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8},
		{`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, 8},
		{`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8},
		{`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12},
		{`{"a":{"dtype":"X","shape":[2],"data_offsets":[0,8]}}`, 8},
		{`{"a":[]}`, 0},
		{`{"a":{"dtype":"F32","shape":[1e3],"data_offsets":[0,4000]}}`, 4000},
		{`{"__metadata__":{"k":1}}`, 0},
		{`{"a":{"dtype":"F32","shape":[9223372036854775807,2],"data_offsets":[0,0]}}`, 0},
		{"{\"\xff\":1}", 0},
		{`{"a":`, 0},
		{`[]`, 0},
		{``, 0},
	}
	for _, s := range seeds {
		f.Add([]byte(s.header), s.data)
	}
	f.Fuzz(func(t *testing.T, header []byte, dataLen int64) {
		if dataLen < 0 {
			dataLen = -(dataLen + 1)
		}
		h, err := parseHeader("fuzz.safetensors", header, dataLen)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FormatError: %v", err, err)
			}
			return
		}
		var covered int64
		for i, e := range h.entries {
			if i > 0 && compareNames(h.entries[i-1].info.Name, e.info.Name) >= 0 {
				t.Fatalf("entries not in canonical order: %q then %q", h.entries[i-1].info.Name, e.info.Name)
			}
			if e.begin < 0 || e.end < e.begin || e.end > dataLen {
				t.Fatalf("accepted bad offsets [%d, %d] for a %d-byte data section", e.begin, e.end, dataLen)
			}
			if int64(e.info.NumElements())*int64(e.info.DType.Size()) != e.end-e.begin {
				t.Fatalf("accepted size mismatch for %q", e.info.Name)
			}
			covered += e.end - e.begin
		}
		if covered != dataLen {
			t.Fatalf("accepted tensors covering %d of %d bytes", covered, dataLen)
		}
	})
}
