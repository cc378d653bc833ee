package run

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/population"
)

// TestEveryAlgorithmRunsAndReplays runs each search algorithm on the smoke
// benchmark and resumes the finished run: the replay must answer every
// candidate from the journal and end with the same front.
func TestEveryAlgorithmRunsAndReplays(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
	}{
		{"random", func(s string) string {
			return strings.Replace(strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "random"`, 1),
				"[search.nsga2]\npopulation_size = 8\nstart_points = [\"average\"]", "[search.random]\nbatch_size = 6\nsampling = \"lhs\"", 1)
		}},
		{"ga", func(s string) string {
			return strings.Replace(strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "ga"`, 1),
				"[search.nsga2]\npopulation_size = 8", "[search.ga]\npopulation_size = 8\nelite = 2", 1)
		}},
		{"cmaes", func(s string) string {
			return strings.Replace(strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "cmaes"`, 1),
				"[search.nsga2]\npopulation_size = 8", "[search.cmaes]\npopulation_size = 6\nstep_size = 0.2\ncovariance = \"diagonal\"", 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			exp := decodeSmoke(t, dir, func(s string) string {
				return strings.Replace(tt.edit(s), "max_evaluations = 44", "max_evaluations = 24", 1)
			})
			first, err := Start(context.Background(), exp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if first.Status != StateFinished || first.Result.Evaluations != 24 || len(first.Front.Members) == 0 {
				t.Fatalf("status %s, %d evaluations, front %d", first.Status, first.Result.Evaluations, len(first.Front.Members))
			}
			again, err := Resume(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Evaluated != 0 || again.Replayed != 24 {
				t.Errorf("resuming a finished run evaluated %d and replayed %d; want 0 and 24", again.Evaluated, again.Replayed)
			}
			if !reflect.DeepEqual(frontKey(again.Front), frontKey(first.Front)) {
				t.Errorf("replayed front differs:\n%v\nwant\n%v", frontKey(again.Front), frontKey(first.Front))
			}
		})
	}
}

// TestCommandEvaluatorFailuresDoNotStopTheRun scores candidates with a
// shell script that fails for about a quarter of them.
func TestCommandEvaluatorFailuresDoNotStopTheRun(t *testing.T) {
	script := filepath.Join(t.TempDir(), "score.sh")
	body := `#!/bin/sh
s=$(cksum < "$1" | cut -d' ' -f1)
if [ $((s % 4)) -eq 0 ]; then echo "checksum $s is unlucky" >&2; exit 3; fi
echo "loading $1"
echo "{\"scores\": {\"digits/accuracy\": 0.$((s % 1000 + 1000))}}"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	exp := decodeSmoke(t, dir, func(s string) string {
		s = strings.Replace(s, "max_evaluations = 44", "max_evaluations = 24", 1)
		s = strings.Replace(s, `task = "all"`, `task = "digits"`, 1)
		return strings.Replace(s, "[evaluator]\nexamples = 100", "[evaluator]\nkind = \"command\"\ncommand = [\""+script+"\", \"{model}\"]\ntimeout = \"30s\"", 1)
	})
	res, err := Start(context.Background(), exp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StateFinished || res.Result.Evaluations != 24 {
		t.Fatalf("status %s after %d evaluations", res.Status, res.Result.Evaluations)
	}
	failed := 0
	for _, c := range res.Result.Candidates {
		switch c.Status {
		case population.StatusFailed:
			failed++
			if !strings.Contains(c.Error, "unlucky") {
				t.Errorf("failure reason %q does not quote the command's stderr", c.Error)
			}
		case population.StatusOK:
			if len(c.Scores) != 1 || c.Scores[0] < 0.1 || c.Scores[0] > 0.2 {
				t.Errorf("score %v, want one value in [0.1, 0.2)", c.Scores)
			}
		}
	}
	if failed == 0 || failed == 24 || res.Result.Failed != failed {
		t.Errorf("%d of 24 candidates failed (result says %d); want some but not all", failed, res.Result.Failed)
	}
	for _, m := range res.Front.Members {
		if m.Test != nil {
			t.Errorf("member %s was scored on test by a command run", short(m.ID))
		}
	}
	st, err := Status(dir)
	if err != nil || st.Failed != failed {
		t.Errorf("status: %+v, %v; want %d failed", st, err, failed)
	}
}
