package reports

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
	"github.com/go-echarts/statsview/statics"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func render(t *testing.T, r *Run, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := RenderOptions(&b, r, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withoutECharts replaces the inlined ECharts script by a marker, so golden
// files hold only what this package writes (never a copy of ECharts).
func withoutECharts(t *testing.T, page []byte) []byte {
	t.Helper()
	if bytes.Count(page, []byte(statics.EchartJS)) != 1 {
		t.Fatal("the page does not inline the ECharts script exactly once")
	}
	return bytes.Replace(page, []byte(statics.EchartJS), []byte("/* ECharts 4.1.0 from github.com/go-echarts/statsview */"), 1)
}

func TestGolden(t *testing.T) {
	cases := []struct {
		file string
		run  *Run
		opt  Options
	}{
		{"two_objectives.html", sampleRun(2, 40), Options{}},
		{"three_objectives.html", sampleRun(3, 36), Options{}},
		{"live.html", sampleRun(2, 5), Options{PollURL: "status.json", PollSeconds: 3, Version: "5:1234"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got := withoutECharts(t, render(t, c.run, c.opt))
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("page differs from %s (run go test -run TestGolden -update after checking the change)", path)
			}
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a := render(t, sampleRun(3, 50), Options{})
	b := render(t, sampleRun(3, 50), Options{})
	if !bytes.Equal(a, b) {
		t.Fatal("two renders of the same run differ")
	}
}

var chartDiv = regexp.MustCompile(`<div class="chart" id="([a-z0-9_]+)"`)

func chartIDs(page []byte) []string {
	var ids []string
	for _, m := range chartDiv.FindAllSubmatch(page, -1) {
		ids = append(ids, string(m[1]))
	}
	return ids
}

func TestPageStructure(t *testing.T) {
	two := sampleRun(2, 40)
	noDims := sampleRun(1, 20)
	noDims.Dims = nil
	for i := range noDims.Candidates {
		noDims.Candidates[i].Genome = population.Genome{Recipe: &population.Recipe{Operator: "m2n2", Parents: []string{"a", "b"}, Params: map[string]float64{"split": 0.25, "mix": 0.5}}}
	}
	noDims.Sections = nil
	cases := []struct {
		name     string
		run      *Run
		charts   []string
		contains []string
	}{
		{"two objectives", two, []string{"pareto", "progress_hv", "progress_best", "progress_time", "coefficients_0", "coefficients_1",
			"coefficients_2", "coefficients_3", "m2n2_coverage", "m2n2_solved", "map_surrogate", "adamerging_loss", "adamerging_coefficients", "fw_selected", "fw_steps"},
			[]string{`id="section-pareto"`, `id="front-table"`, "this run does not record which split they came from", "design points: R² = ", "held out: R² = ", "evomerge export &#39;runs/demo run&#39; --candidate "}},
		{"three objectives", sampleRun(3, 30), []string{"pareto", "pareto_0_1", "pareto_0_2", "pareto_1_2", "progress_hv", "progress_best", "progress_time",
			"coefficients_0", "coefficients_1", "coefficients_2", "coefficients_3", "m2n2_coverage", "m2n2_solved", "map_surrogate", "adamerging_loss", "adamerging_coefficients", "fw_selected", "fw_steps"},
			[]string{"3 objectives: one axis per objective"}},
		{"one objective, recipes", noDims, []string{"progress_hv", "progress_best", "progress_time"},
			[]string{"One objective", "This run's genomes have no named coefficients.", "m2n2(a, b) mix=0.5 split=0.25"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page := render(t, c.run, Options{})
			if got := chartIDs(page); !equalStrings(got, c.charts) {
				t.Errorf("charts %q, want %q", got, c.charts)
			}
			for _, id := range c.charts {
				if n := bytes.Count(page, []byte(`evomerge.draw("`+id+`", `)); n != 1 {
					t.Errorf("chart %s drawn %d times, want 1", id, n)
				}
			}
			for _, s := range c.contains {
				if !bytes.Contains(page, []byte(s)) {
					t.Errorf("page lacks %q", s)
				}
			}
		})
	}
}

func TestFrontTableColumns(t *testing.T) {
	r := sampleRun(2, 40)
	nan := math.NaN()
	r.Front = []FrontMember{
		{ID: r.Candidates[0].ID, Validation: []float64{0.5, 0.25}, Test: []float64{0.375, nan}, NormalizedAccuracy: 0.875, Recipe: "method = \"ties\""},
		{ID: r.Candidates[1].ID, Validation: []float64{0.75, 0.125}, NormalizedAccuracy: nan},
	}
	tab := frontTable(r, r.Front)
	// No member has a test score of the second objective: no column of dashes.
	if len(tab.Head) != 1+2+1+1 || len(tab.Rows) != 2 {
		t.Fatalf("%d columns %d rows, want 5 and 2", len(tab.Head), len(tab.Rows))
	}
	row := tab.Rows[0]
	want := []string{r.Candidates[0].ID[:12] + "|" + r.Candidates[0].ID, "0.5|0.5", "0.25|0.25", "0.375|0.375", "0.875|0.875"}
	if got := cellTexts(row); !equalStrings(got, want) {
		t.Errorf("row cells %q, want %q", got, want)
	}
	if got, want := cellTexts(tab.Rows[1]), []string{r.Candidates[1].ID[:12] + "|" + r.Candidates[1].ID, "0.75|0.75", "0.125|0.125", "–|", "–|"}; !equalStrings(got, want) {
		t.Errorf("row cells %q, want %q", got, want)
	}
	if row.Recipe != `method = "ties"` {
		t.Errorf("recipe %q", row.Recipe)
	}
	if want := "evomerge export 'runs/demo run' --candidate " + r.Candidates[0].ID + " --out 'runs/demo run/exports/" + r.Candidates[0].ID[:12] + "'"; row.Export != want {
		t.Errorf("export command %q, want %q", row.Export, want)
	}
	if got := tab.Rows[1].Recipe; !strings.HasPrefix(got, "layers.0/weight[mnist-rot]=") {
		t.Errorf("recipe of a member without one should show its genome, got %q", got)
	}
	if tab.Head[3].Class != "test" || tab.Head[1].Class != "val" || tab.Head[3].Label != r.Objectives[0].Name+" · test" {
		t.Errorf("heads %+v: test and validation columns must be marked", tab.Head)
	}
	// A test score of the second objective brings its column back.
	r.Front[1].Test = []float64{nan, 0.625}
	tab = frontTable(r, r.Front)
	if got, want := cellTexts(tab.Rows[1])[3:], []string{"–|", "0.625|0.625", "–|"}; len(tab.Head) != 6 || !equalStrings(got, want) {
		t.Errorf("%d columns, test cells %q, want 6 and %q", len(tab.Head), got, want)
	}
}

func TestFrontTableMeanNormalizedObjective(t *testing.T) {
	r := sampleRun(2, 40)
	r.Objectives = []fitness.Objective{
		{Name: "mean/normalized_accuracy", Task: "mean", Metric: "normalized_accuracy", Direction: fitness.Maximize},
		{Name: "mean/loss", Task: "mean", Metric: "loss", Direction: fitness.Minimize},
	}
	r.Front = []FrontMember{{ID: r.Candidates[0].ID, Validation: []float64{0.8, 0.7}, Test: []float64{0.79, math.NaN()}, NormalizedAccuracy: 0.79}}
	tab := frontTable(r, r.Front)
	var heads []string
	for _, h := range tab.Head {
		heads = append(heads, h.Label)
	}
	// The loss has no test score; the normalized accuracy column would repeat the objective's.
	want := []string{"candidate", "mean/normalized_accuracy · validation", "mean/loss · validation", "mean/normalized_accuracy · test"}
	if !equalStrings(heads, want) {
		t.Errorf("heads %q, want %q", heads, want)
	}
	if got := cellTexts(tab.Rows[0])[3]; got != "0.79|0.79" {
		t.Errorf("test cell %q, want 0.79", got)
	}
}

func TestReferenceTableColumns(t *testing.T) {
	nan := math.NaN()
	r := sampleRun(2, 40)
	r.References = []Reference{
		{Name: "expert of a", Kind: ReferenceExpert, Validation: []float64{0.9, nan}, Test: []float64{0.875, nan}},
		{Name: "plain average", Kind: ReferenceAverage, Validation: []float64{0.5, 1.25}, Test: []float64{0.625, nan}},
	}
	tab := referenceTable(r)
	var heads []string
	for _, h := range tab.Head {
		heads = append(heads, h.Label)
	}
	o0, o1 := r.Objectives[0].Name, r.Objectives[1].Name
	if want := []string{"reference", "kind", o0 + " · validation", o1 + " · validation", o0 + " · test"}; !equalStrings(heads, want) {
		t.Errorf("heads %q, want %q", heads, want)
	}
	if got, want := cellTexts(tab.Rows[0]), []string{"expert of a|expert of a", "expert|expert", "0.9|0.9", "–|", "0.875|0.875"}; !equalStrings(got, want) {
		t.Errorf("expert row %q, want %q", got, want)
	}
	if got, want := cellTexts(tab.Rows[1])[2:], []string{"0.5|0.5", "1.25|1.25", "0.625|0.625"}; !equalStrings(got, want) {
		t.Errorf("average row %q, want %q", got, want)
	}
	r.References = []Reference{{Name: "unknown", Kind: ReferenceBase, Validation: []float64{nan, nan}}}
	if tab := referenceTable(r); len(tab.Head) != 0 || len(tab.Rows) != 0 {
		t.Errorf("references without any score make a table: %+v", tab)
	}
}

func cellTexts(row tableRow) []string {
	texts := make([]string, len(row.Cells))
	for i, c := range row.Cells {
		texts[i] = c.Text + "|" + c.Sort
	}
	return texts
}

func TestHostileNamesAreEscaped(t *testing.T) {
	page := render(t, sampleRun(3, 40), Options{PollURL: `status.json?x="</script><img src=x onerror=window.pwned=7>`, PollSeconds: 2, Version: `v"</script>`})
	page = withoutECharts(t, page)
	for _, s := range []string{evilRun, evilTask, evilModel, evilExpert, evilError, "</script><script>window.pwned=6", `onerror="window.pwned`, "<img", "<!--"} {
		if bytes.Contains(page, []byte(s)) {
			t.Errorf("page contains %q unescaped", s)
		}
	}
	if n := len(regexp.MustCompile(`(?i)<script`).FindAll(page, -1)); n != 5 {
		t.Errorf("%d <script> elements, want 5 (tooltip data, ECharts, page functions, charts, live polling)", n)
	}
	if n := len(regexp.MustCompile(`(?i)</script`).FindAll(page, -1)); n != 5 {
		t.Errorf("%d </script> tags, want 5", n)
	}
	// The JSON escape keeps names intact for the browser.
	if !bytes.Contains(page, []byte(`expert\u003c/SCRIPT\u003e\u003c!--\u003cscript\u003ewindow.pwned=4//`)) {
		t.Error("hostile expert name not found in its JSON-escaped form")
	}
}

func TestNoNetworkReferences(t *testing.T) {
	page := withoutECharts(t, render(t, sampleRun(2, 30), Options{}))
	for _, re := range []string{`(?i)<script[^>]*\ssrc`, `(?i)<link`, `(?i)https?://`, `(?i)<iframe`, `(?i)url\(`} {
		if loc := regexp.MustCompile(re).FindIndex(page); loc != nil {
			t.Errorf("page matches %s at %q", re, page[max(0, loc[0]-40):min(len(page), loc[1]+40)])
		}
	}
	if !bytes.Contains(page, []byte("default-src 'none'")) {
		t.Error("page lacks its Content-Security-Policy")
	}
}

func TestLivePolling(t *testing.T) {
	r := sampleRun(2, 10)
	page := render(t, r, Options{PollURL: "/runs/0/status.json", PollSeconds: 4, Version: "10:99"})
	if !bytes.Contains(page, []byte(`var url = "/runs/0/status.json", version = "10:99", every = 4000;`)) {
		t.Error("running run: polling script missing")
	}
	r.Finished = true
	page = render(t, r, Options{PollURL: "/runs/0/status.json", PollSeconds: 4, Version: "10:99"})
	if bytes.Contains(page, []byte("fetch(")) {
		t.Error("finished run must not poll")
	}
	if bytes.Contains(render(t, sampleRun(2, 10), Options{}), []byte("fetch(")) {
		t.Error("a report for disk must not poll")
	}
}

func TestScriptJSON(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{"</script><!--", `"\u003c/script\u003e\u003c!--"`},
		{"a\u2028b&", `"a\u2028b\u0026"`},
		{fn("tip"), `evomerge.tip`},
		{map[string]any{"formatter": fn("heatTip"), "name": fnPrefix + "tip"}, `{"formatter":evomerge.heatTip,"name":evomerge.tip}`},
		// Data cannot become code: a marker inside a longer string, or
		// with a quote in it, stays a string.
		{"x" + fnPrefix + "tip", `"x` + fnPrefix + `tip"`},
		{fnPrefix + `tip"`, `"` + fnPrefix + `tip\""`},
		{fnPrefix + "alert(1)", `"` + fnPrefix + `alert(1)"`},
	}
	for _, c := range cases {
		got, err := scriptJSON(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("scriptJSON(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	objs := []fitness.Objective{{Name: "a", Direction: fitness.Maximize}, {Name: "b", Direction: fitness.Maximize}}
	cases := []struct {
		name string
		run  *Run
		want string
	}{
		{"nil", nil, "nil run"},
		{"no objectives", &Run{Name: "r"}, `run "r"`},
		{"bad direction", &Run{Name: "r", Objectives: []fitness.Objective{{Name: "a"}}}, `run "r"`},
		{"scores", &Run{Name: "r", Objectives: objs, Candidates: []Candidate{okCandidate("abc", 1)}}, "candidate abc (evaluation 1) has 1 scores but the run has 2 objectives"},
		{"genome", &Run{Name: "r", Objectives: objs, Dims: []string{"x"}, Candidates: []Candidate{{Candidate: population.Candidate{ID: "g", Status: population.StatusOK, Scores: []float64{1, 2}, Genome: population.VectorGenome([]float64{1, 2})}}}}, "candidate g has 2 genome values but the run names 1 coefficient dimensions"},
		{"front", &Run{Name: "r", Objectives: objs, Front: []FrontMember{{ID: "f", Validation: []float64{1}}}}, "front member 1 (f) has 1 validation scores"},
		{"front test", &Run{Name: "r", Objectives: objs, Front: []FrontMember{{ID: "f", Validation: []float64{1, 2}, Test: []float64{1}}}}, "front member 1 (f) has 1 test scores"},
		{"reference", &Run{Name: "r", Objectives: objs, References: []Reference{{Name: "e", Validation: []float64{1, 2, 3}}}}, `reference "e" has 3 validation scores`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Render(&bytes.Buffer{}, c.run)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestRenderWriteError(t *testing.T) {
	err := Render(failingWriter{}, sampleRun(2, 5))
	if err == nil || !strings.Contains(err.Error(), "write page") {
		t.Fatalf("error %v, want a write error", err)
	}
}

func TestEChartsScriptIsSafe(t *testing.T) {
	js, err := echartsJS()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `version="4.1.0"`) {
		t.Error("the inlined script is not ECharts 4.1.0")
	}
	for _, s := range []string{pageScript, string(js)} {
		if loc := scriptBreakout.FindStringIndex(s); loc != nil {
			t.Errorf("script contains %q", s[loc[0]:loc[1]])
		}
	}
}

func BenchmarkRender(b *testing.B) {
	for _, n := range []int{200, 2000} {
		r := sampleRun(3, n)
		b.Run("evaluations="+strconv.Itoa(n), func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := Render(&buf, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes/page")
		})
	}
}

func TestNonFiniteValuesStayOutOfCharts(t *testing.T) {
	for _, m := range []int{2, 3} {
		r := sampleRun(m, 30)
		nan, inf := math.NaN(), math.Inf(1)
		bad := make([]float64, m)
		bad[0], bad[1] = nan, inf
		r.Front = []FrontMember{
			{ID: r.Candidates[0].ID, Validation: r.Candidates[0].Scores, Test: bad, NormalizedAccuracy: inf},
			{ID: "missing-scores", Validation: bad, NormalizedAccuracy: nan},
		}
		r.Candidates[1].Genome = population.VectorGenome([]float64{nan, 1, 1, 1, 1, 1})
		r.References = append(r.References, Reference{Name: "unscored expert", Kind: ReferenceExpert, Validation: bad, Test: bad})
		v := sampleViews(r, m)
		v.Trajectory[0].Loss = nan
		v.FrankWolfe[0].StepSize = inf
		v.Surrogate[0].Predicted = inf
		r.Sections = sampleSections(r, v, "")
		page := render(t, r, Options{})
		if !bytes.Contains(page, []byte(`title="missing-scores"`)) {
			t.Errorf("m=%d: the member without finite scores is missing from the table", m)
		}
		// (encoding/json refuses NaN and ±Inf, so reaching here already
		// says no chart holds one; check the chart scripts anyway.)
		bare := regexp.MustCompile(`[\[,:](NaN|-?Infinity)[\],}]`)
		for _, line := range bytes.Split(withoutECharts(t, page), []byte("\n")) {
			if bytes.HasPrefix(line, []byte("evomerge.draw(")) && bare.Match(line) {
				t.Errorf("m=%d: a non-finite number reached a chart: %.80s", m, line)
			}
		}
	}
}

func TestFrontTableMarksTheChosenMemberFirst(t *testing.T) {
	r := sampleRun(2, 40)
	nan := math.NaN()
	r.Front = []FrontMember{
		{ID: r.Candidates[0].ID, Validation: []float64{0.5, 0.25}, Test: []float64{0.9, nan}, NormalizedAccuracy: nan},
		{ID: r.Candidates[1].ID, Validation: []float64{0.75, 0.125}, Test: []float64{0.4, nan}, NormalizedAccuracy: nan},
	}
	r.Chosen, r.ChosenBy = r.Candidates[1].ID, "best acc on the validation split"
	tab := frontTable(r, r.Front)
	if !tab.Rows[0].Chosen || tab.Rows[1].Chosen {
		t.Fatalf("chosen flags %v %v, want the chosen member first", tab.Rows[0].Chosen, tab.Rows[1].Chosen)
	}
	if got := tab.Rows[0].Cells[0]; got.Sort != r.Candidates[1].ID || !strings.HasSuffix(got.Text, "★ chosen") || !strings.Contains(got.Title, "best acc on the validation split") {
		t.Errorf("chosen id cell %+v", got)
	}
	page := string(render(t, r, Options{}))
	for _, want := range []string{`<tr class="chosen">`, `id="chosen-note"`, "chosen on validation scores"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	r.Chosen = ""
	if page := string(render(t, r, Options{})); strings.Contains(page, `id="chosen-note"`) || strings.Contains(page, `class="chosen"`) {
		t.Error("a run without a chosen member marks one")
	}
}
