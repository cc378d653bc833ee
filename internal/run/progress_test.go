package run

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/search"
)

func TestProgressLines(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	objs := []fitness.Objective{{Name: "mean/normalized_accuracy"}, {Name: "mean/loss"}}
	ev := func(evals, gen int, best ...float64) search.Event {
		return search.Event{Kind: search.EventBatch, Generation: gen, Stats: search.Stats{Evaluations: evals, Best: best}}
	}
	tests := []struct {
		name     string
		terminal bool
		replayed int
		events   []search.Event
		want     string
	}{
		{
			name:   "plain lines with rate and ETA",
			events: []search.Event{ev(10, 0, 0.5, math.NaN()), ev(20, 1, 0.75, 0.25)},
			want: "eval 10/40 gen 0 best mean/normalized_accuracy=0.5000 mean/loss=- 2.00 eval/s ETA 15s\n" +
				"eval 20/40 gen 1 best mean/normalized_accuracy=0.7500 mean/loss=0.2500 2.00 eval/s ETA 10s\n",
		},
		{
			name:     "terminal line rewritten in place",
			terminal: true,
			replayed: 3,
			events:   []search.Event{ev(10, 0, 0.5, 0.5), ev(20, 1, 0.5, 0.5), {Kind: search.EventFinal}},
			want: "\reval 10/40 gen 0 repeats 3 best mean/normalized_accuracy=0.5000 mean/loss=0.5000 2.00 eval/s ETA 15s" +
				"\reval 20/40 gen 1 repeats 3 best mean/normalized_accuracy=0.5000 mean/loss=0.5000 2.00 eval/s ETA 10s\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			j := &journaled{replayed: tt.replayed, evaluated: 10}
			p := &progress{out: &out, terminal: tt.terminal, start: start, ev: j, max: 40, objectives: objs,
				now: func() time.Time { return start.Add(5 * time.Second) }}
			for _, e := range tt.events {
				if err := p.Record(e); err != nil {
					t.Fatal(err)
				}
			}
			p.finish()
			if got := out.String(); got != tt.want {
				t.Errorf("progress output\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestPipedProgressIsThrottled(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	objs := []fitness.Objective{{Name: "acc"}}
	for _, tt := range []struct {
		name      string
		max       int
		wantLines int
	}{
		{"budget of 1000, one evaluation per batch", 1000, 51}, // the first, every 20th, the last
		{"budget of 40", 40, 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &progress{out: &out, start: start, ev: &journaled{evaluated: 1}, max: tt.max, objectives: objs,
				now: func() time.Time { return start.Add(time.Second) }}
			for i := 1; i <= tt.max; i++ {
				p.Record(search.Event{Kind: search.EventBatch, Stats: search.Stats{Evaluations: i, Best: []float64{0.5}}})
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != tt.wantLines || !strings.HasPrefix(lines[len(lines)-1], fmt.Sprintf("eval %d/%d ", tt.max, tt.max)) {
				t.Errorf("%d lines, last %q; want %d ending at the last evaluation", len(lines), lines[len(lines)-1], tt.wantLines)
			}
		})
	}
	// Without a budget: one line per pipedInterval.
	var out bytes.Buffer
	now := start
	p := &progress{out: &out, start: start, ev: &journaled{evaluated: 1}, objectives: objs, now: func() time.Time { return now }}
	for i := 1; i <= 100; i++ {
		now = start.Add(time.Duration(i) * time.Second)
		p.Record(search.Event{Kind: search.EventBatch, Stats: search.Stats{Evaluations: i, Best: []float64{0.5}}})
	}
	if n := strings.Count(out.String(), "\n"); n != 10 {
		t.Errorf("%d lines over 100 s without a budget, want 10 (one per %s)", n, pipedInterval)
	}
}

func TestRunLogIsJSONLines(t *testing.T) {
	ref := referenceRun(t)
	data, err := os.ReadFile(filepath.Join(ref.Dir, rundir.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var msgs []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.Contains(l, `"level":"INFO"`) {
			t.Fatalf("log line is not a slog JSON record: %s", l)
		}
		msgs = append(msgs, l)
	}
	if !strings.Contains(msgs[0], `"msg":"session start"`) || !strings.Contains(msgs[len(msgs)-1], `"msg":"session end"`) {
		t.Errorf("log does not open and close the session:\n%s", data)
	}
	batches := strings.Count(string(data), `"msg":"batch"`)
	if batches != ref.Result.Generations+1 {
		t.Errorf("%d batch records for %d generations (+1 truncated)", batches, ref.Result.Generations)
	}
}
