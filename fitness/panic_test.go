package fitness

import (
	"encoding/json"
	"strings"
	"testing"
)

// Programmer errors panic with a constant "fitness:" message.
func TestProgrammerErrorsPanic(t *testing.T) {
	two := []float64{1, 2}
	tests := []struct {
		name string
		f    func()
	}{
		{"Dominates lengths", func() { Dominates(two, []float64{1}, nil) }},
		{"Dominates directions", func() { Dominates(two, two, []Direction{Minimize}) }},
		{"Dominates invalid direction", func() { Dominates(two, two, []Direction{Minimize, 0}) }},
		{"Sort ragged", func() { new(Sorter).Sort([][]float64{{1, 2}, {1}}, nil) }},
		{"Sort directions", func() { new(Sorter).Sort([][]float64{{1, 2}}, []Direction{Maximize}) }},
		{"ParetoFront ragged", func() { ParetoFront([][]float64{{1, 2}, {1}}, nil) }},
		{"crowding ragged", func() { CrowdingDistanceTo(nil, [][]float64{{1, 2}, {1}, {3, 4}}, []int{0, 1, 2}) }},
		{"crowding dst", func() { CrowdingDistanceTo(make([]float64, 1), [][]float64{{1}, {2}}, []int{0, 1}) }},
		{"CostsTo lengths", func() { CostsTo(make([]float64, 1), two, nil) }},
		{"Costs ragged", func() { Costs([][]float64{{1, 2}, {1}}, []Direction{Maximize, Maximize}) }},
		{"IdealPoint ragged", func() { IdealPoint(nil, [][]float64{{1, 2}, {1}}, nil) }},
		{"NormalizeTo lengths", func() {
			(&Normalizer{Ideal: two, Nadir: two}).NormalizeTo(make([]float64, 1), []float64{1})
		}},
		{"WeightedSum lengths", func() { WeightedSum(two, []float64{1}, nil) }},
		{"Chebyshev lengths", func() { Chebyshev(two, two, []float64{1}, nil, 0) }},
		{"SampleIndex empty", func() { SampleIndex(nil, 0.5) }},
		{"SampleIndex all zero", func() { SampleIndex([]float64{0, 0}, 0.5) }},
		{"FitnessTo dst", func() { (&Competition{Alpha: 1}).FitnessTo(make([]float64, 3), [][]float64{{1}}) }},
		{"AttractionTo dst", func() { (&Competition{Alpha: 1}).AttractionTo(make([]float64, 3), [][]float64{{1}}, 0) }},
		{"SelectionProbabilitiesTo dst", func() { SelectionProbabilitiesTo(make([]float64, 3), two) }},
		{"UnitScoresTo dst", func() { UnitScoresTo(make([]float64, 3), two, 0, 1, Maximize) }},
		{"CorrectnessTo dst", func() { CorrectnessTo(make([]float64, 3), []bool{true}) }},
		{"NormalizedAccuracyTo dst", func() { NormalizedAccuracyTo(make([]float64, 3), two, two) }},
	}
	for _, tc := range tests {
		func() {
			defer func() {
				r := recover()
				msg, ok := r.(string)
				if !ok || !strings.HasPrefix(msg, "fitness: ") {
					t.Errorf("%s: recovered %v, want a panic with a \"fitness: \" message", tc.name, r)
				}
			}()
			tc.f()
		}()
	}
}

func TestObjectiveJSON(t *testing.T) {
	o := Objective{Name: "rot/acc", Task: "rot", Metric: "accuracy", Direction: Maximize}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"rot/acc","task":"rot","metric":"accuracy","direction":"maximize"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var back Objective
	if err := json.Unmarshal(b, &back); err != nil || back != o {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}
