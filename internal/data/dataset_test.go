package data

import (
	"slices"
	"strings"
	"testing"
)

func tokenSet(name string, seqLen int, seqs ...[]int32) *Dataset {
	d := &Dataset{Name: name, Kind: Tokens, SeqLen: seqLen, Classes: 2}
	for i, s := range seqs {
		d.Tokens = append(d.Tokens, s...)
		d.Y = append(d.Y, int32(i%2))
	}
	return d
}

func TestTokenDatasets(t *testing.T) {
	d := tokenSet("tok", 3, []int32{1, 2, 3}, []int32{4, 5, 6}, []int32{7, 8, 9})
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || d.Features() != 3 || !slices.Equal(d.Sequence(1), []int32{4, 5, 6}) {
		t.Fatalf("len %d features %d sequence %v", d.Len(), d.Features(), d.Sequence(1))
	}
	head := d.Head(2)
	if head.Kind != Tokens || head.SeqLen != 3 || !slices.Equal(head.Tokens, []int32{1, 2, 3, 4, 5, 6}) || len(head.X) != 0 {
		t.Fatalf("Head: %+v", head)
	}
	sub := d.Subset([]int{2, 0})
	if !slices.Equal(sub.Tokens, []int32{7, 8, 9, 1, 2, 3}) || !slices.Equal(sub.Y, []int32{0, 0}) {
		t.Fatalf("Subset: %+v", sub)
	}
	if odd := d.FilterLabels(1); !slices.Equal(odd.Tokens, []int32{4, 5, 6}) {
		t.Fatalf("FilterLabels: %+v", odd)
	}
	joined, err := Concat("both", d, head)
	if err != nil || joined.Len() != 5 || len(joined.Tokens) != 15 || joined.Kind != Tokens {
		t.Fatalf("Concat: %+v %v", joined, err)
	}
	if _, err := Concat("mixed", d, tiny(1, 3, 0, 0, 0)); err == nil || !strings.Contains(err.Error(), "holds") {
		t.Fatalf("Concat of images and tokens: %v", err)
	}
	for name, bad := range map[string]*Dataset{
		"short":       {Name: "s", Kind: Tokens, SeqLen: 3, Classes: 2, Tokens: []int32{1, 2}, Y: []int32{0}},
		"negative":    {Name: "n", Kind: Tokens, SeqLen: 1, Classes: 2, Tokens: []int32{-1}, Y: []int32{0}},
		"no length":   {Name: "z", Kind: Tokens, Classes: 2, Y: []int32{0}},
		"with pixels": {Name: "p", Kind: Tokens, SeqLen: 1, Classes: 2, Tokens: []int32{1}, X: []float32{0}, Y: []int32{0}},
		"kind":        {Name: "k", Kind: "audio", Classes: 2},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := tiny(1, 2, 0.25, 0.5)
	b := tiny(1, 2, 0.25, 0.5)
	if a.Fingerprint() != b.Fingerprint() || len(a.Fingerprint()) != 16 {
		t.Fatalf("equal datasets: %s %s", a.Fingerprint(), b.Fingerprint())
	}
	b.X[1] = 0.75
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("different pixels, same fingerprint")
	}
	b = tiny(1, 2, 0.25, 0.5)
	b.Y[0] = 1
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("different labels, same fingerprint")
	}
	if t1, t2 := tokenSet("a", 1, []int32{1}), tokenSet("a", 1, []int32{2}); t1.Fingerprint() == t2.Fingerprint() {
		t.Fatal("different tokens, same fingerprint")
	}
}
