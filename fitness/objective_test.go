package fitness

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParseDirection(t *testing.T) {
	tests := []struct {
		in      string
		want    Direction
		wantErr bool
	}{
		{"maximize", Maximize, false},
		{"MAX", Maximize, false},
		{" maximise ", Maximize, false},
		{"minimize", Minimize, false},
		{"min", Minimize, false},
		{"Minimise", Minimize, false},
		{"", 0, true},
		{"up", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDirection(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseDirection(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestDirectionTextRoundTrip(t *testing.T) {
	type wrapper struct{ D Direction }
	for _, d := range []Direction{Minimize, Maximize} {
		b, err := json.Marshal(wrapper{d})
		if err != nil {
			t.Fatal(err)
		}
		var back wrapper
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.D != d {
			t.Errorf("round trip of %v gave %v (json %s)", d, back.D, b)
		}
	}
	if _, err := json.Marshal(wrapper{}); err == nil {
		t.Error("marshalling the zero Direction succeeded; want an error")
	}
	var w wrapper
	if err := json.Unmarshal([]byte(`{"D":"sideways"}`), &w); err == nil {
		t.Error("unmarshalling an unknown direction succeeded")
	}
}

func TestDirectionBetterAndSign(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		d    Direction
		a, b float64
		want bool
	}{
		{Maximize, 0.9, 0.8, true},
		{Maximize, 0.8, 0.9, false},
		{Minimize, 0.8, 0.9, true},
		{Minimize, 0.9, 0.9, false},
		{Maximize, 0, nan, true},
		{Minimize, 1e300, nan, true},
		{Maximize, nan, -1e300, false},
		{Minimize, nan, nan, false},
	}
	for _, tc := range tests {
		if got := tc.d.Better(tc.a, tc.b); got != tc.want {
			t.Errorf("%v.Better(%v, %v) = %v, want %v", tc.d, tc.a, tc.b, got, tc.want)
		}
	}
	if Minimize.Sign() != 1 || Maximize.Sign() != -1 {
		t.Errorf("signs: minimize %v maximize %v", Minimize.Sign(), Maximize.Sign())
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("Sign of the zero Direction did not panic")
		}
	}()
	Direction(0).Sign()
}

func TestValidateObjectives(t *testing.T) {
	good := []Objective{
		{Name: "a/acc", Task: "a", Metric: "accuracy", Direction: Maximize},
		{Name: "b/loss", Task: "b", Metric: "loss", Direction: Minimize},
	}
	if err := ValidateObjectives(good); err != nil {
		t.Fatalf("valid objectives rejected: %v", err)
	}
	bad := []Objective{
		{Name: "a/acc", Direction: Maximize},
		{Name: "", Task: "t", Metric: "accuracy", Direction: Maximize},
		{Name: "nodir", Task: "t", Metric: "accuracy"},
		{Name: "a/acc", Direction: Minimize},
	}
	err := ValidateObjectives(bad)
	if err == nil {
		t.Fatal("invalid objectives accepted")
	}
	msg := err.Error()
	for _, want := range []string{"objective 1", "no name", `"nodir"`, "no valid direction", `both named "a/acc"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if ValidateObjectives(nil) == nil {
		t.Error("no objectives accepted")
	}
	if got := Directions(good); len(got) != 2 || got[0] != Maximize || got[1] != Minimize {
		t.Errorf("Directions = %v", got)
	}
}

func TestCostsConversion(t *testing.T) {
	dirs := []Direction{Maximize, Minimize}
	got := CostsTo(make([]float64, 2), []float64{0.75, 0.25}, dirs)
	if got[0] != -0.75 || got[1] != 0.25 {
		t.Errorf("CostsTo = %v, want [-0.75 0.25]", got)
	}
	got = CostsTo(make([]float64, 2), []float64{math.NaN(), 1}, nil)
	if !math.IsInf(got[0], 1) || got[1] != 1 {
		t.Errorf("CostsTo with NaN = %v, want [+Inf 1]", got)
	}

	points := [][]float64{{1, 2}, {3, 4}}
	same := Costs(points, []Direction{Minimize, Minimize})
	if &same[0][0] != &points[0][0] {
		t.Error("Costs copied points although every objective is minimised")
	}
	conv := Costs(points, dirs)
	if &conv[0][0] == &points[0][0] {
		t.Fatal("Costs did not copy points with a maximised objective")
	}
	if conv[1][0] != -3 || conv[1][1] != 4 || points[1][0] != 3 {
		t.Errorf("Costs = %v (input now %v)", conv, points)
	}
	withNaN := [][]float64{{math.NaN(), 1}}
	if c := Costs(withNaN, nil); &c[0][0] == &withNaN[0][0] || !math.IsInf(c[0][0], 1) {
		t.Errorf("Costs with NaN = %v; want a copy with +Inf", c)
	}
}

func TestIdealNadirNormalizer(t *testing.T) {
	dirs := []Direction{Maximize, Minimize}
	points := [][]float64{{0.9, 3}, {0.5, 1}, {math.NaN(), 0}, {0.7, 2}}
	ideal := IdealPoint(nil, points, dirs)
	nadir := NadirPoint(nil, points, dirs)
	if ideal[0] != 0.9 || ideal[1] != 0 || nadir[0] != 0.5 || nadir[1] != 3 {
		t.Fatalf("ideal %v nadir %v; want [0.9 0] and [0.5 3]", ideal, nadir)
	}
	n, err := NewNormalizer(points, dirs)
	if err != nil {
		t.Fatal(err)
	}
	got := n.NormalizeTo(make([]float64, 2), []float64{0.7, 1.5})
	if math.Abs(got[0]-0.5) > 1e-12 || math.Abs(got[1]-0.5) > 1e-12 {
		t.Errorf("normalised = %v, want [0.5 0.5]", got)
	}
	got = n.NormalizeTo(got, []float64{0.9, 3})
	if got[0] != 0 || got[1] != 1 {
		t.Errorf("normalised ideal/nadir mix = %v, want [0 1]", got)
	}
	flat, err := NewNormalizer([][]float64{{1, 2}, {1, 3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := flat.NormalizeTo(make([]float64, 2), []float64{1, 2.5}); got[0] != 0 || got[1] != 0.5 {
		t.Errorf("zero-range objective normalised to %v, want [0 0.5]", got)
	}
	if _, err := NewNormalizer([][]float64{{math.NaN()}}, nil); err == nil {
		t.Error("normaliser over all-NaN objective accepted")
	}
	if _, err := NewNormalizer(nil, nil); err == nil {
		t.Error("normaliser over no points accepted")
	}
}
