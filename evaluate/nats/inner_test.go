package nats

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
)

// scoreScript scores a merged checkpoint by its bytes: two numbers from
// its CRC, so different merges score differently and equal merges equally
// on every machine.
const scoreScript = `set -e
sum=$(cksum < "$1" | cut -d' ' -f1)
printf '{"scores": {"alpha/accuracy": %s, "beta/accuracy": %s}}\n' "$((sum % 1000))" "$((sum / 1000 % 1000))"`

// commandSetup is the synthetic pool's setup scored by scoreScript.
func commandSetup(t *testing.T) *Setup {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on this system")
	}
	if _, err := exec.LookPath("cksum"); err != nil {
		t.Skip("no cksum on this system")
	}
	s := writePool(t, t.TempDir(), 0)
	s.Kind = evaluate.CommandKind
	settings, err := json.Marshal(map[string]any{"command": []string{"sh", "-c", scoreScript, "sh", "{model}"}, "timeout": "1m0s"})
	if err != nil {
		t.Fatal(err)
	}
	s.Settings = settings
	return s
}

// Worker processes build the command evaluator a setup names and score
// with it: the distributed search evaluates the same candidates, with the
// same ids and scores, and ends on the same front as the in-process search
// with the command evaluator.
func TestWorkersRunTheCommandEvaluator(t *testing.T) {
	s := commandSetup(t)
	built, err := s.BuildEvaluator(context.Background(), BuildOptions{Kinds: testKinds})
	if err != nil {
		t.Fatal(err)
	}
	local := built.Evaluator
	if _, ok := local.(*evaluate.Command); !ok || built.Native != nil {
		t.Fatalf("the setup built %T (native %v), want the command evaluator", local, built.Native != nil)
	}
	if !strings.Contains(local.EvalSpec(), `"evaluator":"command"`) {
		t.Fatalf("evaluation spec %s is not the command evaluator's", local.EvalSpec())
	}
	want := searchRun(t, s, local, local.EvalSpec(), local.Version())
	scores := map[float64]bool{}
	for _, c := range want.Candidates {
		if !c.OK() {
			t.Fatalf("in-process candidate %s: %s", short(c.ID), c.Error)
		}
		scores[c.Scores[0]] = true
	}
	if len(scores) < 2 {
		t.Fatalf("the in-process candidates all score %v: the script does not tell merges apart", scores)
	}

	srv := startServer(t, "127.0.0.1:0", t.TempDir())
	nc := connect(t, srv.ClientURL())
	ev, err := NewEvaluator(context.Background(), nc, s, local, Options{Topology: testTopology(3), Run: t.Name(), MaxDuration: time.Minute, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The workers' default builder: the kind the setup names, no test
	// behaviours.
	w1 := startWorker(t, srv.ClientURL(), 0, time.Minute, 1, envNative+"=1")
	w2 := startWorker(t, srv.ClientURL(), 0, time.Minute, 2, envNative+"=1")
	got := searchRun(t, s, ev, ev.EvalSpec(), ev.Version())
	if got.Evaluations != want.Evaluations || len(got.Candidates) != len(want.Candidates) {
		t.Fatalf("distributed run: %d evaluations, %d candidates; in-process: %d, %d", got.Evaluations, len(got.Candidates), want.Evaluations, len(want.Candidates))
	}
	workers := map[string]bool{}
	for i, c := range got.Candidates {
		w := want.Candidates[i]
		if c.ID != w.ID || c.Status != w.Status || !reflect.DeepEqual(c.Scores, w.Scores) || !c.Genome.Equal(w.Genome) {
			t.Errorf("candidate %d: distributed %s %s %v %s, in-process %s %s %v %s", i, short(c.ID), c.Status, c.Scores, c.Error, short(w.ID), w.Status, w.Scores, w.Error)
		}
		if c.OK() {
			workers[storedResult(t, ev, c.ID).Worker] = true
		}
	}
	if !reflect.DeepEqual(got.Front, want.Front) {
		t.Errorf("front %v, in-process %v", got.Front, want.Front)
	}
	if len(workers) == 0 {
		t.Fatal("no stored result names a worker")
	}
	names := map[string]bool{"w" + itoa(w1.cmd.Process.Pid): true, "w" + itoa(w2.cmd.Process.Pid): true}
	for w := range workers {
		if !names[w] {
			t.Errorf("a result comes from %q, not one of the worker processes %v", w, names)
		}
	}
}

// The nats kind's factory describes a command evaluation to workers: the
// kind and its completed settings travel in the setup, no benchmark is
// needed, and the coordinator's own evaluator is the command evaluator the
// workers build.
func TestBuildDescribesTheInnerKind(t *testing.T) {
	s := commandSetup(t)
	files := evaluate.PoolFiles{Base: s.Base.Path}
	for _, e := range s.Experts {
		files.Models = append(files.Models, e.Path)
		files.Names = append(files.Names, e.Name)
	}
	pool, err := evaluate.LoadPool(files)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	op, err := operators.Builtin().Get(s.Operator)
	if err != nil {
		t.Fatal(err)
	}
	_, mapping, err := searchspace.Derive(op.Params(), s.Search)
	if err != nil {
		t.Fatal(err)
	}
	env := evaluate.Env{
		Merge: evaluate.MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: s.Seed},
		Spec:  s.Search, Files: &files, Objectives: s.Objectives,
	}
	settings := withKinds(&Settings{Inner: map[string]any{"kind": "command", "command": []any{"sh", "-c", scoreScript, "sh", "{model}"}}})
	settings.Defaults()
	var problems []string
	settings.Validate(func(key, msg string) { problems = append(problems, key+": "+msg) })
	if len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	if settings.Inner["timeout"] != "10m0s" || settings.InnerKind() != "command" {
		t.Errorf("completed [evaluator.inner]: %v, want the command kind with its default timeout", settings.Inner)
	}
	built, err := Build(context.Background(), settings, env)
	if err != nil {
		t.Fatal(err)
	}
	if built.Native != nil || built.Sessions == nil {
		t.Errorf("built %+v: want no native evaluator and a session starter", built)
	}
	setup := built.Sessions.(*sessions).setup
	if setup.Kind != "command" || setup.Benchmark != nil || setup.Examples != 0 {
		t.Errorf("setup kind %q, benchmark %v, examples %d", setup.Kind, setup.Benchmark, setup.Examples)
	}
	var travelled map[string]any
	if err := json.Unmarshal(setup.Settings, &travelled); err != nil || travelled["timeout"] != "10m0s" || len(travelled["command"].([]any)) != 5 {
		t.Errorf("settings in the setup: %s (%v)", setup.Settings, err)
	}
	worker, err := setup.BuildEvaluator(context.Background(), BuildOptions{Kinds: testKinds})
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Evaluator.Merger().Pool().Close()
	if worker.Evaluator.EvalSpec() != built.Evaluator.EvalSpec() || worker.Evaluator.Version() != built.Evaluator.Version() {
		t.Errorf("the worker's evaluator is not the coordinator's:\n%s %s\n%s %s", worker.Evaluator.EvalSpec(), worker.Evaluator.Version(), built.Evaluator.EvalSpec(), built.Evaluator.Version())
	}
}

// A native evaluation is described as before kinds travelled (no kind, no
// settings: the same digest), and the settings' problems with the inner
// table are reported with keys relative to [evaluator].
func TestInnerSettings(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	body, _, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), `"kind"`) || strings.Contains(string(body), `"settings"`) {
		t.Errorf("a native setup encodes a kind or settings: %s", body)
	}
	if n := withKinds(&Settings{Examples: 5}); n.FitnessExamples() != 5 || n.InnerKind() != evaluate.NativeKind {
		t.Errorf("no inner table: examples %d, kind %q", n.FitnessExamples(), n.InnerKind())
	}
	if n := withKinds(&Settings{Inner: map[string]any{"examples": int64(7)}}); n.FitnessExamples() != 7 {
		t.Errorf("inner native examples: %d, want 7", n.FitnessExamples())
	}
	tests := []struct {
		settings Settings
		want     []string
	}{
		{Settings{Inner: map[string]any{"kind": "nats"}}, []string{"inner.kind: workers cannot score through NATS themselves"}},
		{Settings{Inner: map[string]any{"kind": "grpc"}}, []string{`inner.kind: unknown evaluator "grpc" for the workers: use "native" or "command"`}},
		{Settings{Inner: map[string]any{"kind": int64(3)}}, []string{"inner.kind: wrong type: want a string"}},
		{Settings{Inner: map[string]any{"kind": "command", "comand": []any{"x"}, "timeout": "soon"}}, []string{
			"inner.comand: unknown key; allowed here: command, dir, timeout",
			`inner.timeout: wrong type: want a duration such as "90s" or "2h30m", got "soon"`}},
		{Settings{Inner: map[string]any{"kind": "command", "command": "score"}}, []string{"inner.command: wrong type: want an array"}},
		{Settings{Inner: map[string]any{"kind": "command", "command": []any{" "}, "timeout": "-1s"}}, []string{
			"inner.command: missing: give the argv", "inner.timeout: -1s: give a positive duration"}},
		{Settings{Examples: 3, Inner: map[string]any{"kind": "command", "command": []any{"score"}}}, []string{
			`examples: only used when the workers score natively (inner.kind = "command" here)`}},
		{Settings{Examples: 3, Inner: map[string]any{"examples": int64(4)}}, []string{"examples: 3, but inner.examples is 4"}},
		{Settings{Inner: map[string]any{"examples": int64(-1)}}, []string{"inner.examples: -1: give a positive count"}},
	}
	for _, tc := range tests {
		tc.settings.kinds = testKinds
		tc.settings.Defaults()
		var got []string
		tc.settings.Validate(func(key, msg string) { got = append(got, key+": "+msg) })
		if len(got) != len(tc.want) {
			t.Errorf("%v: problems %q, want %q", tc.settings.Inner, got, tc.want)
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("%v: problem %q, want %q", tc.settings.Inner, got[i], w)
			}
		}
	}
}

