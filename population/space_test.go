package population

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func testSpace(t *testing.T) *Space {
	t.Helper()
	s, err := NewSpace([]Dim{
		{Name: "w", Kind: KindFloat, Lower: -1, Upper: 3, Default: 0.5},
		{Name: "k", Kind: KindInt, Lower: 2, Upper: 5, Default: 3},
		{Name: "mode", Kind: KindChoice, Choices: []string{"sum", "mean", "max"}, Default: 1},
		{Name: "fixed", Kind: KindFloat, Lower: 7, Upper: 7, Default: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSpaceErrors(t *testing.T) {
	cases := []struct {
		name string
		dims []Dim
		want []string
	}{
		{"empty", nil, []string{"no dimensions"}},
		{"dup", []Dim{{Name: "a", Kind: KindFloat, Upper: 1}, {Name: "a", Kind: KindFloat, Upper: 1}}, []string{`both named "a"`}},
		{"inverted", []Dim{{Name: "a", Kind: KindFloat, Lower: 2, Upper: 1, Default: 1.5}}, []string{`"a"`, "above upper"}},
		{"inf", []Dim{{Name: "a", Kind: KindFloat, Upper: math.Inf(1)}}, []string{"must be finite"}},
		{"intbounds", []Dim{{Name: "n", Kind: KindInt, Upper: 2.5}}, []string{"must be integers"}},
		{"default", []Dim{{Name: "a", Kind: KindFloat, Upper: 1, Default: 2}}, []string{"default", "outside [0, 1]"}},
		{"nochoices", []Dim{{Name: "c", Kind: KindChoice}}, []string{"at least one choice"}},
		{"kind", []Dim{{Name: "c", Kind: "complex"}}, []string{`unknown kind "complex"`}},
		{"noname", []Dim{{Kind: KindFloat, Upper: 1}}, []string{"empty name"}},
		// Two problems are both reported.
		{"both", []Dim{{Name: "a", Kind: KindFloat, Upper: 1, Default: 9}, {Name: "b", Kind: KindInt, Upper: 1.5}}, []string{`"a"`, `"b"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSpace(c.dims)
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	s := testSpace(t)
	cases := []struct {
		x, u []float64
	}{
		{[]float64{-1, 2, 0, 7}, []float64{0, 0.125, 1.0 / 6, 0.5}},
		{[]float64{3, 5, 2, 7}, []float64{1, 0.875, 5.0 / 6, 0.5}},
		{[]float64{1, 3, 1, 7}, []float64{0.5, 0.375, 0.5, 0.5}},
	}
	for _, c := range cases {
		u := s.Encode(c.x)
		for i := range u {
			if math.Abs(u[i]-c.u[i]) > 1e-15 {
				t.Errorf("Encode(%v)[%d] = %v, want %v", c.x, i, u[i], c.u[i])
			}
		}
		if back := s.Decode(u); !slices.Equal(back, c.x) {
			t.Errorf("Decode(Encode(%v)) = %v", c.x, back)
		}
	}
	// Unit values at cell edges and outside [0, 1].
	got := s.Decode([]float64{-0.5, 0.25, 0.999999, 0.3})
	want := []float64{-1, 3, 2, 7}
	if !slices.Equal(got, want) {
		t.Errorf("Decode edges = %v, want %v", got, want)
	}
	got = s.Decode([]float64{1.5, 1, 1, math.NaN()})
	want = []float64{3, 5, 2, 7}
	if !slices.Equal(got, want) {
		t.Errorf("Decode clamp = %v, want %v", got, want)
	}
	// Uniform unit values give each int level equally often.
	counts := map[float64]int{}
	const n = 4000
	for i := 0; i < n; i++ {
		x := s.Decode([]float64{0, (float64(i) + 0.5) / n, 0, 0})
		counts[x[1]]++
	}
	for lvl := 2.0; lvl <= 5; lvl++ {
		if counts[lvl] != n/4 {
			t.Errorf("level %v decoded %d times, want %d", lvl, counts[lvl], n/4)
		}
	}
}

func TestClampAndValidate(t *testing.T) {
	s := testSpace(t)
	x := []float64{5, 3.6, -2, math.NaN()}
	s.ClampTo(x, x)
	if want := []float64{3, 4, 0, 7}; !slices.Equal(x, want) {
		t.Fatalf("ClampTo = %v, want %v", x, want)
	}
	if err := s.Validate(x); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]float64{{0, 2.5, 0, 7}, {4, 2, 0, 7}, {0, 2, 3, 7}, {0, 2}} {
		if err := s.Validate(bad); err == nil {
			t.Errorf("Validate(%v) = nil, want error", bad)
		}
	}
	err := s.Validate([]float64{0, 2.5, 0, 7})
	if err == nil || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("error %v does not name dimension k", err)
	}
	if d := s.Defaults(); !slices.Equal(d, []float64{0.5, 3, 1, 7}) {
		t.Errorf("Defaults = %v", d)
	}
	if i, ok := s.Index("mode"); !ok || i != 2 {
		t.Errorf("Index(mode) = %d, %v", i, ok)
	}
}
