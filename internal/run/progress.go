package run

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/search"
)

// progress reports batches: a live line rewritten in place on a terminal;
// otherwise (a pipe or a file) plain lines, at most about one per 2% of the
// evaluation budget (per pipedInterval without a budget), and the last
// evaluation's, so a method of one-candidate batches (M2N2) does not print
// a line per evaluation.
type progress struct {
	out        io.Writer
	terminal   bool
	now        func() time.Time
	start      time.Time
	ev         *journaled
	max        int
	objectives []fitness.Objective
	lineLen    int
	// printed and printedAt are the evaluation count and time of the last
	// plain line (piped output).
	printed   int
	printedAt time.Time
}

// pipedInterval is the shortest time between two piped progress lines of
// a run without an evaluation budget.
const pipedInterval = 10 * time.Second

func (p *progress) Init(search.RunInfo) error { return nil }

func (p *progress) Record(e search.Event) error {
	if e.Kind != search.EventBatch {
		return nil
	}
	if !p.terminal && !p.due(e.Stats.Evaluations) {
		return nil
	}
	var b strings.Builder
	if p.max > 0 {
		fmt.Fprintf(&b, "eval %d/%d", e.Stats.Evaluations, p.max)
	} else {
		fmt.Fprintf(&b, "eval %d", e.Stats.Evaluations)
	}
	fmt.Fprintf(&b, " gen %d", e.Generation)
	if e.Stats.Failed > 0 {
		fmt.Fprintf(&b, " failed %d", e.Stats.Failed)
	}
	if p.ev.replayed > 0 {
		fmt.Fprintf(&b, " repeats %d", p.ev.replayed)
	}
	b.WriteString(" best")
	for i, v := range e.Stats.Best {
		fmt.Fprintf(&b, " %s=%s", p.objectives[i].Name, fmtScore(v))
	}
	elapsed := p.now().Sub(p.start)
	if secs := elapsed.Seconds(); p.ev.evaluated > 0 && secs > 0 {
		rate := float64(p.ev.evaluated) / secs
		fmt.Fprintf(&b, " %.2f eval/s", rate)
		if p.max > 0 {
			left := float64(p.max - e.Stats.Evaluations)
			fmt.Fprintf(&b, " ETA %s", (time.Duration(left/rate) * time.Second).Round(time.Second))
		}
	}
	line := b.String()
	if p.terminal {
		pad := ""
		if n := p.lineLen - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(p.out, "\r%s%s", line, pad)
		p.lineLen = len(line)
		return nil
	}
	fmt.Fprintln(p.out, line)
	p.printed, p.printedAt = e.Stats.Evaluations, p.now()
	return nil
}

// due reports whether a piped line is due after evals evaluations.
func (p *progress) due(evals int) bool {
	if p.printedAt.IsZero() {
		return true // the first batch
	}
	if p.max > 0 {
		step := max(1, (p.max+49)/50)
		return evals >= p.max || evals-p.printed >= step
	}
	return p.now().Sub(p.printedAt) >= pipedInterval
}

// note prints a line of its own, ending the live line first.
func (p *progress) note(msg string) {
	p.finish()
	fmt.Fprintln(p.out, msg)
}

// finish ends the live line.
func (p *progress) finish() {
	if p.terminal && p.lineLen > 0 {
		fmt.Fprintln(p.out)
		p.lineLen = 0
	}
}

func fmtScore(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}

