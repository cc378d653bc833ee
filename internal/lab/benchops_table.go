package lab

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/internal/benchmarks"
)

// markdown renders the results section.
func (r *opsResult) markdown() string {
	var w bytes.Buffer
	tasks := r.bench.TaskNames()
	fmt.Fprintf(&w, "## Merge operators on %s (version %s)\n\n", r.bench.Name, r.bench.Version)
	fmt.Fprintf(&w, "Produced by `%s` (%s, recipe %q). ", r.command, r.elapsed.Round(time.Second), r.bench.Manifest.Recipe.Name)
	fmt.Fprintf(&w, "Every merge combines the %d experts' backbones; each task keeps its expert's head (heads are never merged). ", len(r.bench.Pool()))
	fmt.Fprintf(&w, "Cells are test-split normalized accuracy (merged accuracy / the task's expert accuracy) with the absolute accuracy in parentheses, in percent. ")
	fmt.Fprintf(&w, "\"Tuned\" picks the method's main coefficient on the validation split (mean normalized accuracy) from the grid shown in `internal/lab/benchops.go`; test data is used only for the scores below. ")
	fmt.Fprintf(&w, "Fisher and RegMean statistics come from the first %d training images of each expert's task (empirical Fisher, per-example squared gradients).\n\n", r.stats)

	header := "| method | setting | " + strings.Join(tasks, " | ") + " | mean normalized | Δ vs averaging |\n"
	sep := "|---|---|" + strings.Repeat("---:|", len(tasks)) + "---:|---:|\n"
	avg := r.averaging()
	row := func(method, setting string, s *benchmarks.Scores, err error) {
		if err != nil {
			fmt.Fprintf(&w, "| %s | %s | failed: %s |\n", method, setting, strings.ReplaceAll(oneLine(err.Error()), "|", "/"))
			return
		}
		fmt.Fprintf(&w, "| %s | %s |", method, setting)
		for _, t := range s.Tasks {
			norm := "-"
			if t.Normalized != nil {
				norm = fmt.Sprintf("%.1f", 100**t.Normalized)
			}
			fmt.Fprintf(&w, " %s (%.1f) |", norm, 100*t.Accuracy)
		}
		delta := "-"
		if !math.IsNaN(avg) {
			delta = fmt.Sprintf("%+.1f", 100*(meanNormalized(s)-avg))
		}
		fmt.Fprintf(&w, " %.1f | %s |\n", 100*meanNormalized(s), delta)
	}
	w.WriteString("### Reference points\n\n")
	w.WriteString(header)
	w.WriteString(sep)
	row("experts", "each task's own expert", r.experts, nil)
	row("base", "pretrained base, expert heads", r.base, nil)
	w.WriteString("\n### Defaults\n\n")
	w.WriteString(header)
	w.WriteString(sep)
	for _, x := range r.defaults {
		row(x.method, x.setting, x.scores, x.err)
	}
	w.WriteString("\n### Main coefficient tuned on validation\n\n")
	w.WriteString(header)
	w.WriteString(sep)
	for _, x := range r.tuned {
		row(x.method, x.setting, x.scores, x.err)
	}
	w.WriteString("\n### Against plain averaging\n\n")
	if math.IsNaN(avg) {
		w.WriteString("Plain averaging (linear at its defaults) did not produce a score.\n")
		return w.String()
	}
	fmt.Fprintf(&w, "Plain averaging (`linear`, uniform weights) reaches %.1f%% mean normalized accuracy. ", 100*avg)
	type best struct {
		method, setting string
		score           float64
	}
	// Each method counts with the setting chosen on validation: the tuned
	// coefficient when it has one, else its defaults (never the better of
	// the two on test, which would select on test data).
	bestOf := map[string]best{}
	for _, x := range r.defaults {
		if x.err == nil && x.method != "linear" {
			bestOf[x.method] = best{x.method, x.setting, meanNormalized(x.scores)}
		}
	}
	for _, x := range r.tuned {
		if x.err == nil {
			bestOf[x.method] = best{x.method, strings.SplitN(x.setting, " (", 2)[0], meanNormalized(x.scores)}
		}
	}
	var winners, losers []best
	for _, b := range bestOf {
		if b.score > avg {
			winners = append(winners, b)
		} else {
			losers = append(losers, b)
		}
	}
	byScore := func(a, b best) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.method, b.method)
	}
	slices.SortFunc(winners, byScore)
	slices.SortFunc(losers, byScore)
	if len(winners) == 0 {
		w.WriteString("No other operator beats it on this benchmark.\n")
	} else {
		fmt.Fprintf(&w, "Operators that beat it (each with its coefficient chosen on validation, or its defaults when it has none; test split):\n\n")
		for _, b := range winners {
			fmt.Fprintf(&w, "- `%s` (%s): %.1f%%, +%.1f points\n", b.method, b.setting, 100*b.score, 100*(b.score-avg))
		}
	}
	if len(losers) > 0 {
		w.WriteString("\nNot better than averaging: ")
		parts := make([]string, len(losers))
		for i, b := range losers {
			parts[i] = fmt.Sprintf("`%s` (%.1f%%, %+.1f)", b.method, 100*b.score, 100*(b.score-avg))
		}
		w.WriteString(strings.Join(parts, ", ") + ".\n")
	}
	return w.String()
}

// averaging is the mean normalized accuracy of plain averaging (linear at
// its defaults), NaN when it did not run.
func (r *opsResult) averaging() float64 {
	for _, x := range r.defaults {
		if x.method == "linear" && x.err == nil {
			return meanNormalized(x.scores)
		}
	}
	return math.NaN()
}

// OperatorsBegin and OperatorsEnd delimit the operators section of a
// results file.
const (
	OperatorsBegin = "<!-- operators-results:begin -->"
	OperatorsEnd   = "<!-- operators-results:end -->"
)

// writeResultsSection replaces the operators section of the markdown file
// at path (or appends it, or creates the file), atomically.
func writeResultsSection(path, section string) error {
	return editResults(path, func(text string) (string, error) {
		return setMarked(text, OperatorsBegin, OperatorsEnd, "", section)
	})
}
