package population

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	cases := []struct {
		name string
		g    Genome
		want string
	}{
		{"values", Genome{Values: []float64{0.1, 1, 1e21, 1e-7, 123456789}}, `{"values":[0.1,1,1e+21,1e-07,1.23456789e+08]}`},
		{"negzero", Genome{Values: []float64{math.Copysign(0, -1), 0}}, `{"values":[0,0]}`},
		{"roundtrip", Genome{Values: []float64{math.Nextafter(0.3, 1)}}, `{"values":[0.30000000000000004]}`},
		{"recipe", Genome{Recipe: &Recipe{Operator: "split-slerp", Parents: []string{"b", "a"}, Params: map[string]float64{"ratio": 0.25, "split": 1200}}},
			`{"recipe":{"operator":"split-slerp","params":{"ratio":0.25,"split":1200},"parents":["b","a"]}}`},
		{"recipe-noparams", Genome{Recipe: &Recipe{Operator: "copy", Parents: []string{"x"}}}, `{"recipe":{"operator":"copy","params":{},"parents":["x"]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.g.CanonicalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
			var back Genome
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			again, _ := back.CanonicalJSON()
			if string(again) != c.want {
				t.Fatalf("round trip gave %s", again)
			}
			for i, v := range back.Values {
				if v != c.g.Values[i] {
					t.Errorf("value %d: %v != %v", i, v, c.g.Values[i])
				}
			}
		})
	}
}

func TestCanonicalJSONExactRoundTrip(t *testing.T) {
	// Values that need all 17 significant digits must come back bit for bit.
	vals := []float64{math.Nextafter(1, 2), math.Pi, math.SmallestNonzeroFloat64, math.MaxFloat64, -2.5e-300, 1.0 / 3}
	enc, err := Genome{Values: vals}.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var g Genome
	if err := json.Unmarshal(enc, &g); err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if math.Float64bits(g.Values[i]) != math.Float64bits(vals[i]) {
			t.Errorf("value %d: %v became %v", i, vals[i], g.Values[i])
		}
	}
}

func TestGenomeInvalid(t *testing.T) {
	cases := []struct {
		name string
		g    Genome
		want string
	}{
		{"empty", Genome{}, "neither"},
		{"both", Genome{Values: []float64{1}, Recipe: &Recipe{Operator: "x", Parents: []string{"a"}}}, "both"},
		{"nan", Genome{Values: []float64{math.NaN()}}, "finite"},
		{"inf", Genome{Values: []float64{0, math.Inf(-1)}}, "value 1"},
		{"noop", Genome{Recipe: &Recipe{Parents: []string{"a"}}}, "no operator"},
		{"noparents", Genome{Recipe: &Recipe{Operator: "x"}}, "no parents"},
		{"badparam", Genome{Recipe: &Recipe{Operator: "x", Parents: []string{"a"}, Params: map[string]float64{"w": math.Inf(1)}}}, `"w"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.g.CanonicalJSON()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %q", err, c.want)
			}
			if _, err := ID(c.g, "spec", "v1"); err == nil {
				t.Fatal("ID of an invalid genome must fail")
			}
		})
	}
	var g Genome
	if err := json.Unmarshal([]byte(`{"values":[1],"extra":2}`), &g); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestID(t *testing.T) {
	rec := func(params map[string]float64) Genome {
		return Genome{Recipe: &Recipe{Operator: "split-slerp", Parents: []string{"p1", "p2"}, Params: params}}
	}
	// Maps with equal contents built in different orders.
	p1 := map[string]float64{"split": 10, "ratio": 0.5}
	p2 := map[string]float64{}
	p2["ratio"] = 0.5
	p2["split"] = 10
	id1, err := ID(rec(p1), "tasks=a,b;split=val", "native/1+mnist-tasks/1")
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := ID(rec(p2), "tasks=a,b;split=val", "native/1+mnist-tasks/1")
	if id1 != id2 {
		t.Fatalf("equal recipes gave %s and %s", id1, id2)
	}
	if len(id1) != 64 || strings.Trim(id1, "0123456789abcdef") != "" {
		t.Fatalf("id %q is not 64 hex digits", id1)
	}
	neg, _ := ID(Genome{Values: []float64{math.Copysign(0, -1), 1}}, "s", "v")
	pos, _ := ID(Genome{Values: []float64{0, 1}}, "s", "v")
	if neg != pos {
		t.Error("-0 and 0 give different ids")
	}
	distinct := map[string]string{"base": id1}
	add := func(name string, g Genome, spec, ver string) {
		id, err := ID(g, spec, ver)
		if err != nil {
			t.Fatal(err)
		}
		for other, prev := range distinct {
			if prev == id {
				t.Errorf("%s and %s share id %s", name, other, id)
			}
		}
		distinct[name] = id
	}
	add("spec", rec(p1), "tasks=a,b;split=test", "native/1+mnist-tasks/1")
	add("version", rec(p1), "tasks=a,b;split=val", "native/2+mnist-tasks/1")
	add("parents-swapped", Genome{Recipe: &Recipe{Operator: "split-slerp", Parents: []string{"p2", "p1"}, Params: p1}}, "tasks=a,b;split=val", "native/1+mnist-tasks/1")
	add("ulp", rec(map[string]float64{"split": 10, "ratio": math.Nextafter(0.5, 1)}), "tasks=a,b;split=val", "native/1+mnist-tasks/1")
	// The spec and version fields cannot be confused by moving text between them.
	add("shift1", Genome{Values: []float64{1}}, "ab", "c")
	add("shift2", Genome{Values: []float64{1}}, "a", "bc")
}

