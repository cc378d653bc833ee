package reports

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestScalePrecision(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   int
	}{{0, 1, 0}, {0, 7, 0}, {0, 0.33, 2}, {0.2, 0.9, 2}, {0.5, 0.52, 3}, {-0.25, 1.5, 1}, {0.3, 0.3000001, 6}} {
		if got := scalePrecision(c.lo, c.hi); got != c.want {
			t.Errorf("scalePrecision(%g, %g) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
}

func TestRoundStep(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{{0.08, 0.1}, {0.1, 0.1}, {0.11, 0.2}, {0.3, 0.5}, {0.6, 1}, {7, 10}, {0.0019, 0.002}, {150, 200}} {
		if got := roundStep(c.x); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("roundStep(%g) = %g, want %g", c.x, got, c.want)
		}
	}
}

func TestWidenForLines(t *testing.T) {
	cases := []struct {
		name          string
		lo, hi        float64
		lines         []float64
		wantLo, wantH float64
		wantOK        bool
	}{
		{"no lines", 0.2, 0.8, nil, 0, 0, false},
		{"line inside", 0.2, 0.8, []float64{0.5}, 0, 0, false},
		// span 0.8: step 0.1, margin 0.016: 0.184 floors to 0.1, 1.016 ceils to 1.1
		{"line above", 0.2, 0.8, []float64{1.0}, 0.1, 1.1, true},
		// span 0.86: step 0.1, margin 0.0172: 0.0528 floors to 0, 0.9472 ceils to 1
		{"line below", 0.5, 0.93, []float64{0.07, 0.7}, 0, 1, true},
		// no points on the axis (infinite range): the lines alone; span 0.02, step 0.002
		{"no points", math.Inf(1), math.Inf(-1), []float64{0.951, 0.971}, 0.95, 0.972, true},
		// a single value: span taken as max(|v|, 1) = 2, step 0.2, margin 0.04
		{"one line, no points", math.Inf(1), math.Inf(-1), []float64{2}, 1.8, 2.2, true},
		{"odd span", 0.0876, 0.9, []float64{0.98}, 0, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo, hi, ok := widenForLines(c.lo, c.hi, c.lines)
			if ok != c.wantOK || math.Abs(lo-c.wantLo) > 1e-9 || math.Abs(hi-c.wantH) > 1e-9 {
				t.Errorf("widenForLines(%g, %g, %v) = %g, %g, %v; want %g, %g, %v", c.lo, c.hi, c.lines, lo, hi, ok, c.wantLo, c.wantH, c.wantOK)
			}
		})
	}
}

// pairChartOptions renders the two-objective Pareto chart of r and decodes
// its ECharts options.
func pairChartOptions(t *testing.T, r *Run) map[string]any {
	t.Helper()
	ok := scored(r)
	front, _ := frontMembers(r, ok)
	b, err := paretoPairChart("pareto", r, ok, front, 0, 1, true, newTipItems())
	if err != nil {
		t.Fatal(err)
	}
	js := string(b.Script)
	js = strings.TrimSuffix(strings.TrimPrefix(js, `evomerge.draw("pareto", `), ");\n")
	for _, f := range pageFunctions { // function references are not JSON
		js = strings.ReplaceAll(js, "evomerge."+f, `"`+f+`"`)
	}
	var opt map[string]any
	if err := json.Unmarshal([]byte(js), &opt); err != nil {
		t.Fatalf("chart options: %v", err)
	}
	return opt
}

func TestParetoChartReferenceLinesAndPoints(t *testing.T) {
	nan := math.NaN()
	r := sampleRun(2, 40)
	r.References = []Reference{
		{Name: "expert of a", Kind: ReferenceExpert, Validation: []float64{1.5, nan}},
		{Name: "expert of b", Kind: ReferenceExpert, Validation: []float64{nan, 0.25}},
		{Name: "plain average", Kind: ReferenceAverage, Validation: []float64{0.5, 0.5}},
		{Name: "base", Kind: ReferenceBase, Validation: []float64{nan, nan}},
	}
	opt := pairChartOptions(t, r)
	series := map[string]map[string]any{}
	for _, s := range opt["series"].([]any) {
		m := s.(map[string]any)
		series[m["name"].(string)] = m
	}
	if _, ok := series["base model"]; ok {
		t.Error("a reference without scores is drawn")
	}
	avg := series["plain average"]
	if avg == nil {
		t.Fatal("no plain average series")
	}
	if data := avg["data"].([]any); len(data) != 1 || data[0].(map[string]any)["name"] != "r2" {
		t.Errorf("plain average points %v, want the one point r2", data)
	}
	experts := series["experts"]
	if experts == nil {
		t.Fatal("no experts series: experts scored on one objective must be drawn as lines")
	}
	if data, _ := experts["data"].([]any); len(data) != 0 {
		t.Errorf("experts drawn as points %v, want lines only", data)
	}
	lines := experts["markLine"].(map[string]any)["data"].([]any)
	if len(lines) != 2 {
		t.Fatalf("expert lines %v, want 2", lines)
	}
	if l := lines[0].(map[string]any); l["name"] != "expert of a" || l["xAxis"] != 1.5 {
		t.Errorf("first line %v, want expert of a at x = 1.5", l)
	}
	if l := lines[1].(map[string]any); l["name"] != "expert of b" || l["yAxis"] != 0.25 {
		t.Errorf("second line %v, want expert of b at y = 0.25", l)
	}
	// x = 1.5 lies beyond every candidate: the x axis is widened to show it.
	xAxis := opt["xAxis"].([]any)[0].(map[string]any)
	maxX, _ := xAxis["max"].(float64)
	if !(maxX > 1.5 && maxX <= 1.7) {
		t.Errorf("x axis max %v, want just above the expert line at 1.5", xAxis["max"])
	}
}
