package rundir

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/reports"
)

var updateReportGolden = flag.Bool("update-report", false, "rewrite the report golden files in testdata/report-v1 (only after checking the change is wanted)")

// testRunOptions shapes a synthetic run directory in the format a run
// writes.
type testRunOptions struct {
	evaluations int
	torn        bool   // append an incomplete last journal line
	corruptLine int    // 1-based journal line to corrupt (0: none)
	finished    bool   // state "finished" and a front.json
	noState     bool   // no state.json yet
	views       string // views.json contents ("" : none)
	experiment  string // experiment name in state.json
}

func testRecordID(i int) string { return fmt.Sprintf("%016x%048x", uint64(i+1)*0x9e3779b97f4a7c15, i) }

// testScores places candidate i on a trade-off between the two tasks.
func testScores(i int) []float64 {
	a := float64(i%10) / 10
	return []float64{0.5 + 0.4*a - 0.01*float64(i%3), 0.9 - 0.4*a}
}

func journalLine(i int) string {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	rec := map[string]any{
		"v": 1, "id": testRecordID(i),
		"genome":   map[string]any{"values": []float64{0.1 * float64(i%5), 0.5, 0.25, 0.75}},
		"lineage":  map[string]any{"generation": i / 4},
		"status":   "ok",
		"scores":   testScores(i),
		"started":  t0.Add(time.Duration(i) * time.Second),
		"finished": t0.Add(time.Duration(i+1) * time.Second),
		"correct":  []map[string]any{{"task": "rotated", "bits": map[string]any{"n": 3, "words": []uint64{5}}}},
	}
	if i%7 == 6 {
		delete(rec, "scores")
		rec["status"] = "failed"
		rec["error"] = `evaluator exited with status 1: <oops>`
	}
	b, _ := json.Marshal(rec)
	return string(b) + "\n"
}

func writeTestRun(t *testing.T, o testRunOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runs", "nsga2 two-tasks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	examples, _ := configs.Examples()
	cfg, ok := examples["experiment-nsga2.toml"]
	if !ok {
		t.Fatal("the nsga2 example experiment is not embedded")
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ConfigFile, string(cfg))
	status := "running"
	if o.finished {
		status = "finished"
	}
	name := o.experiment
	if name == "" {
		name = "nsga2-two-tasks"
	}
	objectives := []map[string]any{
		{"name": "rotated/accuracy", "task": "rotated", "metric": "accuracy", "direction": "maximize"},
		{"name": "permuted/accuracy", "task": "permuted", "metric": "accuracy", "direction": "maximize"},
	}
	dims := []string{"layers.0/lambda", "layers.1/lambda", "weight[rotated]", "weight[permuted]"}
	if !o.noState {
		st, _ := json.Marshal(map[string]any{
			"v": 1, "experiment": name, "algorithm": "nsga2", "status": status,
			"objectives": objectives, "dimensions": dims, "max_evaluations": 400,
			"evaluations": o.evaluations, "elapsed_seconds": 2 * o.evaluations, "stop_reason": map[bool]string{true: "evaluation-limit"}[o.finished],
			"started": time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
			"updated": time.Date(2026, 11, 29, 12, 0, o.evaluations, 0, time.UTC),
		})
		write(StateFile, string(st))
	}
	var journal strings.Builder
	for i := 0; i < o.evaluations; i++ {
		line := journalLine(i)
		if i+1 == o.corruptLine {
			line = line[:len(line)/2] + "\n"
		}
		journal.WriteString(line)
	}
	if o.torn {
		full := journalLine(o.evaluations)
		journal.WriteString(full[:len(full)/3])
	}
	write(JournalFile, journal.String())
	if o.views != "" {
		write(ViewsFile, o.views)
	}
	if o.finished {
		mean := 0.93
		front, _ := json.Marshal(map[string]any{
			"v": 1, "experiment": name, "status": "finished", "objectives": objectives,
			"fitness_split": "validation", "dimensions": dims, "evaluations": o.evaluations,
			"tasks":                        []string{"rotated", "permuted"},
			"expert_test_accuracy":         []float64{0.97, 0.96},
			"plain_average_test":           map[string]any{"split": "test", "accuracy": []float64{0.61, 0.58}},
			"expert_fitness_accuracy":      []float64{0.95, 0.94},
			"plain_average_fitness":        map[string]any{"split": "validation", "accuracy": []float64{0.625, 0.5625}},
			"plain_average_fitness_scores": []float64{0.625, 0.5625},
			"members": []map[string]any{{
				"id": testRecordID(9), "genome": map[string]any{"values": []float64{0.4, 0.5, 0.25, 0.75}},
				"lineage": map[string]any{"generation": 2}, "fitness_scores": testScores(9),
				"test": map[string]any{"split": "test", "accuracy": []float64{0.8125, 0.4375}, "mean_normalized_accuracy": mean},
			}},
		})
		write(FrontFile, string(front))
	}
	return dir
}

