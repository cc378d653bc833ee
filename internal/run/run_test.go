package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/population"
)

// smokeCache holds the tiny mnist-tasks benchmark shared by the tests.
var smokeCache string

func TestMain(m *testing.M) {
	os.Exit(testkit.Main(m, "run", &smokeCache))
}

// smokeConfig is a run on the smoke recipe of mnist-tasks (a few hundred
// training images, 200 evaluation images) that takes a second or two.
func smokeConfig(out string) string {
	return testkit.SmokeSearch{Seed: 9, Output: out, CacheDir: smokeCache, Evaluations: 44, Objectives: "[[objectives]]\ntask = \"all\"\n"}.TOML()
}

func decodeSmoke(t *testing.T, out string, edit func(string) string) *configs.Experiment {
	t.Helper()
	src := smokeConfig(out)
	if edit != nil {
		src = edit(src)
	}
	exp, err := configs.DecodeExperiment("smoke.toml", []byte(src), registry.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// frontKey summarises a front for comparison: member ids with their
// fitness and test scores.
func frontKey(f rundir.Front) []string {
	var out []string
	for _, m := range f.Members {
		s := fmt.Sprintf("%s %v", m.ID, m.Validation)
		if m.Test != nil {
			s += fmt.Sprintf(" test %v", m.Test.Accuracy)
		}
		out = append(out, s)
	}
	return out
}

// short is the id prefix messages show (rundir.ShortID).
func short(id string) string { return rundir.ShortID(id) }

func candidateIDs(cands []*population.Candidate) []string {
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.ID
	}
	return ids
}

// uninterrupted runs the smoke experiment once per test binary.
var (
	referenceOnce sync.Once
	reference     *Outcome
	referenceErr  error
)

func referenceRun(t *testing.T) *Outcome {
	t.Helper()
	referenceOnce.Do(func() {
		dir, err := os.MkdirTemp(smokeCache, "reference-*")
		if err != nil {
			referenceErr = err
			return
		}
		exp, err := configs.DecodeExperiment("smoke.toml", []byte(smokeConfig(dir)), registry.Catalog())
		if err != nil {
			referenceErr = err
			return
		}
		reference, referenceErr = Start(context.Background(), exp, Options{})
	})
	if referenceErr != nil {
		t.Fatal(referenceErr)
	}
	return reference
}

func TestRunWritesRunDirectory(t *testing.T) {
	ref := referenceRun(t)
	if ref.Status != rundir.StateFinished || ref.Result.Evaluations != 44 || len(ref.Front.Members) == 0 {
		t.Fatalf("status %s, %d evaluations, %d front members; want finished, 44, >0", ref.Status, ref.Result.Evaluations, len(ref.Front.Members))
	}
	for _, name := range []string{rundir.ConfigFile, rundir.JournalFile, rundir.StateFile, rundir.FrontFile, rundir.LogFile} {
		if _, err := os.Stat(filepath.Join(ref.Dir, name)); err != nil {
			t.Errorf("run directory lacks %s: %v", name, err)
		}
	}
	// The resolved config reads back with defaults filled in.
	exp, err := configs.LoadExperiment(filepath.Join(ref.Dir, rundir.ConfigFile), registry.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	if exp.Evaluator.Kind != evaluate.NativeKind || exp.Objectives[0].Direction != "maximize" {
		t.Errorf("resolved config: evaluator %q, objectives %+v", exp.Evaluator.Kind, exp.Objectives)
	}
	// The journal holds every evaluation made (duplicates answered from it
	// are not written twice).
	j, err := rundir.ReadJournal(filepath.Join(ref.Dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Records) != ref.Evaluated || ref.Evaluated+ref.Replayed != 44 {
		t.Errorf("journal has %d records, %d evaluated + %d from the journal; want records = evaluated, sum 44", len(j.Records), ref.Evaluated, ref.Replayed)
	}
	st, ok, err := rundir.ReadState(ref.Dir)
	if err != nil || !ok {
		t.Fatalf("state: %v %v", ok, err)
	}
	if st.Status != rundir.StateFinished || st.Evaluations != 44 || st.Sessions != 1 || len(st.Objectives) != 4 || len(st.Dimensions) != 8 {
		t.Errorf("state = %+v", st)
	}
	front, err := rundir.ReadFront(ref.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(frontKey(front), frontKey(ref.Front)) {
		t.Errorf("front.json differs from the outcome")
	}
	for _, m := range front.Members {
		if m.Test == nil || len(m.Test.Accuracy) != 4 || m.Test.MeanNormalized == nil || m.FitnessTasks == nil {
			t.Fatalf("front member %s lacks test or fitness scores: %+v", short(m.ID), m)
		}
		// Fitness-split accuracies from the correctness bits agree with the
		// objective scores (accuracy of each task).
		for k, v := range m.Validation {
			if math.Abs(v-m.FitnessTasks.Accuracy[k]) > 1e-12 {
				t.Errorf("member %s task %d: objective %v, accuracy from correctness %v", short(m.ID), k, v, m.FitnessTasks.Accuracy[k])
			}
		}
	}
	if front.AverageTest == nil || len(front.ExpertTest) != 4 {
		t.Errorf("front lacks the plain-average and expert references: %+v %v", front.AverageTest, front.ExpertTest)
	}
}

func TestRefusesExistingRunDirectory(t *testing.T) {
	ref := referenceRun(t)
	exp := decodeSmoke(t, ref.Dir, nil)
	_, err := Start(context.Background(), exp, Options{})
	if err == nil || !strings.Contains(err.Error(), "evomerge resume "+ref.Dir) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("error %v, want a refusal that says how to resume or force", err)
	}
}

// cancelAfter cancels a context once the run's progress has printed n
// batch lines.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
	mu     sync.Mutex
	seen   int
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen += bytes.Count(p, []byte("eval "))
	if c.seen >= c.n {
		c.cancel()
	}
	return len(p), nil
}

func TestCancelledRunResumesToTheSameFront(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := Start(ctx, decodeSmoke(t, dir, nil), Options{Out: &cancelAfter{n: 2, cancel: cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v, want context.Canceled", err)
	}
	if first.Status != rundir.StateInterrupted || first.Result.Evaluations >= 44 {
		t.Fatalf("cancelled run: status %s after %d evaluations", first.Status, first.Result.Evaluations)
	}
	if st, _, _ := rundir.ReadState(dir); st.Status != rundir.StateInterrupted {
		t.Errorf("state after cancel: %q, want %q", st.Status, rundir.StateInterrupted)
	}
	second, err := Resume(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Replayed < first.Result.Evaluations || second.Evaluated == 0 {
		t.Errorf("resume answered %d from the journal and evaluated %d; the first session evaluated %d", second.Replayed, second.Evaluated, first.Result.Evaluations)
	}
	if !reflect.DeepEqual(candidateIDs(second.Result.Candidates), candidateIDs(ref.Result.Candidates)) {
		t.Error("the resumed run proposed a different sequence of candidates than the uninterrupted one")
	}
	if got, want := frontKey(second.Front), frontKey(ref.Front); !reflect.DeepEqual(got, want) {
		t.Errorf("resumed front\n%v\nwant\n%v", got, want)
	}
	if st, _, _ := rundir.ReadState(dir); st.Sessions != 2 || st.Status != rundir.StateFinished {
		t.Errorf("state after resume: %+v", st)
	}
}

func TestTruncatedJournalResumesToTheSameFront(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A copy of the finished run with its journal cut in the middle of a
	// record, as a kill during a write leaves it.
	for _, name := range []string{rundir.ConfigFile, rundir.JournalFile} {
		data, err := os.ReadFile(filepath.Join(ref.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == rundir.JournalFile {
			lines := bytes.SplitAfter(data, []byte("\n"))
			keep := len(lines) / 2
			cut := len(bytes.Join(lines[:keep], nil)) + len(lines[keep])/2
			data = data[:cut]
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	res, err := Resume(context.Background(), dir, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dropped an incomplete last record") {
		t.Errorf("resume did not report the torn record:\n%s", out.String())
	}
	if got, want := frontKey(res.Front), frontKey(ref.Front); !reflect.DeepEqual(got, want) {
		t.Errorf("front after a torn journal\n%v\nwant\n%v", got, want)
	}
	if res.Evaluated == 0 || res.Evaluated >= ref.Evaluated {
		t.Errorf("resume evaluated %d candidates; the full run evaluated %d", res.Evaluated, ref.Evaluated)
	}
	if _, err := rundir.ReadJournal(filepath.Join(dir, rundir.JournalFile)); err != nil {
		t.Errorf("journal after resume: %v", err)
	}
}

func TestStatusMatchesRun(t *testing.T) {
	ref := referenceRun(t)
	st, err := rundir.Status(ref.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != rundir.StateFinished || st.Journaled != ref.Evaluated || st.Evaluations != 44 || st.MaxEvaluations != 44 || st.Sessions != 1 {
		t.Errorf("status = %+v", st)
	}
	if len(st.Best) != 4 {
		t.Fatalf("best = %+v", st.Best)
	}
	for i, b := range st.Best {
		want := math.Inf(-1)
		for _, c := range ref.Result.Candidates {
			if c.OK() {
				want = math.Max(want, c.Scores[i])
			}
		}
		if b.Value == nil || *b.Value != want {
			t.Errorf("best %s = %v, want %v", b.Objective, b.Value, want)
		}
	}
	distinct := map[string]bool{}
	for _, m := range ref.Front.Members {
		distinct[m.ID] = true
	}
	if st.FrontSize < len(distinct) || st.PerSecond <= 0 {
		t.Errorf("front size %d (run front has %d distinct members), %v evaluations/s", st.FrontSize, len(distinct), st.PerSecond)
	}
	// What the run wrote verifies: every record has its checksum and its
	// scores agree with its per-example results.
	v, err := rundir.Verify(ref.Dir)
	if err != nil || !v.OK() {
		t.Fatalf("verify of the reference run: %v %q", err, v.Problems)
	}
	want := fmt.Sprintf("%d checksums verified; the scores of %d records cross-checked", ref.Evaluated, ref.Evaluated)
	if checked := strings.Join(v.Checked, "\n"); !strings.Contains(checked, want) {
		t.Errorf("verify checked:\n%s\nlacks %q", checked, want)
	}
}

func TestComposeProblemsNameKeys(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown task and layer group, bad fixed value", func(s string) string {
			s = strings.Replace(s, "per_group = true", `groups = ["layers.7"]`, 1)
			s = strings.Replace(s, `task = "all"`, `task = "colour"`, 1)
			return strings.Replace(s, "[[merge.search]]", "[merge.params]\nlambda = 50.0\n\n[[merge.search]]", 1)
		}, []string{"merge.params.lambda", "merge.search[0].groups[0]"}},
		{"unknown operator", func(s string) string {
			return strings.Replace(s, `operator = "task_arithmetic"`, `operator = "blend"`, 1)
		}, []string{"merge.operator"}},
		{"average start point outside the bounds", func(s string) string {
			return strings.Replace(s, "lower = 0.0", "lower = 0.5", 1)
		}, []string{"search.nsga2.start_points[0]"}},
		{"unknown task", func(s string) string {
			return strings.Replace(s, `task = "all"`, `task = "colour"`, 1)
		}, []string{"objectives[0].task"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := decodeSmoke(t, t.TempDir(), tt.edit)
			_, err := compose(context.Background(), exp, composeOptions{WithMethod: true})
			var ps configs.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v (%T), want configs.Problems", err, err)
			}
			var keys []string
			for _, p := range ps {
				keys = append(keys, p.Key)
			}
			if !reflect.DeepEqual(keys, tt.want) {
				t.Errorf("problems %v, want keys %v", ps, tt.want)
			}
		})
	}
}

func TestResumeWarnsWhenTheJournalDoesNotMatch(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(ref.Dir, rundir.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	// Another seed proposes other candidates: nothing journaled matches.
	cfg = bytes.Replace(cfg, []byte("seed = 9"), []byte("seed = 10"), 1)
	journal, err := os.ReadFile(filepath.Join(ref.Dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{rundir.ConfigFile: cfg, rundir.JournalFile: journal} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	res, err := Resume(context.Background(), dir, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warning: none of the") || res.Replayed > res.Result.Evaluations-res.Evaluated {
		t.Errorf("replayed %d, evaluated %d; output:\n%s", res.Replayed, res.Evaluated, out.String())
	}
}

func TestFailedSetupLeavesNoRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	bad := decodeSmoke(t, dir, func(s string) string {
		return strings.Replace(s, `operator = "task_arithmetic"`, `operator = "blend"`, 1)
	})
	if _, err := Start(context.Background(), bad, Options{}); err == nil || !strings.Contains(err.Error(), "merge.operator") {
		t.Fatalf("error %v, want one naming merge.operator", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a run that never started left %s behind (%v)", dir, err)
	}
	good := decodeSmoke(t, dir, func(s string) string { return strings.Replace(s, "max_evaluations = 44", "max_evaluations = 8", 1) })
	if _, err := Start(context.Background(), good, Options{}); err != nil {
		t.Fatalf("the fixed config does not start: %v", err)
	}
}

func TestResumeRefusesAnEditedJournal(t *testing.T) {
	ref := referenceRun(t)
	journal, err := os.ReadFile(filepath.Join(ref.Dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(journal, []byte("\n"))
	// Line 3's first score, edited: 0.xyz becomes 0.999 (a better merge
	// than was measured).
	var rec rundir.Record
	if err := json.Unmarshal(lines[2], &rec); err != nil {
		t.Fatal(err)
	}
	score, _ := json.Marshal(rec.Scores[0])
	edit := func(line []byte) []byte {
		return bytes.Replace(line, []byte(`"scores":[`+string(score)), []byte(`"scores":[0.999`), 1)
	}
	unsum := func(line []byte) []byte {
		var r rundir.Record
		if err := json.Unmarshal(line, &r); err != nil {
			return line
		}
		r.Sum = ""
		b, _ := json.Marshal(&r)
		return append(b, '\n')
	}
	tests := []struct {
		name    string
		journal func() []byte
		errHas  string
	}{
		{"edited score", func() []byte {
			out := slices.Clone(lines)
			out[2] = edit(out[2])
			return bytes.Join(out, nil)
		}, ":3: record " + short(rec.ID) + " fails its checksum"},
		{"edited score in a journal without checksums", func() []byte {
			out := make([][]byte, len(lines))
			for i, l := range lines {
				out[i] = unsum(l)
			}
			out[2] = edit(out[2])
			return bytes.Join(out, nil)
		}, ":3: record " + short(rec.ID) + ": score 0.999 of objective "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			os.MkdirAll(dir, 0o755)
			cfg, err := os.ReadFile(filepath.Join(ref.Dir, rundir.ConfigFile))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, rundir.ConfigFile), cfg, 0o644)
			os.WriteFile(filepath.Join(dir, rundir.JournalFile), tt.journal(), 0o644)
			_, err = Resume(context.Background(), dir, Options{})
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, rundir.JournalFile)+tt.errHas) || !strings.Contains(err.Error(), "`evomerge resume "+dir+"`") {
				t.Fatalf("resume of an edited journal: %v; want an error containing %q", err, tt.errHas)
			}
		})
	}
}
