package reports

import (
	"bytes"
	"html"
	"strings"
	"testing"
)

func TestAdaptationNote(t *testing.T) {
	const note = "AdaMerging is test-time adaptation: it reads test inputs"
	cases := []struct {
		inputs, note string
		want         []string
		notWant      []string
	}{
		{"test", note, []string{"unlabelled inputs of the test split: test-time adaptation", "never their labels"}, []string{"did not read the test split"}},
		{"validation", "", []string{"unlabelled inputs of the validation split", "it did not read the test split"}, []string{"test-time adaptation"}},
		{"", note, []string{"(never their labels). " + note}, []string{"does not record"}},
		{"", "", []string{"this run does not record which split they came from"}, []string{"test-time"}},
	}
	for _, c := range cases {
		got := adaptationNote(c.inputs, c.note)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("inputs %q note %q: %q lacks %q", c.inputs, c.note, got, w)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("inputs %q note %q: %q says %q", c.inputs, c.note, got, w)
			}
		}
	}
}

func TestRunNoteAndInputsOnThePage(t *testing.T) {
	r := sampleRun(2, 40)
	r.Method = "adamerging"
	v := sampleViews(r, 2)
	r.Sections = sampleSections(r, v, "validation")
	r.Facts = []Fact{AdaptationFact("validation")}
	plain := render(t, r, Options{})
	if bytes.Contains(plain, []byte(`id="run-note"`)) {
		t.Error("a run without a note shows one")
	}
	for _, s := range []string{"unlabelled inputs of the validation split", "AdaMerging adapted on", "unlabelled validation inputs"} {
		if !bytes.Contains(plain, []byte(s)) {
			t.Errorf("page lacks %q", s)
		}
	}
	r.Note = "reads the <unlabelled> test inputs"
	r.Sections = sampleSections(r, v, "test")
	r.Facts = []Fact{AdaptationFact("test")}
	page := render(t, r, Options{})
	esc := html.EscapeString(r.Note)
	for _, s := range []string{`id="run-note"`, "<strong>Note:</strong> " + esc, "<dt>note</dt>", "test-time adaptation"} {
		if !bytes.Contains(page, []byte(s)) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestOneEvaluationHasNoProgressCurves(t *testing.T) {
	r := sampleRun(1, 1)
	page := render(t, r, Options{})
	if ids := chartIDs(page); len(ids) != 1 || ids[0] != "coefficients_0" {
		t.Errorf("charts %q, want only the coefficients of the one candidate", ids)
	}
	if !bytes.Contains(page, []byte("One scored evaluation: no progress curves")) {
		t.Error("page does not say why it has no progress curves")
	}
	if bytes.Contains(page, []byte("see the progress curves")) {
		t.Error("the Pareto note points to progress curves the page does not have")
	}
	two := render(t, sampleRun(1, 2), Options{})
	if ids := chartIDs(two); !strings.Contains(strings.Join(ids, " "), "progress_hv") {
		t.Errorf("two evaluations: charts %q, want the progress curves", ids)
	}
}