func TestCandidateJSON(t *testing.T) {
	c := &Candidate{
		ID:      "abc",
		Genome:  Genome{Values: []float64{0.5, -0.25}},
		Lineage: Lineage{Parents: []string{"p"}, Operator: "sbx+pm", Generation: 3},
		Scores:  []float64{0.9, 0.8},
		Correct: []TaskCorrectness{{Task: "rot", Bits: BitsetOf([]bool{true, false, true})}},
		Status:  StatusOK,
	}
	enc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Candidate
	if err := json.Unmarshal(enc, &back); err != nil {
		t.Fatal(err)
	}
	enc2, _ := json.Marshal(&back)
	if string(enc) != string(enc2) {
		t.Fatalf("round trip changed the encoding:\n%s\n%s", enc, enc2)
	}
	if !back.Correct[0].Bits.Get(2) || back.Correct[0].Bits.Get(1) {
		t.Error("bits lost")
	}
	cl := c.Clone()
	cl.Scores[0] = 0
	cl.Correct[0].Bits.Set(0, false)
	cl.Genome.Values[0] = 9
	if c.Scores[0] != 0.9 || !c.Correct[0].Bits.Get(0) || c.Genome.Values[0] != 0.5 {
		t.Error("Clone shares memory with the original")
	}
	c.Fail(errTest("boom"))
	if c.Status != StatusFailed || c.Scores != nil || c.Error != "boom" {
		t.Errorf("Fail left %+v", c)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestBitset(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 130} {
		vals := make([]bool, n)
		want := 0
		for i := range vals {
			vals[i] = i%3 == 0 || i == n-1
			if vals[i] {
				want++
			}
		}
		b := BitsetOf(vals)
		if err := b.Validate(); err != nil {
			t.Fatal(err)
		}
		if b.Count() != want {
			t.Errorf("n=%d: Count = %d, want %d", n, b.Count(), want)
		}
		got := b.BoolsTo(nil)
		for i := range vals {
			if got[i] != vals[i] || b.Get(i) != vals[i] {
				t.Fatalf("n=%d bit %d wrong", n, i)
			}
		}
	}
	bad := Bitset{N: 3, Words: []uint64{0b1000}}
	if bad.Validate() == nil {
		t.Error("bit past length accepted")
	}
	if (Bitset{N: 65, Words: []uint64{1}}).Validate() == nil {
		t.Error("short words accepted")
	}
}