// closeCounter is a ScoringEvaluator that counts its Close calls.
type closeCounter struct {
	ScoringEvaluator
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// A worker closes an evaluator it no longer keeps once the last
// evaluation using it is done, and not before.
func TestWorkerClosesDroppedEvaluators(t *testing.T) {
	w := &worker{}
	c := &closeCounter{}
	b := &builtEvaluator{digest: "d", ev: c}
	w.buildMu.Lock()
	first, second := w.use(b), w.use(b)
	b.dropped = true
	w.closeUnused(b)
	w.buildMu.Unlock()
	first()
	first() // a release runs once
	if c.closed != 0 {
		t.Fatalf("closed %d times while an evaluation still uses it", c.closed)
	}
	second()
	if c.closed != 1 {
		t.Errorf("closed %d times after the last evaluation, want 1", c.closed)
	}
}

// The native evaluation of a run is described by the setup earlier
// releases wrote, field for field, so its digest (and a resumed run's
// queued requests and stored results) stay valid.
func TestNativeSetupIsUnchanged(t *testing.T) {
	s := writePool(t, t.TempDir(), 0)
	op, err := operators.Builtin().Get(s.Operator)
	if err != nil {
		t.Fatal(err)
	}
	files := &evaluate.PoolFiles{Base: s.Base.Path}
	for _, e := range s.Experts {
		files.Models = append(files.Models, e.Path)
		files.Names = append(files.Names, e.Name)
	}
	bench := &benchmarks.Benchmark{Name: "mnist-tasks", Dir: filepath.Join("cache", "mnist-tasks-1")}
	env := evaluate.Env{
		Merge: evaluate.MergeConfig{Operator: op, Seed: 3, TaskTensors: []string{"heads."}},
		Spec:  s.Search, Files: files, Benchmark: bench, Smoke: true, Objectives: s.Objectives,
	}
	got, err := newSetup(withKinds(&Settings{Examples: 7}), env, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	// What newSetup built before the workers' kind travelled.
	want := &Setup{
		V: SetupVersion, Operator: op.Name(), Search: s.Search, Seed: 3,
		TaskTensors: []string{"heads."}, Examples: 7, Objectives: s.Objectives,
		Benchmark: &BenchmarkRef{Name: "mnist-tasks", Smoke: true, CacheDir: "cache"},
	}
	if want.Base, want.Experts, err = PoolRefs(files.Base, files.Models, files.Names); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("setup %+v, want %+v", got, want)
	}
	_, d1, _ := got.Encode()
	_, d2, _ := want.Encode()
	if d1 != d2 {
		t.Errorf("digest %s, want %s", d1, d2)
	}
}
