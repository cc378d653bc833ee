package rundir

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/reports"
	"github.com/evomerge/evomerge/search/adamerging"
)

// sameScores compares score vectors, NaN equal to NaN.
func sameScores(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || !math.IsNaN(want[i]) && math.Abs(got[i]-want[i]) > 1e-12 {
			return false
		}
	}
	return true
}

var allMetricObjectives = []fitness.Objective{
	{Name: "a/accuracy", Task: "a", Metric: "accuracy", Direction: fitness.Maximize},
	{Name: "b/normalized_accuracy", Task: "b", Metric: "normalized_accuracy", Direction: fitness.Maximize},
	{Name: "mean/accuracy", Task: "mean", Metric: "accuracy", Direction: fitness.Maximize},
	{Name: "mean/normalized_accuracy", Task: "mean", Metric: "normalized_accuracy", Direction: fitness.Maximize},
	{Name: "mean/loss", Task: "mean", Metric: "loss", Direction: fitness.Minimize},
	{Name: "c/accuracy", Task: "c", Metric: "accuracy", Direction: fitness.Maximize},
}

func TestObjectiveScores(t *testing.T) {
	nan := math.NaN()
	tasks := []string{"a", "b"}
	cases := []struct {
		name string
		s    *SplitScores
		want []float64
	}{
		{"nil", nil, []float64{nan, nan, nan, nan, nan, nan}},
		// mean accuracy (0.75+0.5)/2; mean normalized as recorded
		{"full", &SplitScores{Accuracy: []float64{0.75, 0.5}, Normalized: []float64{0.8, 0.625}, MeanNormalized: ptr(0.7125)},
			[]float64{0.75, 0.625, 0.625, 0.7125, nan, nan}},
		// no recorded mean: the mean of the per-task normalized accuracies
		{"no mean recorded", &SplitScores{Accuracy: []float64{0.75, 0.5}, Normalized: []float64{0.875, 0.625}},
			[]float64{0.75, 0.625, 0.625, 0.75, nan, nan}},
		{"accuracy only", &SplitScores{Accuracy: []float64{0.25, 0.5}}, []float64{0.25, nan, 0.375, nan, nan, nan}},
		{"wrong length", &SplitScores{Accuracy: []float64{0.25}}, []float64{nan, nan, nan, nan, nan, nan}},
	}
	for _, c := range cases {
		if got := objectiveScores(allMetricObjectives, tasks, c.s); !sameScores(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestExpertObjectiveScores(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		task string
		acc  float64
		want []float64
	}{
		{"a", 0.9, []float64{0.9, nan, nan, nan, nan, nan}},
		{"b", 0.8, []float64{nan, 1, nan, nan, nan, nan}}, // normalized by itself
		{"b", 0, []float64{nan, nan, nan, nan, nan, nan}},
		{"c", nan, []float64{nan, nan, nan, nan, nan, nan}},
	}
	for _, c := range cases {
		if got := expertObjectiveScores(allMetricObjectives, c.task, c.acc); !sameScores(got, c.want) {
			t.Errorf("expert of %s (%g): %v, want %v", c.task, c.acc, got, c.want)
		}
	}
}

func TestAddFrontMeanObjectives(t *testing.T) {
	nan := math.NaN()
	objs := []fitness.Objective{
		{Name: "mean/normalized_accuracy", Task: "mean", Metric: "normalized_accuracy", Direction: fitness.Maximize},
		{Name: "mean/loss", Task: "mean", Metric: "loss", Direction: fitness.Minimize},
	}
	f := Front{
		FitnessSplit: "validation", Tasks: []string{"a", "b"},
		ExpertTest: []float64{0.8, 0.9}, ExpertValidation: []float64{0.82, 0.91},
		AverageTest:          &SplitScores{Split: "test", Accuracy: []float64{0.4, 0.45}, Normalized: []float64{0.5, 0.5}, MeanNormalized: ptr(0.5)},
		AverageFitness:       &SplitScores{Split: "validation", Accuracy: []float64{0.41, 0.455}, Normalized: []float64{0.5, 0.5}, MeanNormalized: ptr(0.5)},
		AverageFitnessScores: []float64{0.5, 1.375},
		Note:                 "AdaMerging is test-time adaptation",
		Members: []FrontMember{
			{ID: "m1", Validation: []float64{0.75, 0.625}, Test: &SplitScores{Split: "heldout", Accuracy: []float64{0.6, 0.675}, Normalized: []float64{0.75, 0.75}, MeanNormalized: ptr(0.75)}},
			{ID: "m2", Validation: []float64{0.5}}, // another objective set: left out
			{ID: "m3", Validation: []float64{0.7, 0.5}},
		},
	}
	r := &reports.Run{Objectives: objs}
	addFront(r, f)
	if r.Note != f.Note || r.TestSplit != "heldout" || r.FitnessSplit != "validation" {
		t.Errorf("note %q test split %q fitness split %q", r.Note, r.TestSplit, r.FitnessSplit)
	}
	if len(r.Front) != 2 || r.Front[0].ID != "m1" || r.Front[1].ID != "m3" {
		t.Fatalf("front %+v, want m1 and m3", r.Front)
	}
	if !sameScores(r.Front[0].Test, []float64{0.75, nan}) || r.Front[0].NormalizedAccuracy != 0.75 {
		t.Errorf("m1 test %v normalized %g, want [0.75 NaN] and 0.75", r.Front[0].Test, r.Front[0].NormalizedAccuracy)
	}
	if r.Front[1].Test != nil || !math.IsNaN(r.Front[1].NormalizedAccuracy) {
		t.Errorf("m3 has no test scores, got %v %g", r.Front[1].Test, r.Front[1].NormalizedAccuracy)
	}
	// An expert's mean over tasks is unknown: experts have no score here
	// and are left out; the plain average has both splits (its loss from
	// the recorded fitness scores).
	if len(r.References) != 1 {
		t.Fatalf("references %+v, want the plain average only", r.References)
	}
	avg := r.References[0]
	if avg.Kind != reports.ReferenceAverage || !sameScores(avg.Validation, []float64{0.5, 1.375}) || !sameScores(avg.Test, []float64{0.5, nan}) {
		t.Errorf("plain average %+v", avg)
	}
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
}

func TestAddFrontWithoutAverageFitnessScores(t *testing.T) {
	objs := allMetricObjectives[:2]
	f := Front{
		Tasks:          []string{"a", "b"},
		AverageFitness: &SplitScores{Accuracy: []float64{0.5, 0.25}, Normalized: []float64{0.625, 0.375}},
	}
	r := &reports.Run{Objectives: objs}
	addFront(r, f)
	if len(r.References) != 1 || !sameScores(r.References[0].Validation, []float64{0.5, 0.375}) || !sameScores(r.References[0].Test, []float64{math.NaN(), math.NaN()}) {
		t.Errorf("references %+v, want the average at (0.5, 0.375) with no test scores", r.References)
	}
}

func TestReportAdaptationInputs(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 6, Finished: true})
	// No adamerging.json: the config's setting; with one: what it records.
	cfg := filepath.Join(dir, ConfigFile)
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := configs.DecodeExperiment(cfg, text, registry.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	// An NSGA-II run has neither: no inputs, whatever it is named.
	if got, err := adaptationInputs(dir, exp); err != nil || got != "" {
		t.Errorf("inputs of an nsga2 run: %q, %v", got, err)
	}
	tab, _ := registry.Catalog().AlgorithmTable(adamerging.Name)
	tab.Target().(*adamerging.Settings).Inputs = "validation"
	exp.Search.Algorithm, exp.Search.Table = adamerging.Name, tab
	got, err := adaptationInputs(dir, exp)
	if err != nil || got != "validation" {
		t.Errorf("inputs from the config: %q, %v", got, err)
	}
	rec := `{"v": 1, "inputs": "test", "coefficients": [0.3], "names": ["weight[a]"]}`
	if err := os.WriteFile(filepath.Join(dir, AdaMergingFile), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = adaptationInputs(dir, exp)
	if err != nil || got != "test" {
		t.Errorf("inputs from adamerging.json: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, AdaMergingFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := adaptationInputs(dir, exp); err == nil || !strings.Contains(err.Error(), AdaMergingFile) {
		t.Errorf("a broken adamerging.json: %v, want an error naming it", err)
	}
}

func TestDescribeSeeds(t *testing.T) {
	r := &reports.Run{
		Dims: []string{"seed"},
		Candidates: []reports.Candidate{
			{Candidate: population.Candidate{ID: "s1", Genome: population.VectorGenome([]float64{1}), Lineage: population.Lineage{Operator: "seed"}}},
			{Candidate: population.Candidate{ID: "c1", Genome: population.Genome{Recipe: &population.Recipe{Operator: "m2n2", Parents: []string{"s1", "s0"}}}, Lineage: population.Lineage{Operator: "m2n2"}}},
		},
		Front: []reports.FrontMember{{ID: "s1"}, {ID: "c1"}},
	}
	describeSeeds(r)
	if r.Dims != nil {
		t.Errorf("dims %q: M2N2's seed index is not a coefficient", r.Dims)
	}
	if got, want := r.Front[0].Recipe, "seed=1: M2N2's starting model 2, not a merge"; got != want {
		t.Errorf("seed member recipe %q, want %q", got, want)
	}
	if r.Front[1].Recipe != "" {
		t.Errorf("a child's recipe is its genome, got %q", r.Front[1].Recipe)
	}
	// Coefficient dimensions of another method are left alone.
	other := &reports.Run{Dims: []string{"layers.0/weight[a]"}}
	describeSeeds(other)
	if len(other.Dims) != 1 {
		t.Errorf("dims of a coefficient run changed: %q", other.Dims)
	}
}

// A front whose validation-best and test-best members differ: the report,
// status and export's default all take the validation-best.
func TestValidationBestIsChosenEverywhere(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 12, Finished: true})
	f, err := ReadFront(dir)
	if err != nil {
		t.Fatal(err)
	}
	member := func(i int, val, test float64) FrontMember {
		return FrontMember{
			ID: testkit.RecordID(i), Genome: f.Members[0].Genome, Validation: testkit.RecordScores(i),
			FitnessTasks: &SplitScores{Split: "validation", Accuracy: []float64{val, val}, MeanNormalized: &val},
			Test:         &SplitScores{Split: "test", Accuracy: []float64{test, test}, MeanNormalized: &test},
		}
	}
	testBest, valBest := member(3, 0.70, 0.90), member(9, 0.75, 0.60)
	f.Members = []FrontMember{testBest, valBest}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FrontFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _, err := LoadReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Chosen != valBest.ID || !strings.Contains(r.ChosenBy, "validation") {
		t.Errorf("report chose %s (%s), want the validation-best %s", r.Chosen, r.ChosenBy, valBest.ID)
	}
	st, err := Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Chosen != valBest.ID {
		t.Errorf("status chose %s, want %s", st.Chosen, valBest.ID)
	}
	if m, _, ok, err := ChosenMember(dir); err != nil || !ok || m.ID != valBest.ID {
		t.Errorf("export's default %s (%v, %v), want %s", m.ID, ok, err, valBest.ID)
	}
}