// testViews is a views.json with every algorithm view.
var testViews = `{
  "m2n2_archive": [
    {"evaluations": 4, "members": [{"id": "a", "solved": {"n": 3, "words": [5]}}, {"id": "b", "solved": {"n": 3, "words": [2]}}]},
    {"evaluations": 8, "members": [{"id": "a", "solved": {"n": 3, "words": [7]}}]}
  ],
  "map_surrogate": [
    {"id": "x", "objective": 0, "predicted": 0.5, "measured": 0.55},
    {"id": "y", "objective": 0, "predicted": 0.7, "measured": 0.65},
    {"id": "z", "objective": 0, "predicted": 0.6, "measured": 0.62, "held_out": true},
    {"id": "w", "objective": 0, "predicted": 0.8, "measured": 0.7, "held_out": true}
  ],
  "adamerging_trajectory": [
    {"step": 0, "loss": 1.2, "coefficients": [0.3, 0.3, 0.3, 0.3]},
    {"step": 1, "loss": 0.9, "coefficients": [0.35, 0.3, 0.32, 0.28]}
  ],
  "fw_iterations": [
    {"iteration": 0, "selected": ["rotated", "rotated", "permuted"], "step_size": 1, "loss": 0.8},
    {"iteration": 1, "selected": ["permuted"], "step_size": 0.67, "loss": 0.6}
  ]
}`

func TestWriteReport(t *testing.T) {
	cases := []struct {
		name     string
		opt      testRunOptions
		contains []string
	}{
		{"mid-run with a torn last line", testRunOptions{evaluations: 20, torn: true}, []string{
			"Run in progress.", "<dd>20 of 400 (5.0%)</dd>", "<dd>18 / 2</dd>", "test scores are pending",
			"evaluator exited with status 1: &lt;oops&gt;", `evomerge.draw("pareto", `, `evomerge.draw("coefficients_0", `,
		}},
		{"finished with a front", testRunOptions{evaluations: 14, finished: true}, []string{
			"Run finished (evaluation-limit).", "<dt>evaluations/s</dt><dd>0.500</dd>", `<td data-sort="0.8125" class="test num">0.8125</td>`, `<td data-sort="0.93" class="test num">0.93</td>`,
			"expert of rotated", "plain average of the experts", `<td data-sort="0.61" class="test num">0.61</td>`,
			"evomerge export ", "--candidate " + testRecordID(9),
		}},
		{"with algorithm views", testRunOptions{evaluations: 10, views: testViews}, []string{
			`evomerge.draw("m2n2_coverage", `, `evomerge.draw("m2n2_solved", `, `evomerge.draw("map_surrogate", `,
			"rotated/accuracy, held out: R² = ", `evomerge.draw("adamerging_coefficients", `, `evomerge.draw("fw_selected", `,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTestRun(t, c.opt)
			res, err := WriteReport(context.Background(), dir, "")
			if err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(filepath.Join(dir, ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			if res.Path != filepath.Join(dir, ReportFile) || res.Bytes != len(page) || res.Evaluations != c.opt.evaluations || res.Finished != c.opt.finished {
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
		{"not started", func(t *testing.T) string { return writeTestRun(t, testRunOptions{evaluations: 3, noState: true}) }, "has not started evaluating yet"},
		{"unknown views key", func(t *testing.T) string {
			return writeTestRun(t, testRunOptions{evaluations: 3, views: `{"m2n2_archiv": []}`})
		}, `views.json: json: unknown field "m2n2_archiv"`},
		{"surrogate of an unknown objective", func(t *testing.T) string {
			return writeTestRun(t, testRunOptions{evaluations: 3, views: `{"map_surrogate": [{"id": "x", "objective": 2, "predicted": 1, "measured": 1}]}`})
		}, "views.json: reports: surrogate point of candidate x names objective 2 but the run has 2 objectives"},
		{"trajectory of other dimensions", func(t *testing.T) string {
			return writeTestRun(t, testRunOptions{evaluations: 3, views: `{"adamerging_trajectory": [{"step": 3, "loss": 1, "coefficients": [1, 2]}]}`})
		}, "AdaMerging step 3 has 2 coefficients but the run names 4 dimensions"},
		{"corrupt journal line", func(t *testing.T) string {
			return writeTestRun(t, testRunOptions{evaluations: 6, corruptLine: 2})
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
	dir := writeTestRun(t, testRunOptions{evaluations: 5})
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
	dir := writeTestRun(t, testRunOptions{evaluations: 14, finished: true, torn: true})
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
	dir := writeTestRun(t, testRunOptions{evaluations: 10, views: testViews})
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
	dir := writeTestRun(t, testRunOptions{evaluations: 7, finished: true})
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