// printSummary writes the front table: per-task accuracy and mean
// normalized accuracy on test (fitness split when not scored), against
// plain weight averaging and the experts.
func printSummary(w io.Writer, dir string, exp *configs.Experiment, f rundir.Front, res *search.Result, wall time.Duration) {
	fmt.Fprintf(w, "\n%s: %s after %d evaluations (%d failed) in %s; stop: %s\n",
		exp.Experiment.Name, f.Status, res.Evaluations, res.Failed, wall.Round(time.Second), res.Status)
	noun := "members"
	if len(f.Members) == 1 {
		noun = "member"
	}
	if f.FitnessSplit == "" {
		// Scored by the evaluator (a command): the objectives are its scores.
		fmt.Fprintf(w, "Pareto front: %d %s (objectives: %s)\n", len(f.Members), noun, objectiveNames(f.Objectives))
	} else {
		fmt.Fprintf(w, "Pareto front on the %s split: %d %s (objectives: %s)\n", f.FitnessSplit, len(f.Members), noun, objectiveNames(f.Objectives))
	}
	if len(f.Members) == 0 {
		return
	}
	if !hasTaskScores(f) {
		printObjectiveTable(w, exp, f)
		return
	}
	tested := f.Members[0].Test != nil
	split := fmt.Sprintf("%s / test", f.FitnessSplit)
	if !tested {
		split = f.FitnessSplit + " (not scored on test)"
	}
	orderKey := "mean-norm"
	if f.Scalarization != nil {
		orderKey = "scalarised cost"
	}
	fmt.Fprintf(w, "\naccuracy per task on %s; mean normalized accuracy (accuracy / expert accuracy) on both; the chosen member first, then by %s %s (test never orders or chooses):\n", split, f.FitnessSplit, orderKey)
	header := fmt.Sprintf("%-14s", "member")
	for _, t := range f.Tasks {
		header += fmt.Sprintf(" %13s", trim(t, 13))
	}
	header += fmt.Sprintf(" %15s", "mean-norm")
	if f.Scalarization != nil {
		header += fmt.Sprintf(" %12s", "cost")
	}
	fmt.Fprintln(w, header)
	cell := func(a, b float64) string {
		if !tested {
			return fmtScore(a)
		}
		return fmtShort(a) + "/" + fmtShort(b)
	}
	choice, _ := rundir.ChooseMember(f, exp.Report.Choose) // checked when the run started
	order := rundir.RankedMembers(f, choice.Index)
	if top := exp.Report.Top; top > 0 && top < len(order) {
		order = order[:top]
	}
	at := func(s *rundir.SplitScores, k int) float64 {
		if s == nil || k >= len(s.Accuracy) {
			return math.NaN()
		}
		return s.Accuracy[k]
	}
	meanOf := func(s *rundir.SplitScores) float64 {
		if s == nil || s.MeanNormalized == nil {
			return math.NaN()
		}
		return *s.MeanNormalized
	}
	for _, i := range order {
		m := f.Members[i]
		row := fmt.Sprintf("%-14s", rundir.ShortID(m.ID))
		for k := range f.Tasks {
			row += fmt.Sprintf(" %13s", cell(at(m.FitnessTasks, k), at(m.Test, k)))
		}
		row += fmt.Sprintf(" %15s", cell(meanOf(m.FitnessTasks), meanOf(m.Test)))
		if f.Scalarization != nil {
			row += costCell(m.Cost)
		}
		fmt.Fprintln(w, row)
	}
	if tested {
		if a := f.AverageTest; a != nil {
			row := fmt.Sprintf("%-14s", "plain average")
			for k := range a.Accuracy {
				row += fmt.Sprintf(" %13s", cell(at(f.AverageFitness, k), a.Accuracy[k]))
			}
			row += fmt.Sprintf(" %15s", cell(meanOf(f.AverageFitness), *a.MeanNormalized))
			fmt.Fprintln(w, row)
		}
		if len(f.ExpertTest) == len(f.Tasks) {
			row := fmt.Sprintf("%-14s", "experts")
			for k, v := range f.ExpertTest {
				fit := math.NaN()
				if k < len(f.ExpertValidation) {
					fit = f.ExpertValidation[k]
				}
				row += fmt.Sprintf(" %13s", cell(fit, v))
			}
			row += fmt.Sprintf(" %15s", "1/1")
			fmt.Fprintln(w, row)
		}
	}
	if s := f.Scalarization; s != nil {
		fmt.Fprintf(w, "\n%s minimised one %s cost of the %d objectives (weights %v", exp.Search.Algorithm, s.Method, len(f.Objectives), s.Weights)
		if s.Method == search.Chebyshev {
			fmt.Fprintf(w, ", ideal %v, rho %g", s.Ideal, s.Rho)
		}
		if s.Cost != nil {
			fmt.Fprintf(w, "): best cost %.6g on the %s split, candidate %s\n", *s.Cost, f.FitnessSplit, rundir.ShortID(s.BestID))
		} else {
			fmt.Fprintf(w, "): no candidate has a finite cost\n")
		}
	}
	if b := choice.Index; b >= 0 {
		m := f.Members[b]
		fmt.Fprintf(w, "\nchosen front member %s (%s)", rundir.ShortID(m.ID), choice.By)
		if fit := meanOf(m.FitnessTasks); !math.IsNaN(fit) {
			fmt.Fprintf(w, ": mean normalized %s accuracy %.4f", f.FitnessSplit, fit)
		}
		fmt.Fprintln(w)
		if m.Test != nil && m.Test.MeanNormalized != nil && f.AverageTest != nil {
			best, avg := *m.Test.MeanNormalized, *f.AverageTest.MeanNormalized
			verdict := "beats"
			if best <= avg {
				verdict = "falls short of"
			}
			fmt.Fprintf(w, "on held-out test (scored after the choice): mean normalized accuracy %.4f, %s plain weight averaging (%.4f) by %.1f points\n",
				best, verdict, avg, 100*math.Abs(best-avg))
		}
		fmt.Fprintf(w, "export it: evomerge export %s --candidate %s --out DIR\n", dir, rundir.ShortID(m.ID))
	}
}

func fmtShort(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// hasTaskScores reports whether the front's members carry per-task
// accuracies (runs scored natively).
func hasTaskScores(f rundir.Front) bool {
	for _, m := range f.Members {
		if m.FitnessTasks != nil || m.Test != nil {
			return true
		}
	}
	return false
}

// printObjectiveTable writes the front's objective scores, one row per
// member: the chosen member first, then as the report ranks them.
func printObjectiveTable(w io.Writer, exp *configs.Experiment, f rundir.Front) {
	fmt.Fprintf(w, "\nscores per objective, as the evaluator measured them; the chosen member first:\n")
	header := fmt.Sprintf("%-14s", "member")
	for _, o := range f.Objectives {
		header += fmt.Sprintf(" %*s", max(13, len(o.Name)), o.Name)
	}
	if f.Scalarization != nil {
		header += fmt.Sprintf(" %12s", "cost")
	}
	fmt.Fprintln(w, header)
	choice, _ := rundir.ChooseMember(f, exp.Report.Choose) // checked when the run started
	order := rundir.RankedMembers(f, choice.Index)
	if top := exp.Report.Top; top > 0 && top < len(order) {
		order = order[:top]
	}
	for _, i := range order {
		m := f.Members[i]
		row := fmt.Sprintf("%-14s", rundir.ShortID(m.ID))
		for k, o := range f.Objectives {
			v := math.NaN()
			if k < len(m.Validation) {
				v = m.Validation[k]
			}
			row += fmt.Sprintf(" %*s", max(13, len(o.Name)), fmtScore(v))
		}
		if f.Scalarization != nil {
			row += costCell(m.Cost)
		}
		fmt.Fprintln(w, row)
	}
}

// costCell is a member's scalarised cost column ("-" when it has none).
func costCell(cost *float64) string {
	if cost == nil {
		return fmt.Sprintf(" %12s", "-")
	}
	return fmt.Sprintf(" %12s", fmt.Sprintf("%.6g", *cost))
}
