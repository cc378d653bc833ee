package rundir

import (
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
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
	got := RankedMembers(f, 2)
	want := []int{2, 1, 0} // chosen, then validation 0.738 > 0.729
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("RankedMembers = %v, want %v", got, want)
		}
	}
}
