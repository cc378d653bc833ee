package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// Options changes how a page is rendered. The zero value renders the
// static, self-contained report.
type Options struct {
	// PollURL, when set, makes the page poll this URL (same origin) every
	// PollSeconds for a JSON object {"version": "...", "finished": bool}
	// and reload when the version differs from Version. Used by the live
	// view; a report written to disk never polls.
	PollURL     string
	PollSeconds int
	Version     string
}

// maxPairCharts bounds the pairwise scatters of a run with 3 or more
// objectives: beyond it (6 or more objectives), each objective is paired
// with the next only.
const maxPairCharts = 10

// objectivePairs returns the pairs of objectives to draw against each
// other.
func objectivePairs(m int) [][2]int {
	var out [][2]int
	if m*(m-1)/2 <= maxPairCharts {
		for a := 0; a < m; a++ {
			for c := a + 1; c < m; c++ {
				out = append(out, [2]int{a, c})
			}
		}
		return out
	}
	for a := 0; a+1 < m; a++ {
		out = append(out, [2]int{a, a + 1})
	}
	return out
}

// maxCoefficientMembers bounds how many front members get a coefficient
// heatmap.
const maxCoefficientMembers = 4

// Render writes the report of r as one self-contained HTML page: ECharts
// is inlined, no external resource is referenced, and the same run always
// renders the same bytes.
func Render(w io.Writer, r *Run) error { return RenderOptions(w, r, Options{}) }

// RenderOptions is Render with options (the live view).
func RenderOptions(w io.Writer, r *Run, o Options) error {
	if err := r.Validate(); err != nil {
		return err
	}
	p, err := buildPage(r, o)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return fmt.Errorf("reports: run %q: render page: %w", r.Name, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("reports: run %q: write page: %w", r.Name, err)
	}
	return nil
}

type page struct {
	Name, Status  string
	Note          string
	FitnessSplit  string
	TestSplit     string
	Live          bool
	PollURL       string
	PollSeconds   int
	Version       string
	Empty         bool
	ParetoNote    string
	Pareto        []chartBlock
	Progress      []chartBlock
	ProgressNote  string
	FrontComputed bool
	ChosenNote    string
	Table         table
	References    table
	Coefficients  []chartBlock
	CoeffNote     string
	Sections      []sectionBlock
	Facts         []Fact
	Failures      []failure
	Config        string
	Items         template.JS
	ECharts       template.JS
}

type failure struct {
	Evaluation int
	ID, Error  string
}

type table struct {
	Head []headCell
	Rows []tableRow
}

type headCell struct {
	Label, Class string
}

type tableRow struct {
	Cells  []tableCell
	Recipe string
	Export string
	// Chosen marks the run's recommended member.
	Chosen bool
}

type tableCell struct {
	Text, Sort, Title, Class string
}

