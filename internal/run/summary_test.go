package run

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSummaryTable(t *testing.T) {
	ref := referenceRun(t)
	exp := decodeSmoke(t, ref.Dir, nil)
	exp.Report.Top = 1
	var out bytes.Buffer
	printSummary(&out, ref.Dir, exp, ref.Front, ref.Result, 3*time.Second)
	text := out.String()
	choice, err := ChooseMember(ref.Front, "")
	if err != nil || choice.Index < 0 {
		t.Fatalf("ChooseMember = %+v, %v", choice, err)
	}
	best := ref.Front.Members[choice.Index]
	if got := rankedMembers(ref.Front, choice.Index)[0]; got != choice.Index {
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
