package run

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/search"
)

func ptr(v float64) *float64 { return &v }

// frontValTestDisagree is a front whose validation-best member (b) is not
// its test-best member (a), as in the map-nested run that picked a on
// test.
func frontValTestDisagree() Front {
	split := func(name string, mean float64) *SplitScores {
		return &SplitScores{Split: name, Accuracy: []float64{mean}, MeanNormalized: ptr(mean)}
	}
	return Front{
		FitnessSplit: "validation",
		Objectives: []fitness.Objective{
			{Name: "mean/normalized_accuracy", Direction: fitness.Maximize},
			{Name: "mean/loss", Direction: fitness.Minimize},
		},
		Members: []FrontMember{
			{ID: "a8d26059be37", Validation: []float64{0.729, 0.80}, FitnessTasks: split("validation", 0.729), Test: split("test", 0.713)},
			{ID: "1c475a6778eb", Validation: []float64{0.738, 0.90}, FitnessTasks: split("validation", 0.738), Test: split("test", 0.712)},
			{ID: "ffff00000000", Validation: []float64{0.700, 0.70}, FitnessTasks: split("validation", 0.700), Test: split("test", 0.720)},
		},
	}
}

func TestChooseMemberUsesFitnessSplitNotTest(t *testing.T) {
	f := frontValTestDisagree()
	noTasks := frontValTestDisagree()
	for i := range noTasks.Members {
		noTasks.Members[i].FitnessTasks = nil
	}
	tests := []struct {
		name   string
		front  Front
		by     string
		wantID string
		wantBy string
	}{
		{"default: mean normalized validation accuracy", f, "", "1c475a6778eb", "highest mean normalized accuracy on the validation split"},
		{"explicit mean normalized", f, ChooseMeanNormalized, "1c475a6778eb", "highest mean normalized accuracy on the validation split"},
		{"a minimized objective", f, "mean/loss", "ffff00000000", "best mean/loss on the validation split"},
		{"a maximized objective", f, "mean/normalized_accuracy", "1c475a6778eb", "best mean/normalized_accuracy on the validation split"},
		{"no per-task accuracies: first objective", noTasks, "", "1c475a6778eb", "best mean/normalized_accuracy on the validation split"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ChooseMember(tt.front, tt.by)
			if err != nil {
				t.Fatal(err)
			}
			if c.Index < 0 || tt.front.Members[c.Index].ID != tt.wantID || c.By != tt.wantBy {
				t.Fatalf("ChooseMember(%q) = %+v, want %s chosen by %q", tt.by, c, tt.wantID, tt.wantBy)
			}
		})
	}
}

func TestChooseMemberErrors(t *testing.T) {
	f := frontValTestDisagree()
	noTasks := frontValTestDisagree()
	for i := range noTasks.Members {
		noTasks.Members[i].FitnessTasks = nil
	}
	for _, tt := range []struct {
		front Front
		by    string
		want  []string
	}{
		{f, "digits/accuracy", []string{`report.choose = "digits/accuracy" names no objective`, "mean/normalized_accuracy, mean/loss"}},
		{noTasks, ChooseMeanNormalized, []string{"no per-task accuracies", "choose an objective instead"}},
	} {
		_, err := ChooseMember(tt.front, tt.by)
		if err == nil {
			t.Fatalf("ChooseMember(%q) accepted", tt.by)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
	if c, err := ChooseMember(Front{}, ""); err != nil || c.Index != -1 {
		t.Fatalf("empty front: %+v, %v", c, err)
	}
}

func TestRankedMembersChosenFirstThenFitness(t *testing.T) {
	f := frontValTestDisagree()
	got := rankedMembers(f, 2)
	want := []int{2, 1, 0} // chosen, then validation 0.738 > 0.729
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("rankedMembers = %v, want %v", got, want)
		}
	}
}

func TestSummaryNamesTheValidationBestMember(t *testing.T) {
	f := frontValTestDisagree()
	f.Tasks = []string{"digits"}
	f.Status = "finished"
	f.AverageTest = &SplitScores{Split: "test", Accuracy: []float64{0.6}, MeanNormalized: ptr(0.6)}
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

// An experiment with crossover_prob = 0 and mutation_prob = 0 makes no
// crossover child: every NSGA-II child is a copy of a parent, so it has the
// parent's id and is answered from the journal; only the first population
// is ever evaluated. With the defaults, new children are evaluated.
func TestNSGA2CrossoverProbZeroTurnsCrossoverOff(t *testing.T) {
	for _, tt := range []struct {
		name         string
		settings     string
		wantChildren bool
	}{
		{"crossover and mutation off", "crossover_prob = 0.0\nmutation_prob = 0.0", false},
		{"defaults", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			exp := decodeSmoke(t, dir, func(s string) string {
				return strings.Replace(s, "population_size = 8", "population_size = 8\n"+tt.settings, 1)
			})
			if _, err := Start(context.Background(), exp, Options{Out: io.Discard}); err != nil {
				t.Fatal(err)
			}
			j, err := ReadJournal(filepath.Join(dir, JournalFile))
			if err != nil {
				t.Fatal(err)
			}
			children := 0
			for _, r := range j.Records {
				if len(r.Lineage.Parents) > 0 {
					children++
				}
			}
			if got := children > 0; got != tt.wantChildren {
				t.Errorf("%d new children evaluated in %d records; want children: %v", children, len(j.Records), tt.wantChildren)
			}
			if !tt.wantChildren && len(j.Records) != 8 {
				t.Errorf("%d records, want the first population of 8 only", len(j.Records))
			}
		})
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
	f, err := ReadFront(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scalarization
	if s == nil || s.Cost == nil || s.Method != "weighted-sum" || len(s.Weights) != 4 {
		t.Fatalf("front.json scalarization %+v", s)
	}
	// The lowest cost over every journaled evaluation, computed here from
	// the scores: Σ w_i·(−accuracy_i) for maximised accuracies.
	j, err := ReadJournal(filepath.Join(dir, JournalFile))
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
	c, err := ChooseMember(f, "")
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
