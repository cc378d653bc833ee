package run

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/search"
)

func TestSummaryTable(t *testing.T) {
	ref := referenceRun(t)
	exp := decodeSmoke(t, ref.Dir, nil)
	exp.Report.Top = 1
	var out bytes.Buffer
	printSummary(&out, ref.Dir, exp, ref.Front, ref.Result, 3*time.Second)
	text := out.String()
	choice, err := rundir.ChooseMember(ref.Front, "")
	if err != nil || choice.Index < 0 {
		t.Fatalf("ChooseMember = %+v, %v", choice, err)
	}
	best := ref.Front.Members[choice.Index]
	if got := rundir.RankedMembers(ref.Front, choice.Index)[0]; got != choice.Index {
		t.Fatalf("the summary's first row is member %d, the chosen one is %d", got, choice.Index)
	}
	wantRow := fmt.Sprintf("%-14s %13s", short(best.ID), fmtShort(best.FitnessTasks.Accuracy[0])+"/"+fmtShort(best.Test.Accuracy[0]))
	for _, want := range []string{
		"smoke: finished after 44 evaluations (0 failed) in 3s; stop: evaluation-limit",
		"accuracy per task on validation / test",
		wantRow,
		"plain average",
		"experts",
		fmt.Sprintf("chosen front member %s (highest mean normalized accuracy on the validation split): mean normalized validation accuracy %.4f", short(best.ID), *best.FitnessTasks.MeanNormalized),
		fmt.Sprintf("on held-out test (scored after the choice): mean normalized accuracy %.4f", *best.Test.MeanNormalized),
		"evomerge export " + ref.Dir + " --candidate " + short(best.ID),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	// report.top = 1 prints one member row between the header and the references.
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "member") {
			if !strings.HasPrefix(lines[i+2], "plain average") {
				t.Errorf("top = 1 printed more than one member:\n%s", text)
			}
		}
	}
}

func ptr(v float64) *float64 { return &v }

// frontValTestDisagree is a front whose validation-best member (b) is not
// its test-best member (a), as in the map-nested run that picked a on
// test (internal/rundir's choice tests use the same front).
func frontValTestDisagree() rundir.Front {
	split := func(name string, mean float64) *rundir.SplitScores {
		return &rundir.SplitScores{Split: name, Accuracy: []float64{mean}, MeanNormalized: ptr(mean)}
	}
	return rundir.Front{
		FitnessSplit: "validation",
		Objectives: []fitness.Objective{
			{Name: "mean/normalized_accuracy", Direction: fitness.Maximize},
			{Name: "mean/loss", Direction: fitness.Minimize},
		},
		Members: []rundir.FrontMember{
			{ID: "a8d26059be37", Validation: []float64{0.729, 0.80}, FitnessTasks: split("validation", 0.729), Test: split("test", 0.713)},
			{ID: "1c475a6778eb", Validation: []float64{0.738, 0.90}, FitnessTasks: split("validation", 0.738), Test: split("test", 0.712)},
			{ID: "ffff00000000", Validation: []float64{0.700, 0.70}, FitnessTasks: split("validation", 0.700), Test: split("test", 0.720)},
		},
	}
}

func TestSummaryNamesTheValidationBestMember(t *testing.T) {
	f := frontValTestDisagree()
	f.Tasks = []string{"digits"}
	f.Status = "finished"
	f.AverageTest = &rundir.SplitScores{Split: "test", Accuracy: []float64{0.6}, MeanNormalized: ptr(0.6)}
	var out strings.Builder
	printSummary(&out, "runs/x", &configs.Experiment{}, f, &search.Result{Evaluations: 3}, 0)
	text := out.String()
	// 1c475a6778eb is best on validation (0.738); ffff00000000 is best on
	// test (0.720) and must not be the one named.
	for _, want := range []string{
		"chosen front member 1c475a6778eb (highest mean normalized accuracy on the validation split): mean normalized validation accuracy 0.7380",
		"on held-out test (scored after the choice): mean normalized accuracy 0.7120, beats plain weight averaging (0.6000) by 11.2 points",
		"evomerge export runs/x --candidate 1c475a6778eb",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	rows := strings.Split(text[strings.Index(text, "\nmember ")+1:], "\n")
	if !strings.HasPrefix(rows[1], "1c475a6778eb") || !strings.HasPrefix(rows[2], "a8d26059be37") || !strings.HasPrefix(rows[3], "ffff00000000") {
		t.Errorf("rows not in validation order:\n%s", text)
	}
}

// A ga run reports its own result: the scalarised cost it minimised, the
// lowest over every evaluation, and chooses that member.
func TestGARunReportsItsScalarisedBest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	exp := decodeSmoke(t, dir, func(s string) string {
		s = strings.Replace(s, `algorithm = "nsga2"`, `algorithm = "ga"`, 1)
		s = strings.Replace(s, "[search.nsga2]", "[search.ga]", 1)
		return strings.Replace(s, "[[objectives]]", "[search.ga.scalarization]\nweights = [1.0, 2.0, 1.0, 0.5]\n\n[[objectives]]", 1)
	})
	var out strings.Builder
	if _, err := Start(context.Background(), exp, Options{Out: &out}); err != nil {
		t.Fatal(err)
	}
	f, err := rundir.ReadFront(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scalarization
	if s == nil || s.Cost == nil || s.Method != "weighted-sum" || len(s.Weights) != 4 {
		t.Fatalf("front.json scalarization %+v", s)
	}
	// The lowest cost over every journaled evaluation, computed here from
	// the scores: Σ w_i·(−accuracy_i) for maximised accuracies.
	j, err := rundir.ReadJournal(filepath.Join(dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	w := []float64{1, 2, 1, 0.5}
	best, bestID := 0.0, ""
	for _, r := range j.Records {
		if r.Status != "ok" {
			continue
		}
		c := 0.0
		for i, v := range r.Scores {
			c -= w[i] * v
		}
		if bestID == "" || c < best || (c == best && r.ID < bestID) {
			best, bestID = c, r.ID
		}
	}
	if s.BestID != bestID || math.Abs(*s.Cost-best) > 1e-12 {
		t.Errorf("front best %s cost %v, want %s cost %v (lowest over the journal)", short(s.BestID), *s.Cost, short(bestID), best)
	}
	c, err := rundir.ChooseMember(f, "")
	if err != nil || c.Index < 0 || f.Members[c.Index].ID != bestID {
		t.Errorf("chosen %+v (%v), want the lowest-cost member %s", c, err, short(bestID))
	}
	for _, want := range []string{
		fmt.Sprintf("ga minimised one weighted-sum cost of the 4 objectives (weights [1 2 1 0.5]): best cost %.6g on the validation split, candidate %s", best, short(bestID)),
		"chosen front member " + short(bestID) + " (lowest weighted-sum cost on the validation split, the objective the search minimised)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