func buildPage(r *Run, o Options) (*page, error) {
	js, err := echartsJS()
	if err != nil {
		return nil, err
	}
	p := &page{
		Name:         r.Name,
		Note:         r.Note,
		FitnessSplit: orDefault(r.FitnessSplit, "validation"),
		TestSplit:    orDefault(r.TestSplit, "test"),
		ECharts:      js,
		Config:       r.ConfigText,
		Live:         o.PollURL != "" && !r.Finished,
		PollURL:      o.PollURL,
		PollSeconds:  max(o.PollSeconds, 1),
		Version:      o.Version,
	}
	p.Status = runStatus(r)
	ok := scored(r)
	tips := newTipItems()
	addCandidateTips(tips, r)
	for k, ref := range r.References {
		tips.lines["r"+strconv.Itoa(k)] = append([]string{ref.Kind + ": " + ref.Name}, scoreLines(r.Objectives, ref.Validation, ref.Test)...)
	}
	front, computed := frontMembers(r, ok)
	p.FrontComputed = computed
	p.Empty = len(ok) == 0 && len(r.Front) == 0

	if !p.Empty {
		// Charts need numbers: front members with a missing (NaN) or
		// infinite validation score are listed in the table only.
		plotted := make([]FrontMember, 0, len(front))
		for _, f := range front {
			if finite(f.Validation) {
				plotted = append(plotted, f)
			}
		}
		if err := p.addPareto(r, ok, plotted, tips); err != nil {
			return nil, err
		}
		if err := p.addProgress(r, ok); err != nil {
			return nil, err
		}
		if len(r.Objectives) == 1 && len(p.Progress) == 0 {
			p.ParetoNote = "One objective: the front is the best candidate (see the front members)."
		}
	}
	p.Table = frontTable(r, front)
	if r.Chosen != "" && slices.ContainsFunc(p.Table.Rows, func(row tableRow) bool { return row.Chosen }) {
		p.ChosenNote = "★ marks the chosen member (" + r.ChosenBy + "): the one the run's summary names and `evomerge export` takes without --candidate. It is chosen on validation scores; its test scores were measured after the choice."
	}
	p.References = referenceTable(r)
	if err := p.addCoefficients(r, front); err != nil {
		return nil, err
	}
	if p.Sections, err = drawSections(r.Sections, tips); err != nil {
		return nil, fmt.Errorf("reports: run %q: %w", r.Name, err)
	}
	p.Facts, p.Failures = runFacts(r)
	items, err := scriptJSON(tips.lines)
	if err != nil {
		return nil, fmt.Errorf("reports: run %q: encode tooltips: %w", r.Name, err)
	}
	p.Items = template.JS(items)
	return p, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (p *page) addPareto(r *Run, ok []int, front []FrontMember, tips *tipItems) error {
	m := len(r.Objectives)
	switch {
	case m == 1:
		p.ParetoNote = "One objective: the front is the best candidate; see the progress curves."
		return nil
	case m == 2:
		b, err := paretoPairChart("pareto", r, ok, front, 0, 1, true, tips)
		if err != nil {
			return err
		}
		p.Pareto = append(p.Pareto, b)
		return nil
	}
	b, err := parallelChart("pareto", r, ok, front, tips)
	if err != nil {
		return err
	}
	p.Pareto = append(p.Pareto, b)
	pairs := objectivePairs(m)
	for _, pr := range pairs {
		b, err := paretoPairChart(fmt.Sprintf("pareto_%d_%d", pr[0], pr[1]), r, ok, front, pr[0], pr[1], false, tips)
		if err != nil {
			return err
		}
		p.Pareto = append(p.Pareto, b)
	}
	which := "every pair of objectives"
	if len(pairs) < m*(m-1)/2 {
		which = "each objective against the next"
	}
	p.ParetoNote = fmt.Sprintf("%d objectives: one axis per objective, then %s (front members are non-dominated in all %d objectives, so in a pair they need not look non-dominated).", m, which, m)
	return nil
}

func (p *page) addProgress(r *Run, ok []int) error {
	ref := hypervolumeRef(r, ok)
	pts := progress(r, ref)
	if len(pts) == 0 {
		return nil
	}
	if len(pts) == 1 {
		// A run of one candidate (AdaMerging, FW-Merging): a curve of one
		// point shows nothing.
		p.ProgressNote = "One scored evaluation: no progress curves (they need two or more)."
		return nil
	}
	evals := make([]float64, len(pts))
	secs := make([]float64, len(pts))
	hv := make([]float64, len(pts))
	hasTime := false
	for k, pt := range pts {
		evals[k] = float64(pt.Evaluations)
		secs[k] = pt.Seconds
		hv[k] = pt.Hypervolume
		hasTime = hasTime || !math.IsNaN(pt.Seconds)
	}
	refText := formatScores(ref)
	b, err := lineChart("progress_hv", "Hypervolume (validation) against evaluations",
		"reference point "+refText, "evaluations", "hypervolume",
		[]LineSeries{{Name: "hypervolume", X: evals, Y: hv, Color: colorFront}})
	if err != nil {
		return err
	}
	p.Progress = append(p.Progress, b)
	series := make([]LineSeries, len(r.Objectives))
	for j, o := range r.Objectives {
		y := make([]float64, len(pts))
		for k, pt := range pts {
			y[k] = pt.Best[j]
		}
		series[j] = LineSeries{Name: "best " + objectiveLabel(o), X: evals, Y: y}
	}
	b, err = lineChart("progress_best", "Best validation score per objective against evaluations", "", "evaluations", "score", series)
	if err != nil {
		return err
	}
	p.Progress = append(p.Progress, b)
	if hasTime {
		b, err = lineChart("progress_time", "Hypervolume (validation) against wall time", "reference point "+refText, "seconds since the first evaluation", "hypervolume",
			[]LineSeries{{Name: "hypervolume", X: secs, Y: hv, Color: colorFront}})
		if err != nil {
			return err
		}
		p.Progress = append(p.Progress, b)
	}
	return nil
}

// addCoefficients draws, for up to maxCoefficientMembers front members with
// vector genomes (the best member of each objective first), a heatmap of
// their coefficients by layer group/parameter (rows) and model (columns).
func (p *page) addCoefficients(r *Run, front []FrontMember) error {
	if len(r.Dims) == 0 {
		return nil
	}
	genomes := map[string][]float64{}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if len(c.Genome.Values) == len(r.Dims) && finite(c.Genome.Values) {
			genomes[c.ID] = c.Genome.Values
		}
	}
	var chosen []int
	pick := func(k int) {
		if len(chosen) < maxCoefficientMembers && genomes[front[k].ID] != nil && !containsInt(chosen, k) {
			chosen = append(chosen, k)
		}
	}
	dirs := fitness.Directions(r.Objectives)
	for j := range r.Objectives {
		best := -1
		for k, f := range front {
			if best < 0 || dirs[j].Better(f.Validation[j], front[best].Validation[j]) {
				best = k
			}
		}
		if best >= 0 {
			pick(best)
		}
	}
	for k := range front {
		pick(k)
	}
	if len(chosen) == 0 {
		p.CoeffNote = "No front member has a coefficient-vector genome (recipes are listed in the table)."
		return nil
	}
	cols, rows, cell := coefficientGrid(r.Dims)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, k := range chosen {
		for _, v := range genomes[front[k].ID] {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	for n, k := range chosen {
		g := genomes[front[k].ID]
		cells := make([]HeatCell, len(g))
		for i, v := range g {
			cells[i] = HeatCell{X: cell[i][0], Y: cell[i][1], Value: v}
		}
		title := "Coefficients of " + shortID(front[k].ID)
		sub := "validation " + formatScores(front[k].Validation)
		b, err := heatmapChart(fmt.Sprintf("coefficients_%d", n), title, sub, cols, rows, cells, lo, hi, heatmapHeight(len(rows)))
		if err != nil {
			return err
		}
		p.Coefficients = append(p.Coefficients, b)
	}
	p.CoeffNote = fmt.Sprintf("%d of %d front members (the best of each objective first); one colour scale for all.", len(chosen), len(front))
	return nil
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// frontTable builds the sortable table of front members. A test column
// is shown for each objective some member has a test score of (a score
// front.json does not record, such as the loss, gets no column of
// dashes); the normalized accuracy column is left out when it repeats the
// test column of a mean normalized accuracy objective or no member has it.
func frontTable(r *Run, front []FrontMember) table {
	testCols := knownColumns(len(r.Objectives), len(front), func(k int) []float64 { return front[k].Test })
	normalized := slices.ContainsFunc(front, func(f FrontMember) bool { return !math.IsNaN(f.NormalizedAccuracy) })
	for _, j := range testCols {
		if o := r.Objectives[j]; o.Task == meanTask && o.Metric == metricNormalized {
			normalized = false
		}
	}
	var t table
	t.Head = append(t.Head, headCell{Label: "candidate"})
	for _, o := range r.Objectives {
		t.Head = append(t.Head, headCell{Label: o.Name + " · validation", Class: "val"})
	}
	for _, j := range testCols {
		t.Head = append(t.Head, headCell{Label: r.Objectives[j].Name + " · test", Class: "test"})
	}
	if normalized {
		t.Head = append(t.Head, headCell{Label: "normalized accuracy (test)", Class: "test"})
	}
	genome := map[string]population.Genome{}
	for i := range r.Candidates {
		genome[r.Candidates[i].ID] = r.Candidates[i].Genome
	}
	dir := orDefault(r.Dir, "RUN_DIR")
	for _, f := range front {
		var row tableRow
		idCell := tableCell{Text: shortID(f.ID), Sort: f.ID, Title: f.ID, Class: "id"}
		if r.Chosen != "" && f.ID == r.Chosen {
			row.Chosen = true
			idCell.Text += " ★ chosen"
			idCell.Title = f.ID + ": the run's chosen member (" + r.ChosenBy + ")"
		}
		row.Cells = append(row.Cells, idCell)
		for _, v := range f.Validation {
			row.Cells = append(row.Cells, numberCell(v, "val"))
		}
		for _, j := range testCols {
			row.Cells = append(row.Cells, numberCell(valueAt(f.Test, j), "test"))
		}
		if normalized {
			row.Cells = append(row.Cells, numberCell(f.NormalizedAccuracy, "test"))
		}
		row.Recipe = f.Recipe
		if row.Recipe == "" {
			if g, ok := genome[f.ID]; ok {
				row.Recipe = genomeText(g, r.Dims, 0)
			}
		}
		row.Export = "evomerge export " + shellQuote(dir) + " --candidate " + shellQuote(f.ID) + " --out " + shellQuote(strings.TrimSuffix(dir, "/")+"/exports/"+shortID(f.ID))
		t.Rows = append(t.Rows, row)
	}
	// The chosen member leads the table (the others keep their order).
	slices.SortStableFunc(t.Rows, func(a, b tableRow) int {
		switch {
		case a.Chosen && !b.Chosen:
			return -1
		case b.Chosen && !a.Chosen:
			return 1
		}
		return 0
	})
	return t
}

// Objective task and metric names the front table recognises (as the
// configs and the native evaluator spell them).
const (
	meanTask         = "mean"
	metricNormalized = "normalized_accuracy"
)

// knownColumns returns, in order, the objectives j for which some row k
// has a score that is not NaN; scores(k) may be nil (no scores).
func knownColumns(m, rows int, scores func(k int) []float64) []int {
	var cols []int
	for j := 0; j < m; j++ {
		for k := 0; k < rows; k++ {
			if !math.IsNaN(valueAt(scores(k), j)) {
				cols = append(cols, j)
				break
			}
		}
	}
	return cols
}

// valueAt returns xs[j], or NaN when xs is nil.
func valueAt(xs []float64, j int) float64 {
	if xs == nil {
		return math.NaN()
	}
	return xs[j]
}

// referenceTable lists the reference models with their validation and test
// scores, one column per objective and split that some reference has a
// score of.
func referenceTable(r *Run) table {
	var t table
	refs := r.References
	valCols := knownColumns(len(r.Objectives), len(refs), func(k int) []float64 { return refs[k].Validation })
	testCols := knownColumns(len(r.Objectives), len(refs), func(k int) []float64 { return refs[k].Test })
	if len(valCols)+len(testCols) == 0 {
		return t
	}
	t.Head = append(t.Head, headCell{Label: "reference"}, headCell{Label: "kind"})
	for _, j := range valCols {
		t.Head = append(t.Head, headCell{Label: r.Objectives[j].Name + " · validation", Class: "val"})
	}
	for _, j := range testCols {
		t.Head = append(t.Head, headCell{Label: r.Objectives[j].Name + " · test", Class: "test"})
	}
	for _, ref := range refs {
		row := tableRow{Cells: []tableCell{{Text: ref.Name, Sort: ref.Name}, {Text: ref.Kind, Sort: ref.Kind}}}
		for _, j := range valCols {
			row.Cells = append(row.Cells, numberCell(ref.Validation[j], "val"))
		}
		for _, j := range testCols {
			row.Cells = append(row.Cells, numberCell(valueAt(ref.Test, j), "test"))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func numberCell(v float64, class string) tableCell {
	if math.IsNaN(v) {
		return tableCell{Text: "–", Sort: "", Class: class}
	}
	return tableCell{Text: strconv.FormatFloat(v, 'g', 6, 64), Sort: strconv.FormatFloat(v, 'g', -1, 64), Class: class + " num"}
}

// shellQuote quotes s for a POSIX shell when it contains anything but
// safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shortID returns the first 12 characters of a candidate id.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func formatScores(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'g', 6, 64)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// genomeText describes a genome: "dim=value" pairs of a vector genome (at
// most limit of them when limit > 0), or the recipe of a recipe genome.
func genomeText(g population.Genome, dims []string, limit int) string {
	if g.Recipe != nil {
		s := g.Recipe.Operator + "(" + strings.Join(g.Recipe.Parents, ", ") + ")"
		if len(g.Recipe.Params) > 0 {
			keys := make([]string, 0, len(g.Recipe.Params))
			for k := range g.Recipe.Params {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			kv := make([]string, len(keys))
			for i, k := range keys {
				kv[i] = k + "=" + strconv.FormatFloat(g.Recipe.Params[k], 'g', 6, 64)
			}
			s += " " + strings.Join(kv, " ")
		}
		return s
	}
	n := len(g.Values)
	shown := n
	if limit > 0 && n > limit {
		shown = limit
	}
	parts := make([]string, shown)
	for i := 0; i < shown; i++ {
		name := "x" + strconv.Itoa(i)
		if i < len(dims) {
			name = dims[i]
		}
		parts[i] = name + "=" + strconv.FormatFloat(g.Values[i], 'g', 6, 64)
	}
	s := strings.Join(parts, " ")
	if shown < n {
		s += fmt.Sprintf(" … (%d more)", n-shown)
	}
	return s
}

// scoreLines describes validation and (when known) test scores; a score
// that is not known (NaN) reads "–".
func scoreLines(objs []fitness.Objective, val, test []float64) []string {
	join := func(xs []float64) string {
		parts := make([]string, len(objs))
		for j, o := range objs {
			v := "–"
			if !math.IsNaN(xs[j]) {
				v = strconv.FormatFloat(xs[j], 'g', 6, 64)
			}
			parts[j] = o.Name + "=" + v
		}
		return strings.Join(parts, ", ")
	}
	lines := []string{"validation: " + join(val)}
	if test != nil && !allUnknown(test) {
		lines = append(lines, "test: "+join(test))
	}
	return lines
}

// allUnknown reports whether every value is NaN.
func allUnknown(xs []float64) bool {
	for _, x := range xs {
		if !math.IsNaN(x) {
			return false
		}
	}
	return true
}

// addCandidateTips adds the tooltip of every scored candidate (once per
// candidate id).
func addCandidateTips(tips *tipItems, r *Run) {
	test := map[string][]float64{}
	for _, f := range r.Front {
		test[f.ID] = f.Test
	}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if !c.OK() || len(c.Scores) != len(r.Objectives) || tips.ids[c.ID] != "" {
			continue
		}
		lines := []string{"candidate " + c.ID, fmt.Sprintf("evaluation %d, generation %d", i+1, c.Lineage.Generation)}
		lines = append(lines, scoreLines(r.Objectives, c.Scores, test[c.ID])...)
		lines = append(lines, "genome: "+genomeText(c.Genome, r.Dims, 6))
		key := "c" + strconv.Itoa(i)
		tips.ids[c.ID] = key
		tips.lines[key] = lines
	}
}

// runStatus describes the run's state: "finished (evaluation-limit)",
// "in progress", ...
func runStatus(r *Run) string {
	st := r.State
	if st == "" || st == "running" {
		st = map[bool]string{true: "finished", false: "in progress"}[r.Finished]
	}
	if r.StopReason != "" {
		st += " (" + r.StopReason + ")"
	}
	return st
}

// runFacts lists the run facts and failed evaluations.
func runFacts(r *Run) ([]Fact, []failure) {
	var fails []failure
	okCount := 0
	var first, last time.Time
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if c.Status == population.StatusFailed {
			fails = append(fails, failure{Evaluation: i + 1, ID: c.ID, Error: c.Error})
		} else if c.OK() {
			okCount++
		}
		if s := c.Started; !s.IsZero() && (first.IsZero() || s.Before(first)) {
			first = s
		}
		if e := c.Finished; !e.IsZero() && e.After(last) {
			last = e
		}
	}
	n := max(len(r.Candidates), r.Budget.Evaluations)
	budget := strconv.Itoa(n)
	if r.Budget.MaxEvaluations > 0 {
		budget += fmt.Sprintf(" of %d (%.1f%%)", r.Budget.MaxEvaluations, 100*float64(n)/float64(r.Budget.MaxEvaluations))
	}
	if n > len(r.Candidates) {
		budget += fmt.Sprintf("; %d evaluated, %d repeats answered from the journal", len(r.Candidates), n-len(r.Candidates))
	}
	facts := []Fact{
		{"run", r.Name},
		{"status", runStatus(r)},
		{"method", orDefault(r.Method, "–")},
		{"merge operator", orDefault(r.Operator, "–")},
		{"evaluator", orDefault(r.Evaluator, "–")},
		{"seed", strconv.FormatUint(r.Seed, 10)},
		{"fitness split (validation scores)", orDefault(r.FitnessSplit, "validation")},
		{"held-out split (test scores)", orDefault(r.TestSplit, "test")},
		{"evaluations (budget used)", budget},
		{"successful / failed", fmt.Sprintf("%d / %d", okCount, len(fails))},
	}
	objs := make([]string, len(r.Objectives))
	for j, o := range r.Objectives {
		objs[j] = o.Name + " (" + o.Direction.String() + ")"
	}
	facts = append(facts, Fact{"objectives", strings.Join(objs, ", ")})
	if r.Note != "" {
		facts = append(facts, Fact{"note", r.Note})
	}
	facts = append(facts, r.Facts...)
	if r.Error != "" {
		facts = append(facts, Fact{"error", r.Error})
	}
	start, end := r.Budget.Started, r.Budget.Updated
	if start.IsZero() {
		start = first
	}
	if end.IsZero() {
		end = last
	}
	if !start.IsZero() && !end.IsZero() && end.After(start) {
		d := end.Sub(start)
		if r.Budget.Elapsed > 0 {
			d = r.Budget.Elapsed
		}
		wall := d.Round(time.Second).String()
		if r.Budget.MaxDuration > 0 {
			wall += " of " + r.Budget.MaxDuration.String()
		}
		facts = append(facts,
			Fact{"started (UTC)", start.UTC().Format(time.RFC3339)},
			Fact{"last record (UTC)", end.UTC().Format(time.RFC3339)},
			Fact{"wall time", wall},
			Fact{"evaluations/s", strconv.FormatFloat(float64(n)/d.Seconds(), 'f', 3, 64)})
	}
	return facts, fails
}
