package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/fw"
)

// derivedConfig replaces the smoke config's [[merge.search]] and search
// tables by an algorithm that derives its own coefficients.
func derivedConfig(algorithm, table string) func(string) string {
	return func(s string) string {
		s = strings.Replace(s, "[[merge.search]]\nparam = \"weight\"\nper_model = true\nper_group = true\nlower = 0.0\nupper = 1.0\n", "", 1)
		s = strings.Replace(s, "max_evaluations = 44\n", "", 1)
		s = strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "`+algorithm+`"`, 1)
		return strings.Replace(s, "[search.nsga2]\npopulation_size = 8\nstart_points = [\"average\"]", table, 1)
	}
}

// TestAdaMergingRunsResumesAndSeeds runs layer-wise AdaMerging end to end:
// one journaled candidate, adamerging.json, the trajectory view in the
// run's dimension order, the test-time-adaptation note in front.json; a
// resume reads the learned coefficients instead of optimising again; and
// an NSGA-II run seeded with "adamerging:<dir>" asks the learned point
// first.
func TestAdaMergingRunsResumesAndSeeds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ada")
	exp := decodeSmoke(t, dir, derivedConfig("adamerging", "[search.adamerging]\nsteps = 6\nbatch_size = 4\nlearning_rate = 0.01"))
	first, err := Start(context.Background(), exp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != rundir.StateFinished || first.Result.Evaluations != 1 || len(first.Front.Members) != 1 {
		t.Fatalf("status %s, %d evaluations, front %d; want one candidate", first.Status, first.Result.Evaluations, len(first.Front.Members))
	}
	if first.Front.Note != adamerging.Note {
		t.Errorf("front note %q, want the test-time adaptation note", first.Front.Note)
	}
	if first.Front.Members[0].Test == nil {
		t.Error("the learned merge was not scored on test")
	}
	rec, err := rundir.ReadAdaMerging(filepath.Join(dir, rundir.AdaMergingFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Trajectory) != 6 || rec.Inputs != "test" {
		t.Fatalf("adamerging.json: %d steps, inputs %q", len(rec.Trajectory), rec.Inputs)
	}
	views, err := rundir.ReadViews(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(views.Trajectory) != 6 {
		t.Fatalf("views: %d trajectory steps, want 6", len(views.Trajectory))
	}
	// The genome is the learned coefficients and the view holds each
	// step's coefficients, both in dimension order.
	dims := first.Front.Dimensions
	genome := first.Front.Members[0].Genome.Values
	last := views.Trajectory[5].Coefficients
	if len(dims) != len(rec.Names) || len(last) != len(dims) {
		t.Fatalf("%d dimensions, %d names, %d trajectory coefficients", len(dims), len(rec.Names), len(last))
	}
	for i, name := range rec.Names {
		j := indexOf(dims, name)
		if j < 0 || genome[j] != rec.Coefficients[i] || last[j] != rec.Trajectory[5].Coefficients[i] {
			t.Fatalf("coefficient %s: learned %g, genome %v, view %v", name, rec.Coefficients[i], genome, last)
		}
	}
	if f := first.Front; len(f.ExpertValidation) != 4 || len(f.AverageFitnessScores) != len(f.Objectives) ||
		f.AverageFitness == nil || len(f.AverageFitness.Accuracy) != 4 || f.AverageFitness.MeanNormalized == nil ||
		!reflect.DeepEqual(f.AverageFitness.Accuracy, f.AverageFitnessScores) { // objectives: each task's accuracy
		t.Errorf("validation references: experts %v, average %+v scores %v", f.ExpertValidation, f.AverageFitness, f.AverageFitnessScores)
	}
	// Resume: the coefficients are read back, the candidate replayed.
	again, err := Resume(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Evaluated != 0 || again.Replayed != 1 || !reflect.DeepEqual(frontKey(again.Front), frontKey(first.Front)) {
		t.Errorf("resume evaluated %d, replayed %d, front %v want %v", again.Evaluated, again.Replayed, frontKey(again.Front), frontKey(first.Front))
	}

	// A group-wise search seeded by the layer-wise result cannot match
	// names; a per-tensor one is not expressible in [[merge.search]], so
	// seed a task-wise AdaMerging run's coefficients into per-model weights.
	taskDir := filepath.Join(t.TempDir(), "ada-task")
	texp := decodeSmoke(t, taskDir, derivedConfig("adamerging", "[search.adamerging]\ngranularity = \"task\"\nsteps = 4\nbatch_size = 4"))
	if _, err := Start(context.Background(), texp, Options{}); err != nil {
		t.Fatal(err)
	}
	learned, err := rundir.ReadAdaMerging(filepath.Join(taskDir, rundir.AdaMergingFile))
	if err != nil {
		t.Fatal(err)
	}
	seeded := decodeSmoke(t, filepath.Join(t.TempDir(), "seeded"), func(s string) string {
		s = strings.Replace(s, "per_group = true\n", "", 1)
		s = strings.Replace(s, "max_evaluations = 44", "max_evaluations = 8", 1)
		return strings.Replace(s, `start_points = ["average"]`, `start_points = ["adamerging:`+taskDir+`"]`, 1)
	})
	out, err := Start(context.Background(), seeded, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := rundir.ReadJournal(filepath.Join(out.Dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	firstGenome := j.Records[0].Genome.Values
	for i, name := range learned.Names {
		k := indexOf(out.Front.Dimensions, name)
		if k < 0 || firstGenome[k] != learned.Coefficients[i] {
			t.Fatalf("the seeded run's first candidate %v does not start at the learned %v (%v)", firstGenome, learned.Coefficients, learned.Names)
		}
	}
	// A missing run is a config problem naming the key.
	bad := decodeSmoke(t, filepath.Join(t.TempDir(), "bad"), func(s string) string {
		return strings.Replace(s, `start_points = ["average"]`, `start_points = ["adamerging:/nonexistent/run"]`, 1)
	})
	if _, err := Start(context.Background(), bad, Options{}); err == nil || !strings.Contains(err.Error(), "search.nsga2.start_points[0]") {
		t.Errorf("missing AdaMerging run: error %v, want one naming search.nsga2.start_points[0]", err)
	}
}

// TestAdaMergingPerLayerGroup runs group-wise AdaMerging: its coefficients
// are the per_group task-arithmetic weights, named like those of a
// [[merge.search]] with per_model and per_group.
func TestAdaMergingPerLayerGroup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ada-group")
	exp := decodeSmoke(t, dir, derivedConfig("adamerging", "[search.adamerging]\ngranularity = \"group\"\nsteps = 2\nbatch_size = 4\ninputs = \"validation\""))
	out, err := Start(context.Background(), exp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"layers.1/weight[digits]", "layers.1/weight[rotated]", "layers.1/weight[permuted]", "layers.1/weight[mod3]",
		"layers.3/weight[digits]", "layers.3/weight[rotated]", "layers.3/weight[permuted]", "layers.3/weight[mod3]",
	}
	if !reflect.DeepEqual(out.Front.Dimensions, want) || out.Result.Evaluations != 1 {
		t.Fatalf("dimensions %v after %d evaluations, want %v", out.Front.Dimensions, out.Result.Evaluations, want)
	}
	if out.Front.Note != "" {
		t.Errorf("adapting on validation inputs carries the note %q", out.Front.Note)
	}
}

// TestAdaMergingSeedsCMAES continues task-wise AdaMerging++ with CMA-ES
// (seed_search): the learned point is the first candidate, CMA-ES spends
// the rest of the budget around it.
func TestAdaMergingSeedsCMAES(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ada-cmaes")
	exp := decodeSmoke(t, dir, func(s string) string {
		s = derivedConfig("adamerging", "[search.adamerging]\ngranularity = \"task\"\nplus_plus = true\nsteps = 4\nbatch_size = 4\nseed_search = \"cmaes\"")(s)
		return strings.Replace(s, "concurrency = 1", "concurrency = 1\nmax_evaluations = 9", 1)
	})
	out, err := Start(context.Background(), exp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Evaluations != 9 {
		t.Fatalf("%d evaluations, want 9", out.Result.Evaluations)
	}
	rec, err := rundir.ReadAdaMerging(filepath.Join(dir, rundir.AdaMergingFile))
	if err != nil {
		t.Fatal(err)
	}
	j, err := rundir.ReadJournal(filepath.Join(dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if j.Records[0].Lineage.Operator != "adamerging" {
		t.Errorf("first candidate made by %q, want the AdaMerging result", j.Records[0].Lineage.Operator)
	}
	for i, name := range rec.Names {
		k := indexOf(out.Front.Dimensions, name)
		if k < 0 || j.Records[0].Genome.Values[k] != rec.Coefficients[i] {
			t.Fatalf("first candidate %v is not the learned %v", j.Records[0].Genome.Values, rec.Coefficients)
		}
	}
	for _, r := range j.Records[1:] {
		if r.Lineage.Operator == "adamerging" {
			t.Errorf("candidate %s after the first claims to be AdaMerging's", r.ID)
		}
	}
	again, err := Resume(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Evaluated != 0 || again.Replayed != 9 || !reflect.DeepEqual(frontKey(again.Front), frontKey(out.Front)) {
		t.Errorf("resume evaluated %d, replayed %d", again.Evaluated, again.Replayed)
	}
}

// TestFWRunsAndItsGenomeIsTheMerge runs hard and soft FW-Merging: the
// journaled genome (per-tensor task-arithmetic weights tracked through the
// iterations) must rebuild the evaluator's merged model, so its fitness
// scores equal the merged model's.
func TestFWRunsAndItsGenomeIsTheMerge(t *testing.T) {
	for _, tt := range []struct{ name, table string }{
		{"hard", "[search.fw]\niterations = 3\nstep_size = 1.0\nproxy_examples = 40"},
		{"hard-ta-start", "[search.fw]\niterations = 2\ninit = \"task_arithmetic\"\ngranularity = \"task\"\nproxy_examples = 40"},
		{"extra-member", "[search.fw]\niterations = 2\nstep_size = 1.0\nproxy_examples = 40\n\n[[models.experts]]\nname = \"copy\"\npath = \"EXPERT\""},
		{"soft", "[search.fw]\nvariant = \"soft\"\niterations = 2\nproxy_examples = 40\nada_steps = 3\nada_inputs = \"validation\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fw")
			table := tt.table
			if strings.Contains(table, "EXPERT") {
				// A copy of the digits expert joins the benchmark's pool.
				bench, err := benchmarks.Prepare(context.Background(), "mnist-tasks", benchmarks.Options{CacheDir: smokeCache, Recipe: smokeRecipe(t, "mnist-tasks")})
				if err != nil {
					t.Fatal(err)
				}
				m, _ := bench.Expert("digits")
				table = strings.Replace(table, "EXPERT", m.Path, 1)
			}
			exp := decodeSmoke(t, dir, derivedConfig("fw", table))
			first, err := Start(context.Background(), exp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if want := 4 + len(exp.Models.Experts); len(first.Front.Dimensions)%want != 0 || len(first.Front.Dimensions) == 0 {
				t.Fatalf("%d dimensions for a pool of %d", len(first.Front.Dimensions), want)
			}
			if first.Result.Evaluations != 1 || len(first.Front.Members) != 1 {
				t.Fatalf("%d evaluations, front %d", first.Result.Evaluations, len(first.Front.Members))
			}
			views, err := rundir.ReadViews(dir)
			if err != nil {
				t.Fatal(err)
			}
			fwSettings, _ := registry.Settings(exp)
			if iters := fwSettings.(*fw.Settings).Iterations; len(views.FrankWolfe) != iters {
				t.Fatalf("%d FW iterations in views.json, want %d", len(views.FrankWolfe), iters)
			}
			b, err := os.ReadFile(filepath.Join(dir, rundir.FWFile))
			if err != nil {
				t.Fatal(err)
			}
			var rec rundir.FWRecord
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			// The journaled genome rebuilds FW's merged model (checked by the
			// run against the evaluator's θt), and the merge moved.
			if rec.Deviation > 1e-5 || len(rec.Coefficients) != len(first.Front.Dimensions) {
				t.Errorf("fw.json: deviation %g, %d coefficients for %d dimensions", rec.Deviation, len(rec.Coefficients), len(first.Front.Dimensions))
			}
			moved := false
			for _, v := range rec.Coefficients {
				moved = moved || v != 0
			}
			if !moved {
				t.Error("every tracked coefficient is 0: FW never left the base")
			}
			again, err := Resume(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Evaluated != 0 || !reflect.DeepEqual(frontKey(again.Front), frontKey(first.Front)) {
				t.Errorf("resume evaluated %d; front %v want %v", again.Evaluated, frontKey(again.Front), frontKey(first.Front))
			}
		})
	}
}

// TestTrackFWMatchesTheUpdateRule checks the coefficient tracking on a
// hand-computed case: two members, two tensors.
func TestTrackFWMatchesTheUpdateRule(t *testing.T) {
	w := []float64{0, 0, 0, 0} // model-major: w[k*2+l]
	// Iteration 0: tensor 0 -> member 1, tensor 1 -> base; γ = 1 (η 1, t 0), scale 0.5.
	if err := trackFW(w, 2, 2, fw.Iteration{T: 0, Gamma: 1, Vertex: []int{1, search.VertexBase}}, 0.5); err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 0, 0.5, 0}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("after step 0: %v, want %v", w, want)
	}
	// Iteration 1: tensor 0 -> member 0, tensor 1 stays; γ = 2/3, scale 0.5 -> s = 1/3.
	if err := trackFW(w, 2, 2, fw.Iteration{T: 1, Gamma: 2.0 / 3, Vertex: []int{0, search.VertexStay}}, 0.5); err != nil {
		t.Fatal(err)
	}
	want = []float64{1.0 / 3, 0, 0.5 * (1 - 1.0/3), 0}
	for i := range w {
		if math.Abs(w[i]-want[i]) > 1e-15 {
			t.Fatalf("after step 1: %v, want %v", w, want)
		}
	}
	// Soft: member 1 selected with c = (0.2, 0.4) on the two tensors.
	if err := trackFW(w, 2, 2, fw.Iteration{T: 2, Selected: []int{1}, Coefficients: []float64{0.2, 0.4}}, 1); err != nil {
		t.Fatal(err)
	}
	want = []float64{1.0 / 3 * 0.8, 0, 1.0/3*0.8 + 0.2, 0.4}
	for i := range w {
		if math.Abs(w[i]-want[i]) > 1e-15 {
			t.Fatalf("after the soft step: %v, want %v", w, want)
		}
	}
}

// TestMAPRunsWithSurrogateView runs MAP on two tasks of the smoke
// benchmark: it stops by itself after its design and re-evaluations, and
// views.json holds surrogate predictions against measured scores.
func TestMAPRunsWithSurrogateView(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "map")
	exp := decodeSmoke(t, dir, func(s string) string {
		s = strings.Replace(s, "per_group = true\n", "", 1)
		s = strings.Replace(s, "max_evaluations = 44\n", "", 1)
		s = strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "map"`, 1)
		s = strings.Replace(s, "[search.nsga2]\npopulation_size = 8\nstart_points = [\"average\"]", "[search.map]\nreevaluate = 2\ngrid_points = 21\npreferences = [[1.0, 1.0, 1.0, 1.0]]", 1)
		return s
	})
	first, err := Start(context.Background(), exp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 4 task vectors: (N+1)(N+2) = 30 design points, then 1 + 2 chosen.
	if first.Status != rundir.StateFinished || first.Result.Evaluations < 30 || first.Result.Evaluations > 33 {
		t.Fatalf("status %s after %d evaluations", first.Status, first.Result.Evaluations)
	}
	views, err := rundir.ReadViews(dir)
	if err != nil {
		t.Fatal(err)
	}
	design, held := 0, 0
	for _, p := range views.Surrogate {
		if p.HeldOut {
			held++
		} else {
			design++
		}
	}
	if design != 30*4 || held == 0 {
		t.Errorf("surrogate view: %d design and %d held-out points, want 120 and some", design, held)
	}
	again, err := Resume(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Evaluated != 0 || !reflect.DeepEqual(frontKey(again.Front), frontKey(first.Front)) {
		t.Errorf("resume evaluated %d", again.Evaluated)
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// m2n2Config is M2N2 on the smoke recipe of an M2N2 benchmark.
func m2n2Config(out, benchmark, table string, evals int) string {
	return fmt.Sprintf(`
[experiment]
name = "m2n2-smoke"
seed = 3
output = %q

[models]
benchmark = %q
recipe = "smoke"
cache_dir = %q

[merge]
operator = "m2n2"

[search]
algorithm = "m2n2"
max_evaluations = %d

[search.m2n2]
%s

[[objectives]]
task = "digits"
metric = "accuracy"

[evaluator]
examples = 60
`, out, benchmark, smokeCache, evals, table)
}

// TestM2N2RunsAndResumesFromAPartialJournal runs M2N2 from the two
// specialists, then replays a copy of the run whose journal lost its later
// half: the journaled candidates are answered from the journal, their
// weights rebuilt from their recipes when they are parents, and the front
// equals the uninterrupted run's. views.json holds archive snapshots.
func TestM2N2RunsAndResumesFromAPartialJournal(t *testing.T) {
	for _, tt := range []struct{ benchmark, table string }{
		{"m2n2-specialists", "archive_size = 4\nsnapshot_every = 5"},
		{"m2n2-scratch", "archive_size = 4\nmutation_sigma = 0.01\nseeds = 3"},
	} {
		t.Run(tt.benchmark, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m2n2")
			exp, err := configs.DecodeExperiment("m2n2.toml", []byte(m2n2Config(dir, tt.benchmark, tt.table, 20)), registry.Catalog())
			if err != nil {
				t.Fatal(err)
			}
			first, err := Start(context.Background(), exp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if first.Status != rundir.StateFinished || first.Result.Evaluations != 20 || len(first.Front.Members) == 0 || first.Front.Members[0].Test == nil {
				t.Fatalf("status %s, %d evaluations, front %+v", first.Status, first.Result.Evaluations, first.Front.Members)
			}
			views, err := rundir.ReadViews(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(views.Archive) < 2 || views.Archive[len(views.Archive)-1].Evaluations != 20 {
				t.Fatalf("archive snapshots: %+v", views.Archive)
			}
			for _, m := range views.Archive[len(views.Archive)-1].Members {
				if m.Solved.Len() != 60 {
					t.Fatalf("member %s solves a set of %d examples, want 60", m.ID, m.Solved.Len())
				}
			}
			// Export rebuilds a front member from its lineage: the checkpoint
			// scores on test as the run scored it.
			best := first.Front.Members[0]
			ex, err := Export(context.Background(), dir, best.ID[:10], filepath.Join(t.TempDir(), "export"))
			if err != nil {
				t.Fatal(err)
			}
			bench, err := benchmarks.Prepare(context.Background(), tt.benchmark, benchmarks.Options{CacheDir: smokeCache, Recipe: smokeRecipe(t, tt.benchmark)})
			if err != nil {
				t.Fatal(err)
			}
			sc, err := bench.EvaluateFile(context.Background(), ex.Files[0], data.Test, benchmarks.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sc.Tasks[0].Accuracy != best.Test.Accuracy[0] {
				t.Errorf("exported checkpoint scores %v on test, the run scored it %v", sc.Tasks[0].Accuracy, best.Test.Accuracy[0])
			}
			// Keep the first 12 journal records only.
			path := filepath.Join(dir, rundir.JournalFile)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(b), "\n")
			if err := os.WriteFile(path, []byte(strings.Join(lines[:12], "")), 0o644); err != nil {
				t.Fatal(err)
			}
			again, err := Resume(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Replayed != 12 || again.Evaluated != 8 {
				t.Errorf("resume replayed %d and evaluated %d; want 12 and 8", again.Replayed, again.Evaluated)
			}
			if !reflect.DeepEqual(frontKey(again.Front), frontKey(first.Front)) {
				t.Errorf("front after resume %v, want %v", frontKey(again.Front), frontKey(first.Front))
			}
		})
	}
}

func smokeRecipe(t *testing.T, benchmark string) *benchmarks.Recipe {
	t.Helper()
	r, err := benchmarks.SmokeRecipe(benchmark)
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

// cancelOnLine is an output that cancels a run once it has printed a line
// containing marker.
type cancelOnLine struct {
	marker string
	cancel context.CancelFunc
	seen   bool
}

func (w *cancelOnLine) Write(p []byte) (int, error) {
	if !w.seen && strings.Contains(string(p), w.marker) {
		w.seen = true
		w.cancel()
	}
	return len(p), nil
}

// TestAdaMergingInterruptedResumesWhereItStopped interrupts AdaMerging in
// the middle of its Adam steps, as Ctrl-C does: the resumed run continues
// from the last saved step (it does not take the earlier steps again) and
// ends with exactly the coefficients, trajectory and front of an
// uninterrupted run.
func TestAdaMergingInterruptedResumesWhereItStopped(t *testing.T) {
	table := "[search.adamerging]\nsteps = 12\nbatch_size = 4\nlearning_rate = 0.02"
	whole := filepath.Join(t.TempDir(), "whole")
	ref, err := Start(context.Background(), decodeSmoke(t, whole, derivedConfig("adamerging", table)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := rundir.ReadAdaMerging(filepath.Join(whole, rundir.AdaMergingFile))
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "cut")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Steps are saved every 12/10 = 1 step; stop after step 5.
	out := &cancelOnLine{marker: "adamerging: step 5/12", cancel: cancel}
	cut, err := Start(ctx, decodeSmoke(t, dir, derivedConfig("adamerging", table)), Options{Out: out})
	if !errors.Is(err, context.Canceled) || cut == nil {
		t.Fatalf("interrupted run: %v, want it cancelled", err)
	}
	if cut.Status != rundir.StateInterrupted || cut.Result.Evaluations != 0 {
		t.Fatalf("interrupted run: status %s, %d evaluations; want interrupted before its candidate", cut.Status, cut.Result.Evaluations)
	}
	st, _, err := rundir.ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Adam struct {
			Step int `json:"step"`
		} `json:"adam"`
	}
	if err := json.Unmarshal(st.MethodState, &saved); err != nil || saved.Adam.Step < 5 || saved.Adam.Step >= 12 {
		t.Fatalf("state.json method state: step %d (%v), want the step the run stopped at", saved.Adam.Step, err)
	}

	var log strings.Builder
	again, err := Resume(context.Background(), dir, Options{Out: &log})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "adamerging: step 1/12") || !strings.Contains(log.String(), "adamerging: step 12/12") {
		t.Errorf("the resumed run did not continue from step %d:\n%s", saved.Adam.Step, log.String())
	}
	got, err := rundir.ReadAdaMerging(filepath.Join(dir, rundir.AdaMergingFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Result, want.Result) {
		t.Errorf("resumed AdaMerging learned\n%+v\nwant (uninterrupted)\n%+v", got.Result, want.Result)
	}
	if again.Status != rundir.StateFinished || !reflect.DeepEqual(frontKey(again.Front), frontKey(ref.Front)) {
		t.Errorf("resumed front %v (%s), want %v", frontKey(again.Front), again.Status, frontKey(ref.Front))
	}
}

// TestFWInterruptedResumesWhereItStopped interrupts FW-Merging between
// iterations, hard and soft: the resumed run replays the saved iterations'
// moves, computes only the remaining ones and ends with the merge, record
// and front of an uninterrupted run.
func TestFWInterruptedResumesWhereItStopped(t *testing.T) {
	for _, tt := range []struct{ name, table string }{
		{"hard", "[search.fw]\niterations = 4\nstep_size = 1.0\nproxy_examples = 40"},
		{"soft", "[search.fw]\nvariant = \"soft\"\niterations = 4\nproxy_examples = 40\nada_steps = 3\nada_inputs = \"validation\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			whole := filepath.Join(t.TempDir(), "whole")
			ref, err := Start(context.Background(), decodeSmoke(t, whole, derivedConfig("fw", tt.table)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			readRecord := func(dir string) rundir.FWRecord {
				b, err := os.ReadFile(filepath.Join(dir, rundir.FWFile))
				if err != nil {
					t.Fatal(err)
				}
				var rec rundir.FWRecord
				if err := json.Unmarshal(b, &rec); err != nil {
					t.Fatal(err)
				}
				return rec
			}
			want := readRecord(whole)

			dir := filepath.Join(t.TempDir(), "cut")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &cancelOnLine{marker: "fw: iteration 2/4", cancel: cancel}
			if _, err := Start(ctx, decodeSmoke(t, dir, derivedConfig("fw", tt.table)), Options{Out: out}); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v, want it cancelled", err)
			}
			var log strings.Builder
			again, err := Resume(context.Background(), dir, Options{Out: &log})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(log.String(), "fw: iteration 1/4") || !strings.Contains(log.String(), "fw: iteration 4/4") {
				t.Errorf("the resumed run did not continue after the saved iterations:\n%s", log.String())
			}
			if got := readRecord(dir); !reflect.DeepEqual(got, want) {
				t.Errorf("resumed FW record\n%+v\nwant (uninterrupted)\n%+v", got, want)
			}
			if !reflect.DeepEqual(frontKey(again.Front), frontKey(ref.Front)) {
				t.Errorf("resumed front %v, want %v", frontKey(again.Front), frontKey(ref.Front))
			}
		})
	}
}
