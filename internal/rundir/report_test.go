package rundir

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/reports"
)

var updateReportGolden = flag.Bool("update-report", false, "rewrite the report golden files in testdata/report-v1 (only after checking the change is wanted)")

func TestWriteReport(t *testing.T) {
	cases := []struct {
		name     string
		opt      testkit.RunOptions
		contains []string
	}{
		{"mid-run with a torn last line", testkit.RunOptions{Evaluations: 20, Torn: true}, []string{
			"Run in progress.", "<dd>20 of 400 (5.0%)</dd>", "<dd>18 / 2</dd>", "test scores are pending",
			"evaluator exited with status 1: &lt;oops&gt;", `evomerge.draw("pareto", `, `evomerge.draw("coefficients_0", `,
		}},
		{"finished with a front", testkit.RunOptions{Evaluations: 14, Finished: true}, []string{
			"Run finished (evaluation-limit).", "<dt>evaluations/s</dt><dd>0.500</dd>", `<td data-sort="0.8125" class="test num">0.8125</td>`, `<td data-sort="0.93" class="test num">0.93</td>`,
			"expert of rotated", "plain average of the experts", `<td data-sort="0.61" class="test num">0.61</td>`,
			"evomerge export ", "--candidate " + testkit.RecordID(9),
		}},
		{"with algorithm views", testkit.RunOptions{Evaluations: 10, Views: testkit.RunViews}, []string{
			`evomerge.draw("m2n2_coverage", `, `evomerge.draw("m2n2_solved", `, `evomerge.draw("map_surrogate", `,
			"rotated/accuracy, held out: R² = ", `evomerge.draw("adamerging_coefficients", `, `evomerge.draw("fw_selected", `,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := testkit.WriteRun(t, c.opt)
			res, err := WriteReport(context.Background(), dir, "")
			if err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(filepath.Join(dir, ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			if res.Path != filepath.Join(dir, ReportFile) || res.Bytes != len(page) || res.Evaluations != c.opt.Evaluations || res.Finished != c.opt.Finished {
				t.Errorf("result %+v for a page of %d bytes", res, len(page))
			}
			for _, s := range c.contains {
				if !bytes.Contains(page, []byte(s)) {
					t.Errorf("report lacks %q", s)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

func TestWriteReportErrors(t *testing.T) {
	cases := []struct {
		name string
		dir  func(t *testing.T) string
		want string
	}{
		{"not a run directory", func(t *testing.T) string { return t.TempDir() }, "is not a run directory (no config.toml)"},
		{"not started", func(t *testing.T) string {
			return testkit.WriteRun(t, testkit.RunOptions{Evaluations: 3, NoState: true})
		}, "has not started evaluating yet"},
		{"unknown views key", func(t *testing.T) string {
			return testkit.WriteRun(t, testkit.RunOptions{Evaluations: 3, Views: `{"m2n2_archiv": []}`})
		}, `views.json: json: unknown field "m2n2_archiv"`},
		{"surrogate of an unknown objective", func(t *testing.T) string {
			return testkit.WriteRun(t, testkit.RunOptions{Evaluations: 3, Views: `{"map_surrogate": [{"id": "x", "objective": 2, "predicted": 1, "measured": 1}]}`})
		}, "views.json: reports: surrogate point of candidate x names objective 2 but the run has 2 objectives"},
		{"trajectory of other dimensions", func(t *testing.T) string {
			return testkit.WriteRun(t, testkit.RunOptions{Evaluations: 3, Views: `{"adamerging_trajectory": [{"step": 3, "loss": 1, "coefficients": [1, 2]}]}`})
		}, "AdaMerging step 3 has 2 coefficients but the run names 4 dimensions"},
		{"corrupt journal line", func(t *testing.T) string {
			return testkit.WriteRun(t, testkit.RunOptions{Evaluations: 6, CorruptLine: 2})
		}, "journal.jsonl:2: corrupt journal record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir(t)
			_, err := WriteReport(context.Background(), dir, "")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, ReportFile)); !os.IsNotExist(err) {
				t.Errorf("a report was written despite the error: %v", err)
			}
		})
	}
}

func TestWriteReportOut(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 5})
	out := filepath.Join(t.TempDir(), "elsewhere.html")
	res, err := WriteReport(context.Background(), dir, out)
	if err != nil || res.Path != out {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ReportFile)); !os.IsNotExist(err) {
		t.Errorf("report.html written in the run directory despite another path: %v", err)
	}
}

func TestReportModel(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 14, Finished: true, Torn: true})
	r, stamp, err := LoadReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "nsga2-two-tasks" || r.Seed != 3 || r.Method != "nsga2" || r.Operator != "task_arithmetic" || !r.Finished {
		t.Errorf("run facts %q seed %d method %q operator %q finished %v", r.Name, r.Seed, r.Method, r.Operator, r.Finished)
	}
	if len(r.Candidates) != 14 || r.Candidates[6].OK() || r.Candidates[6].Error == "" || len(r.Candidates[0].Scores) != 2 {
		t.Errorf("candidates: %d, #7 %+v", len(r.Candidates), r.Candidates[6].Candidate)
	}
	if len(r.Front) != 1 || r.Front[0].Test[0] != 0.8125 || r.Front[0].Test[1] != 0.4375 || r.Front[0].NormalizedAccuracy != 0.93 {
		t.Errorf("front %+v", r.Front)
	}
	if len(r.References) != 3 || r.References[0].Test[0] != 0.97 || r.References[1].Test[1] != 0.96 || r.References[2].Test[0] != 0.61 {
		t.Errorf("references %+v", r.References)
	}
	// Fitness-split reference points: each expert on its own task, the
	// plain average on both.
	if len(r.References) == 3 && (r.References[0].Validation[0] != 0.95 || !math.IsNaN(r.References[0].Validation[1]) ||
		r.References[1].Validation[1] != 0.94 || r.References[2].Validation[0] != 0.625 || r.References[2].Validation[1] != 0.5625) {
		t.Errorf("reference validation scores %v %v %v", r.References[0].Validation, r.References[1].Validation, r.References[2].Validation)
	}
	// No views.json, no AdaMerging: no method section, no method fact.
	if len(r.Sections) != 0 || len(r.Facts) != 0 {
		t.Errorf("sections %+v facts %+v, want none", r.Sections, r.Facts)
	}
	if again, _ := ReportStamp(dir); again != stamp {
		t.Errorf("stamp changed without a change: %q then %q", stamp, again)
	}
	f, err := os.OpenFile(filepath.Join(dir, JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x\n")
	f.Close()
	if again, _ := ReportStamp(dir); again == stamp {
		t.Error("stamp unchanged after the journal grew")
	}
	// The report reads adamerging.json: writing one changes the stamp.
	stamp, _ = ReportStamp(dir)
	if err := os.WriteFile(filepath.Join(dir, AdaMergingFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if again, _ := ReportStamp(dir); again == stamp {
		t.Error("stamp unchanged after adamerging.json appeared")
	}
}

// Every part of views.json becomes its section, in a fixed order, whatever
// the method.
func TestViewSectionsFollowTheData(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 10, Views: testkit.RunViews})
	r, err := ReportModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range r.Sections {
		kinds = append(kinds, s.Kind)
	}
	want := []string{reports.SectionArchive, reports.SectionSurrogate, reports.SectionTrajectory, reports.SectionFrankWolfe}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("section kinds %q, want %q", kinds, want)
	}
	if r.Method != "nsga2" {
		t.Fatalf("method %q: the sections must not depend on it", r.Method)
	}
}

func TestRenderReportHook(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 7, Finished: true})
	if err := RenderReport(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil || !bytes.Contains(page, []byte("Run finished (evaluation-limit).")) {
		t.Fatalf("report.html not written by the hook: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RenderReport(ctx, dir); err == nil {
		t.Error("a cancelled context must stop the report")
	}
}

// sectionsHTML is the part of a page the method sections make: their
// markup and the scripts of their charts.
func sectionsHTML(page []byte) string {
	var b strings.Builder
	if i := bytes.Index(page, []byte(`<section class="view">`)); i >= 0 {
		j := bytes.Index(page, []byte(`<section id="section-facts">`))
		b.Write(page[i:j])
	}
	draw := regexp.MustCompile(`^evomerge\.draw\("([^"]*)"`)
	for _, line := range bytes.Split(page, []byte("\n")) {
		m := draw.FindSubmatch(line)
		if m == nil {
			continue
		}
		id := string(m[1])
		if id == "pareto" || strings.HasPrefix(id, "pareto_") || strings.HasPrefix(id, "progress_") || strings.HasPrefix(id, "coefficients_") {
			continue
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Run directories written before the report was built from sections (the
// views.json, state, front and adamerging.json of one real run of each of
// M2N2, MAP, AdaMerging and FW-Merging) render the same method sections
// as then: the golden files hold what that version rendered.
func TestOldRunDirectoriesRenderTheSameSections(t *testing.T) {
	cases := []struct {
		name     string
		kinds    []string
		contains []string
	}{
		{"m2n2", []string{reports.SectionArchive}, []string{"seed=1: M2N2&#39;s starting model 2, not a merge", "This run's genomes have no named coefficients."}},
		{"map", []string{reports.SectionSurrogate}, nil},
		{"adamerging", []string{reports.SectionTrajectory}, []string{"<dt>AdaMerging adapted on</dt><dd>unlabelled test inputs</dd>", `<p class="caveat" id="run-note">`}},
		{"fw", []string{reports.SectionFrankWolfe}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "report-v1", c.name)
			r, err := ReportModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, s := range r.Sections {
				kinds = append(kinds, s.Kind)
			}
			if strings.Join(kinds, " ") != strings.Join(c.kinds, " ") {
				t.Errorf("sections %q, want %q", kinds, c.kinds)
			}
			var buf bytes.Buffer
			if err := reports.Render(&buf, r); err != nil {
				t.Fatal(err)
			}
			page := buf.Bytes()
			for _, s := range c.contains {
				if !bytes.Contains(page, []byte(s)) {
					t.Errorf("page lacks %q", s)
				}
			}
			got := sectionsHTML(page)
			golden := filepath.Join("testdata", "report-v1", c.name+".sections.html")
			if *updateReportGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("the method sections differ from %s (%d bytes, want %d)", golden, len(got), len(want))
			}
		})
	}
}
