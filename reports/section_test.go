package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
)

// A section any method builds from the chart kinds is drawn in order after
// the built-in ones, its names escaped, its table shown, its scatter
// points carrying the candidates' tooltips.
func TestCustomSection(t *testing.T) {
	r := sampleRun(2, 40)
	c := r.Candidates[0]
	r.Sections = append(r.Sections, Section{
		Kind:  "custom",
		Title: "Custom <view>",
		Charts: []Chart{
			&ScatterChart{ID: "custom_scatter", Title: "x against y", XName: "x", YName: "y", Diagonal: "x = y",
				Series: []ScatterSeries{{Name: "points", Points: []ScatterPoint{{Candidate: c.ID, X: c.Scores[0], Y: c.Scores[1]}, {X: 0.5, Y: 0.25}}}}},
			&HeatmapChart{ID: "custom_heat", Title: "grid", Cols: []string{"a", "b"}, Rows: []string{"r"}, Cells: []HeatCell{{X: 1, Y: 0, Value: 2}}, Min: 0, Max: 2},
		},
		Tables: []Table{{Caption: "members", Head: []string{"member", "count"}, Rows: [][]string{{"<m1>", "3"}, {"m2", "4"}}}},
	})
	page := render(t, r, Options{})
	ids := strings.Join(chartIDs(page), " ")
	if !strings.HasSuffix(ids, "fw_selected fw_steps custom_scatter custom_heat") {
		t.Errorf("chart order %s, want the custom section's charts after the built-in ones", ids)
	}
	for _, s := range []string{"<h2>Custom &lt;view&gt;</h2>\n<div class=\"chart\" id=\"custom_scatter\"", "<caption>members</caption>",
		"<th>member</th><th>count</th>", "<td>&lt;m1&gt;</td><td>3</td>"} {
		if !bytes.Contains(page, []byte(s)) {
			t.Errorf("page lacks %q", s)
		}
	}
	var script []byte
	for _, l := range bytes.Split(page, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(`evomerge.draw("custom_scatter", `)) {
			script = l
		}
	}
	for _, s := range []string{`{"name":"c0","value":[`, `{"value":[0.5,0.25]}`, `"name":"x = y"`, `"lineStyle":{"color":"#555","type":"dashed"}`} {
		if !bytes.Contains(script, []byte(s)) {
			t.Errorf("the scatter's script lacks %s: %s", s, script)
		}
	}
	if bytes.Contains(page, []byte(`<h2>Custom &lt;view&gt;</h2>`+"\n"+`<p class="note">`)) {
		t.Error("a section without a note shows an empty one")
	}
}

func TestSectionValidateErrors(t *testing.T) {
	objs := []fitness.Objective{{Name: "a", Direction: fitness.Maximize}, {Name: "b", Direction: fitness.Maximize}}
	line := func(id string) Chart {
		return &LineChart{ID: id, Series: []LineSeries{{Name: "s", X: []float64{1}, Y: []float64{1}}}}
	}
	cases := []struct {
		name string
		secs []Section
		want string
	}{
		{"no kind", []Section{{Title: "t"}}, "section 1 (\"t\") has no kind or no title"},
		{"no title", []Section{{Kind: "k"}}, "has no kind or no title"},
		{"same kind", []Section{{Kind: "k", Title: "a"}, {Kind: "k", Title: "b"}}, `two sections are of kind "k"`},
		{"nil chart", []Section{{Kind: "k", Title: "t", Charts: []Chart{nil}}}, "nil chart"},
		{"no chart id", []Section{{Kind: "k", Title: "t", Charts: []Chart{line("")}}}, "a chart with no id"},
		{"page chart id", []Section{{Kind: "k", Title: "t", Charts: []Chart{line("progress_hv")}}}, `chart id "progress_hv" is reserved`},
		{"same chart id", []Section{{Kind: "k", Title: "t", Charts: []Chart{line("x")}}, {Kind: "l", Title: "u", Charts: []Chart{line("x")}}}, `two charts have the id "x"`},
		{"line lengths", []Section{{Kind: "k", Title: "t", Charts: []Chart{&LineChart{ID: "x", Series: []LineSeries{{Name: "s", X: []float64{1, 2}, Y: []float64{1}}}}}}}, `series "s" has 2 x and 1 y values`},
		{"heat cell", []Section{{Kind: "k", Title: "t", Charts: []Chart{&HeatmapChart{ID: "x", Cols: []string{"a"}, Rows: []string{"r"}, Cells: []HeatCell{{X: 1}}, Max: 1}}}}, "cell (1, 0) is outside the 1 × 1 grid"},
		{"heat scale", []Section{{Kind: "k", Title: "t", Charts: []Chart{&HeatmapChart{ID: "x", Min: 2, Max: 1}}}}, "colour scale [2, 1] is not a range"},
		{"table row", []Section{{Kind: "k", Title: "t", Tables: []Table{{Head: []string{"a", "b"}, Rows: [][]string{{"1"}}}}}}, "row 1 has 1 cells but the table has 2 columns"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Render(&bytes.Buffer{}, &Run{Name: "r", Objectives: objs, Sections: c.secs})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `run "r"`) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestSectionBuilderErrors(t *testing.T) {
	objs := []fitness.Objective{{Name: "a", Direction: fitness.Maximize}, {Name: "b", Direction: fitness.Maximize}}
	if _, err := SurrogateSection(objs, []SurrogatePoint{{ID: "s", Objective: 2}}); err == nil || !strings.Contains(err.Error(), "surrogate point of candidate s names objective 2 but the run has 2 objectives") {
		t.Errorf("surrogate: %v", err)
	}
	if _, err := TrajectorySection([]TrajectoryStep{{Step: 3, Coefficients: []float64{1, 2}}}, []string{"x"}, "", ""); err == nil || !strings.Contains(err.Error(), "AdaMerging step 3 has 2 coefficients but the run names 1 dimensions") {
		t.Errorf("trajectory: %v", err)
	}
	// Without dimension names the coefficients are numbered.
	sec, err := TrajectorySection([]TrajectoryStep{{Step: 0, Coefficients: []float64{1, 2}}}, nil, "validation", "")
	if err != nil || len(sec.Charts) != 2 || sec.Charts[1].(*LineChart).Series[1].Name != "λ1" || !strings.Contains(sec.Note, "validation split") {
		t.Errorf("trajectory without dims: %+v, %v", sec, err)
	}
	for name, f := range map[string]func() error{
		"archive":     func() error { _, err := ArchiveSection(nil); return err },
		"trajectory":  func() error { _, err := TrajectorySection(nil, nil, "", ""); return err },
		"frank-wolfe": func() error { _, err := FrankWolfeSection(nil); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s section of no data: no error", name)
		}
	}
	if f := AdaptationFact("test"); f.Key != "AdaMerging adapted on" || f.Value != "unlabelled test inputs" {
		t.Errorf("adaptation fact %+v", f)
	}
}
