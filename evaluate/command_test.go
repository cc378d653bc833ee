package evaluate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/model/all"
	"github.com/evomerge/evomerge/population"
)

func newCommand(t *testing.T, s *synthetic, script string, timeout time.Duration, workers int) (*Command, string) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on this system")
	}
	tmp := filepath.Join(t.TempDir(), "work")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := NewCommand(CommandConfig{
		Merge:      linearMerge(t, s.pool(t), true),
		Objectives: []fitness.Objective{{Name: "acc", Direction: fitness.Maximize}, {Name: "size", Direction: fitness.Minimize}},
		Argv:       []string{"sh", "-c", script, "sh", "{model}", "{dir}"},
		Env:        []string{"EVAL_GREETING=hello"},
		Timeout:    timeout,
		Workers:    workers,
		TempDir:    tmp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, tmp
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("temporary directory %s still holds %d entries (first %s)", dir, len(entries), entries[0].Name())
	}
}

func TestCommandScores(t *testing.T) {
	s := newSynthetic(t, 5)
	// The command checks it got the merged file in {dir} and the
	// environment, logs a line, then prints the scores, "size" being the
	// byte size of the checkpoint it was given.
	script := `test -f "$1" || exit 9
test "$(dirname "$1")" = "$2" || exit 8
test "$EVAL_GREETING" = hello || exit 7
echo "loading $1"
size=$(wc -c < "$1" | tr -d ' ')
printf '{"scores": {"acc": 0.75, "size": %s, "extra": 1}}\n' "$size"`
	c, tmp := newCommand(t, s, script, 20*time.Second, 2)
	batch := candidates([]float64{0.5, 0.5}, []float64{1, 0}, []float64{0.2, 0.9})
	if err := c.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// The size the command saw is the size of the candidate's export.
	for i, cand := range batch {
		if !cand.OK() {
			t.Fatalf("candidate %d failed: %s", i, cand.Error)
		}
		dir := filepath.Join(t.TempDir(), "ref")
		if _, err := c.Merger().Export(context.Background(), cand.Genome, dir, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if cand.Scores[0] != 0.75 || cand.Scores[1] != float64(st.Size()) {
			t.Errorf("candidate %d scores %v, want [0.75 %d]", i, cand.Scores, st.Size())
		}
		if _, err := all.Load(dir); err != nil {
			t.Errorf("the merged checkpoint does not load as a model: %v", err)
		}
	}
	assertEmptyDir(t, tmp)
}

func TestCommandFailureModes(t *testing.T) {
	s := newSynthetic(t, 5)
	cases := []struct {
		name, script string
		timeout      time.Duration
		want         []string
	}{
		{"non-zero exit", `echo "model is broken" >&2; exit 3`, 0, []string{"exit status 3", "stderr: model is broken"}},
		{"crash", `echo dying >&2; kill -SEGV $$`, 0, []string{"killed by signal", "stderr: dying"}},
		{"timeout", `sleep 30`, 300 * time.Millisecond, []string{"timed out after 300ms"}},
		{"timeout with a child holding the pipes", `sleep 30 & sleep 30; wait`, 300 * time.Millisecond, []string{"timed out"}},
		{"malformed output", `echo 'scores: high'`, 0, []string{"not the scores JSON", "scores: high"}},
		{"no output", `true`, 0, []string{"printed nothing"}},
		{"no scores object", `echo '{"acc": 1}'`, 0, []string{`no "scores" object`}},
		{"missing objective", `echo '{"scores": {"acc": 1}}'`, 0, []string{`lack objective "size"`}},
		{"null score", `echo '{"scores": {"acc": 1, "size": null}}'`, 0, []string{`lack objective "size"`}},
		{"string score", `echo '{"scores": {"acc": "1", "size": 2}}'`, 0, []string{"not the scores JSON"}},
		{"missing program", ``, 0, []string{"could not run"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, tmp := newCommand(t, s, tc.script, tc.timeout, 1)
			if tc.script == "" {
				c.cfg.Argv = []string{filepath.Join(t.TempDir(), "no-such-program")}
			}
			batch := candidates([]float64{0.5, 0.5})
			start := time.Now()
			if err := c.Evaluate(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			cand := batch[0]
			if cand.Status != population.StatusFailed {
				t.Fatalf("status %s, want failed", cand.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(cand.Error, w) {
					t.Errorf("reason %q does not mention %q", cand.Error, w)
				}
			}
			assertEmptyDir(t, tmp)
		})
	}
}

// A failing candidate does not stop the others, and log lines before the
// JSON are tolerated.
func TestCommandMixedBatch(t *testing.T) {
	s := newSynthetic(t, 5)
	// Weights (0, 0) cannot be normalised, so that candidate fails before
	// its command runs.
	script := `echo "progress 50%"
echo '{"scores": {"acc": 0.5, "size": 1}}'`
	c, tmp := newCommand(t, s, script, 0, 3)
	batch := candidates([]float64{0.5, 0.5}, []float64{0, 0}, []float64{1, 1})
	if err := c.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if !batch[0].OK() || !batch[2].OK() {
		t.Errorf("good candidates failed: %q %q", batch[0].Error, batch[2].Error)
	}
	if batch[1].Status != population.StatusFailed || !strings.Contains(batch[1].Error, "writing the merged checkpoint") {
		t.Errorf("an unmergeable genome: status %s reason %q", batch[1].Status, batch[1].Error)
	}
	assertEmptyDir(t, tmp)
}

func TestCommandCancel(t *testing.T) {
	s := newSynthetic(t, 5)
	c, tmp := newCommand(t, s, `sleep 30`, 0, 2)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	batch := candidates([]float64{0.5, 0.5}, []float64{0.4, 0.6}, []float64{0.3, 0.7})
	start := time.Now()
	if err := c.Evaluate(ctx, batch); err != context.Canceled {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	for i, cand := range batch {
		if cand.Status != population.StatusPending {
			t.Errorf("candidate %d: status %s, want pending", i, cand.Status)
		}
	}
	assertEmptyDir(t, tmp)
}

func TestCommandConfigErrors(t *testing.T) {
	s := newSynthetic(t, 5)
	merge := linearMerge(t, s.pool(t), true)
	objs := []fitness.Objective{{Name: "acc", Direction: fitness.Maximize}}
	cases := []struct {
		cfg  CommandConfig
		want string
	}{
		{CommandConfig{Merge: merge, Objectives: objs}, "no command"},
		{CommandConfig{Merge: merge, Objectives: objs, Argv: []string{"x"}, Env: []string{"NOVALUE"}}, "KEY=VALUE"},
		{CommandConfig{Merge: merge, Objectives: objs, Argv: []string{"x"}, Timeout: -1}, "must not be negative"},
		{CommandConfig{Merge: merge, Argv: []string{"x"}}, "no objectives"},
	}
	for _, tc := range cases {
		if _, err := NewCommand(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to mention %q", err, tc.want)
		}
	}
	a, err := NewCommand(CommandConfig{Merge: merge, Objectives: objs, Argv: []string{"eval", "{model}"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewCommand(CommandConfig{Merge: merge, Objectives: objs, Argv: []string{"eval2", "{model}"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.EvalSpec() == b.EvalSpec() || !strings.HasPrefix(a.Version(), CommandVersion) {
		t.Errorf("command specs do not identify the command: %q vs %q, version %q", a.EvalSpec(), b.EvalSpec(), a.Version())
	}
}

func TestParseScores(t *testing.T) {
	names := []string{"a", "b"}
	good := []struct {
		out  string
		want []float64
	}{
		{`{"scores": {"a": 1, "b": -2.5}}`, []float64{1, -2.5}},
		{"log line\nanother\n{\"scores\": {\"b\": 3e-2, \"a\": 0}}\n\n", []float64{0, 0.03}},
		{`{"scores": {"a": 1, "b": 2, "c": 3}, "meta": {"x": 1}}`, []float64{1, 2}},
	}
	for _, tc := range good {
		got, err := parseScores([]byte(tc.out), names)
		if err != nil || len(got) != 2 || got[0] != tc.want[0] || got[1] != tc.want[1] {
			t.Errorf("%q: %v %v, want %v", tc.out, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `{"scores": {"a": 1}}`, `{"scores": [1, 2]}`, `{"scores": {"a": NaN, "b": 1}}`, "{\"scores\": {\"a\": 1, \"b\": 1}}\ntrailing"} {
		if got, err := parseScores([]byte(bad), names); err == nil {
			t.Errorf("%q: accepted as %v", bad, got)
		}
	}
	// Non-finite tokens (Python's json.dumps writes them) are named as such.
	for _, out := range []string{`{"scores": {"a": NaN, "b": 1}}`, "log\n{\"scores\": {\"a\": -Infinity, \"b\": 1}}"} {
		if _, err := parseScores([]byte(out), names); err == nil || !strings.Contains(err.Error(), "a score is not a number") {
			t.Errorf("%q: %v, want it to say a score is not a number", out, err)
		}
	}
	if _, err := parseScores([]byte(`{"scores": {"a": "nan", "b": 1}}`), names); err == nil || strings.Contains(err.Error(), "not a number") {
		t.Errorf("a quoted string: %v, want the plain JSON error", err)
	}
}

// No more than Workers commands run at once.
func TestCommandConcurrencyBound(t *testing.T) {
	s := newSynthetic(t, 5)
	shared := t.TempDir()
	script := `mkdir "$RUNNING/$$"
ls "$RUNNING" | wc -l >> "$LOG"
sleep 0.2
rmdir "$RUNNING/$$"
echo '{"scores": {"acc": 1, "size": 1}}'`
	c, tmp := newCommand(t, s, script, 0, 2)
	running := filepath.Join(shared, "running")
	if err := os.Mkdir(running, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(shared, "log")
	c.cfg.Env = append(c.cfg.Env, "RUNNING="+running, "LOG="+logPath)
	batch := candidates([]float64{0.1, 0.9}, []float64{0.2, 0.8}, []float64{0.3, 0.7}, []float64{0.4, 0.6}, []float64{0.5, 0.5})
	if err := c.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for i, cand := range batch {
		if !cand.OK() {
			t.Fatalf("candidate %d failed: %s", i, cand.Error)
		}
	}
	counts := strings.Fields(string(readFile(t, logPath)))
	if len(counts) != len(batch) {
		t.Fatalf("%d runs logged, want %d", len(counts), len(batch))
	}
	for _, n := range counts {
		if n != "1" && n != "2" {
			t.Errorf("%s commands ran at once with 2 workers", n)
		}
	}
	assertEmptyDir(t, tmp)
}
