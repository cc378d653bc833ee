package nats

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evomerge/evomerge/population"
)

func TestSetupEncodeIsStable(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	body1, d1, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSetup(body1)
	if err != nil {
		t.Fatal(err)
	}
	body2, d2, err := back.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 || string(body1) != string(body2) {
		t.Fatalf("decode+encode changed the setup: %s vs %s", d1, d2)
	}
	back.Seed++
	if _, d3, _ := back.Encode(); d3 == d1 {
		t.Error("a different seed gave the same digest")
	}
	// The decoded setup builds the same evaluator.
	a, b := localNative(t, s), localNative(t, back)
	if a.Version() != b.Version() {
		t.Errorf("versions differ: %s vs %s", a.Version(), b.Version())
	}
}

func TestSetupValidate(t *testing.T) {
	good := func(t *testing.T) *Setup { return writePool(t, t.TempDir(), 10) }
	tests := []struct {
		name   string
		change func(*Setup)
		want   string
	}{
		{"version", func(s *Setup) { s.V = 9 }, "setup version 9"},
		{"no experts", func(s *Setup) { s.Experts = nil }, "no expert checkpoints"},
		{"bad digest", func(s *Setup) { s.Experts[0].Digest = "abc" }, `digest "abc" is not a hex sha256`},
		{"unnamed model", func(s *Setup) { s.Experts[1].Name = "" }, "empty name"},
		{"no operator", func(s *Setup) { s.Operator = "" }, "no merge operator"},
		{"no objectives", func(s *Setup) { s.Objectives = nil }, "no objectives"},
		{"negative examples", func(s *Setup) { s.Examples = -1 }, "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good(t)
			tc.change(s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if err := good(t).Validate(); err != nil {
		t.Fatalf("valid setup: %v", err)
	}
}

// A worker on another machine finds the sources in its content-addressed
// cache when the coordinator's paths are missing or hold other files, and
// builds the very same evaluator.
func TestBuildResolvesSourcesByDigest(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	want := localNative(t, s)
	cache := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cache, "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ref := range append([]ModelRef{*s.Base}, s.Experts...) {
		if err := os.Rename(ref.Path, CachePath(cache, ref.Digest)); err != nil {
			t.Fatal(err)
		}
	}
	// The base's path now holds another file.
	if err := os.WriteFile(s.Base.Path, []byte("not the base"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := s.Build(context.Background(), BuildOptions{Kinds: testKinds, SourceCache: cache, Tasks: syntheticTasks})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version() != want.Version() || got.EvalSpec() != want.EvalSpec() {
		t.Errorf("built from the cache: version %s spec-digest %s, from the paths: %s %s", got.Version(), SpecDigest(got.EvalSpec())[:12], want.Version(), SpecDigest(want.EvalSpec())[:12])
	}
	// Missing everywhere: the error names the model, its digest and where
	// to put it.
	missing := s.Experts[1]
	if err := os.Remove(CachePath(cache, missing.Digest)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Build(context.Background(), BuildOptions{Kinds: testKinds, SourceCache: cache, Tasks: syntheticTasks})
	for _, part := range []string{`model "beta"`, missing.Digest, CachePath(cache, missing.Digest), "(missing)"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("error %v does not mention %q", err, part)
		}
	}
}

func TestRequestAndResultValidate(t *testing.T) {
	id := strings.Repeat("a", 64)
	okReq := func() Request {
		return Request{V: RequestVersion, CandidateID: id, Setup: strings.Repeat("b", 64), Genome: population.VectorGenome([]float64{1}), MaxDurationMS: 1000}
	}
	reqs := []struct {
		name   string
		change func(*Request)
		want   string
	}{
		{"ok", func(*Request) {}, ""},
		{"version", func(r *Request) { r.V = 2 }, "request version 2"},
		{"id", func(r *Request) { r.CandidateID = "x" }, "candidate id"},
		{"setup", func(r *Request) { r.Setup = "" }, "setup digest"},
		{"time limit", func(r *Request) { r.MaxDurationMS = 0 }, "time limit"},
		{"genome", func(r *Request) { r.Genome = population.Genome{} }, "genome"},
	}
	for _, tc := range reqs {
		r := okReq()
		tc.change(&r)
		err := r.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("request %s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	okRes := func() Result {
		return Result{V: ResultVersion, CandidateID: id, Status: population.StatusOK, Scores: []float64{0.5}}
	}
	results := []struct {
		name   string
		change func(*Result)
		want   string
	}{
		{"ok", func(*Result) {}, ""},
		{"failed with reason", func(r *Result) { r.Status, r.Scores, r.Error = population.StatusFailed, nil, "boom" }, ""},
		{"version", func(r *Result) { r.V = 0 }, "result version 0"},
		{"no scores", func(r *Result) { r.Scores = nil }, "no scores"},
		{"failed without reason", func(r *Result) { r.Status = population.StatusFailed }, "without a reason"},
		{"pending", func(r *Result) { r.Status = population.StatusPending }, `status "pending"`},
		{"bits", func(r *Result) {
			r.Correct = []population.TaskCorrectness{{Task: "a", Bits: population.Bitset{N: 100, Words: []uint64{1}}}}
		}, "task a"},
	}
	for _, tc := range results {
		r := okRes()
		tc.change(&r)
		err := r.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("result %s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// A stored result under another key answers failed, with how to fix it.
	r := okRes()
	r.CandidateID = strings.Repeat("c", 64)
	body := []byte(`{"v":1,"candidate_id":"` + r.CandidateID + `","status":"ok","scores":[1]}`)
	if got := decodeEntry(id, body); got.Status != population.StatusFailed || !strings.Contains(got.Error, "delete key "+id) {
		t.Errorf("misfiled result: %s %q", got.Status, got.Error)
	}
}

// A worker whose evaluator differs from the coordinator's (other task data
// here) never scores: after the attempts the candidate fails with the
// reason.
func TestMismatchedWorkerNeverScores(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	srv, ev := coordinator(t, s, testTopology(2), time.Minute)
	nc := connect(t, srv.ClientURL())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var st WorkerStats
	go func() {
		defer wg.Done()
		var err error
		st, err = RunWorker(ctx, nc, WorkerOptions{
			Build: BuildOptions{Kinds: testKinds, Tasks: syntheticTasks},
			Builder: func(ctx context.Context, s *Setup, opt BuildOptions) (ScoringEvaluator, error) {
				other := *s
				other.Examples = 7 // this worker's data differ
				return other.Build(ctx, opt)
			},
		})
		if err != nil {
			t.Error(err)
		}
	}()
	batch := candidatesOf([]float64{1, 1})
	if err := ev.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	c := batch[0]
	if c.Status != population.StatusFailed || !strings.Contains(c.Error, "no result after 2 attempts") || !strings.Contains(c.Error, "evaluation spec") {
		t.Errorf("candidate: %s %q", c.Status, c.Error)
	}
	if st.Retried != 2 || st.Exhausted != 1 || st.Evaluated != 0 {
		t.Errorf("worker stats %+v: want 2 retries, 1 exhausted, none evaluated", st)
	}
}
