package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/atomicfile"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/run"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/reports"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/m2n2"
)

const reportSynopsis = `report RUN_DIR [--out FILE]

Regenerates the run's HTML report (RUN_DIR/report.html) from its config,
journal, state and front files. It works while the run is going: an
incomplete last journal line (a write in progress) is skipped and the front
is computed from the journal until the run writes its final front. The page
is one self-contained file that opens from disk with no network.`

// runViewsFile holds the data of the algorithm views of a run directory
// (reports.Views as JSON: M2N2 archive, MAP surrogate, AdaMerging
// trajectory, FW iterations); optional.
const runViewsFile = "views.json"

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportSynopsis, stderr)
	out := fs.String("out", "", "write the report to this file instead of RUN_DIR/report.html")
	pos, err := parseArgsAnyOrder(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("report needs exactly one run directory, got %d arguments", len(pos))
	}
	start := time.Now()
	res, err := writeRunReport(ctx, pos[0], *out)
	if err != nil {
		return err
	}
	state := "in progress"
	if res.finished {
		state = "finished"
	}
	fmt.Fprintf(stdout, "wrote %s: %d evaluations (run %s), %d bytes in %v\n", res.path, res.evaluations, state, res.bytes, time.Since(start).Round(time.Millisecond))
	return nil
}

// reportResult says what writeRunReport wrote.
type reportResult struct {
	path        string
	bytes       int
	evaluations int
	finished    bool
}

// writeRunReport renders the report of the run directory dir into path
// (RUN_DIR/report.html when empty), atomically.
func writeRunReport(ctx context.Context, dir, path string) (reportResult, error) {
	if path == "" {
		// Writers of RUN_DIR/report.html take turns (run.LockReport): a
		// report that read the run before it ended never replaces the
		// run's final report. The run's own lock is not needed: the page
		// is written atomically, and a report works mid-run.
		if _, err := os.Stat(filepath.Join(dir, run.ConfigFile)); err == nil {
			l, err := run.LockReport(ctx, dir)
			if err != nil {
				return reportResult{}, err
			}
			defer l.Release()
		}
	}
	r, _, err := loadReportRun(dir)
	if err != nil {
		return reportResult{}, err
	}
	var buf bytes.Buffer
	if err := reports.Render(&buf, r); err != nil {
		return reportResult{}, err
	}
	if path == "" {
		path = filepath.Join(dir, run.ReportFile)
	}
	if err := ctx.Err(); err != nil {
		return reportResult{}, err
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return reportResult{}, err
	}
	return reportResult{path: path, bytes: buf.Len(), evaluations: len(r.Candidates), finished: r.Finished}, nil
}

// renderRunReport writes RUN_DIR/report.html; it is the run package's
// report hook (run.Options.RenderReport).
func renderRunReport(ctx context.Context, dir string) error {
	_, err := writeRunReport(ctx, dir, "")
	return err
}

// parseArgsAnyOrder parses flags placed before, between or after the
// positional arguments and returns the positional ones.
func parseArgsAnyOrder(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// runStamp identifies the state of a run directory's files: it changes
// whenever a file the report reads changes.
type runStamp string

// stampRun returns the stamp of a run directory from the sizes and
// modification times of its files (no file is read).
func stampRun(dir string) (runStamp, error) {
	var b strings.Builder
	for _, name := range []string{run.ConfigFile, run.StateFile, run.JournalFile, run.FrontFile, runViewsFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			b.WriteString("-;")
		case err != nil:
			return "", err
		default:
			fmt.Fprintf(&b, "%d.%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return runStamp(b.String()), nil
}

// loadReportRun reads a run directory into the report's input model, with
// the stamp of the files it read.
func loadReportRun(dir string) (*reports.Run, runStamp, error) {
	stamp, err := stampRun(dir)
	if err != nil {
		return nil, "", err
	}
	configPath := filepath.Join(dir, run.ConfigFile)
	configText, err := os.ReadFile(configPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("%s is not a run directory (no %s): give the directory `evomerge run` printed", dir, run.ConfigFile)
	}
	if err != nil {
		return nil, "", err
	}
	exp, err := configs.DecodeResolved(configPath, configText, registry.Catalog())
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", configPath, err)
	}
	st, ok, err := run.ReadState(dir)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("%s: the run has not started evaluating yet (no %s); run `evomerge report` again once it has", dir, run.StateFile)
	}
	if err := fitness.ValidateObjectives(st.Objectives); err != nil {
		return nil, "", fmt.Errorf("%s: %w", filepath.Join(dir, run.StateFile), err)
	}
	// A torn last line (a write in progress, or a crash) is skipped.
	journal, err := run.ReadJournal(filepath.Join(dir, run.JournalFile))
	if err != nil {
		return nil, "", err
	}
	records := journal.Records
	r := &reports.Run{
		Name:       orElse(st.Experiment, exp.Experiment.Name),
		Dir:        dir,
		ConfigText: string(configText),
		Seed:       exp.Experiment.Seed,
		Method:     orElse(st.Algorithm, exp.Search.Algorithm),
		Operator:   exp.Merge.Operator,
		Evaluator:  describeEvaluator(exp),
		TestSplit:  "test",
		Objectives: st.Objectives,
		Dims:       st.Dimensions,
		Finished:   st.Status != "" && st.Status != "running",
		State:      st.Status,
		StopReason: st.StopReason,
		Error:      st.Error,
		Budget: reports.Budget{
			MaxEvaluations: st.MaxEvaluations, MaxDuration: exp.Search.MaxTime, Evaluations: st.Evaluations,
			Started: st.Started, Updated: st.Updated, Elapsed: time.Duration(st.Elapsed * float64(time.Second)),
		},
	}
	// One journal record per finished evaluation; repeated candidates
	// (repeats, answered from the journal) are not journaled (Budget.Evaluations counts
	// them).
	for _, rec := range records {
		r.Candidates = append(r.Candidates, reports.Candidate{
			Candidate: population.Candidate{ID: rec.ID, Genome: rec.Genome, Lineage: rec.Lineage, Scores: rec.Scores, Status: rec.Status, Error: rec.Error},
			Started:   rec.Started, Finished: rec.Finished,
		})
	}
	front, err := run.ReadFront(dir)
	switch {
	case err == nil:
		addFront(r, front)
		c, err := run.ChooseMember(front, exp.Report.Choose)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", configPath, err)
		}
		if c.Index >= 0 {
			r.Chosen, r.ChosenBy = front.Members[c.Index].ID, c.By
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, "", err
	}
	if r.Views, err = readRunViews(dir); err != nil {
		return nil, "", err
	}
	if r.Method == m2n2.Name {
		describeM2N2Seeds(r)
	}
	if r.Method == adamerging.Name {
		if r.AdaptationInputs, err = adaptationInputs(dir, exp); err != nil {
			return nil, "", err
		}
	}
	return r, stamp, nil
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func describeEvaluator(exp *configs.Experiment) string {
	kind := orElse(exp.Evaluator.Kind, "native")
	switch {
	case kind == "command" && len(exp.Evaluator.Command) > 0:
		return "command: " + strings.Join(exp.Evaluator.Command, " ")
	case exp.Models.Benchmark != "":
		return kind + " on benchmark " + exp.Models.Benchmark
	}
	return kind
}

// describeM2N2Seeds adapts an M2N2 run to the report: its one vector
// dimension ("seed") indexes the starting models rather than weighting
// them, so the run has no coefficient dimensions (and no coefficient
// heatmaps), and a front member that is a seed says which one it is.
func describeM2N2Seeds(r *reports.Run) {
	if len(r.Dims) != 1 || r.Dims[0] != m2n2.SeedDim {
		return
	}
	r.Dims = nil
	seed := map[string]int{}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		if c.Lineage.Operator == m2n2.SeedOperator && len(c.Genome.Values) == 1 {
			seed[c.ID] = int(c.Genome.Values[0])
		}
	}
	for k := range r.Front {
		if i, ok := seed[r.Front[k].ID]; ok {
			r.Front[k].Recipe = fmt.Sprintf("seed=%d: M2N2's starting model %d, not a merge", i, i+1)
		}
	}
}

// adaptationInputs names the split whose unlabelled inputs AdaMerging
// read: as adamerging.json records it once the optimisation has run, else
// as the resolved config sets it (the optimisation is still going).
func adaptationInputs(dir string, exp *configs.Experiment) (string, error) {
	rec, err := run.ReadAdaMerging(filepath.Join(dir, run.AdaMergingFile))
	switch {
	case err == nil && rec.Inputs != "":
		return rec.Inputs, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	if a, err := registry.Settings(exp); err == nil {
		if ada, ok := a.(*adamerging.Settings); ok {
			return ada.Inputs, nil
		}
	}
	return "", nil
}

// readRunViews reads views.json, the data of the algorithm views (M2N2
// archive, MAP surrogate, AdaMerging trajectory, FW iterations); a run
// without one has no such views.
func readRunViews(dir string) (reports.Views, error) {
	path := filepath.Join(dir, runViewsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return reports.Views{}, nil
	}
	if err != nil {
		return reports.Views{}, err
	}
	var v reports.Views
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return reports.Views{}, fmt.Errorf("%s: %v (remove the file to render the report without algorithm views)", path, err)
	}
	return v, nil
}

// addFront adds the final front and the reference models of front.json.
// front.json holds per-task accuracies (and normalized accuracies) on the
// fitness and test splits; objectiveScores maps them onto the run's
// objectives. The plain average's fitness-split objective scores are used
// as recorded when front.json has them (they include the loss).
func addFront(r *reports.Run, f run.Front) {
	if f.FitnessSplit != "" {
		r.FitnessSplit = f.FitnessSplit
	}
	if f.Note != "" {
		r.Note = f.Note
	}
	m := len(r.Objectives)
	for _, mem := range f.Members {
		if len(mem.Validation) != m {
			continue // a front of another objective set; Validate would refuse it
		}
		fm := reports.FrontMember{ID: mem.ID, Validation: mem.Validation, NormalizedAccuracy: math.NaN()}
		if mem.Test != nil {
			fm.Test = objectiveScores(r.Objectives, f.Tasks, mem.Test)
			if mem.Test.MeanNormalized != nil {
				fm.NormalizedAccuracy = *mem.Test.MeanNormalized
			}
			if mem.Test.Split != "" {
				r.TestSplit = mem.Test.Split
			}
		}
		r.Front = append(r.Front, fm)
	}
	for i, task := range f.Tasks {
		val := expertObjectiveScores(r.Objectives, task, at(f.ExpertValidation, i))
		test := expertObjectiveScores(r.Objectives, task, at(f.ExpertTest, i))
		if allNaN(val) && allNaN(test) {
			continue // no expert for this task, or none of its scores is an objective
		}
		r.References = append(r.References, reports.Reference{Name: "expert of " + task, Kind: reports.ReferenceExpert, Validation: val, Test: test})
	}
	if f.AverageTest != nil || f.AverageFitness != nil || len(f.AverageFitnessScores) == m && m > 0 {
		val := objectiveScores(r.Objectives, f.Tasks, f.AverageFitness)
		if len(f.AverageFitnessScores) == m {
			val = slices.Clone(f.AverageFitnessScores)
		}
		r.References = append(r.References, reports.Reference{Name: "plain average of the experts", Kind: reports.ReferenceAverage,
			Validation: val, Test: objectiveScores(r.Objectives, f.Tasks, f.AverageTest)})
	}
}

// objectiveScores maps per-task scores on one split onto the objectives:
// a task's accuracy or normalized accuracy, or their mean over the tasks
// (task "mean"). Scores front.json does not record (the loss, a task it
// has no score of) are NaN; s == nil gives all NaN.
func objectiveScores(objs []fitness.Objective, tasks []string, s *run.SplitScores) []float64 {
	out := make([]float64, len(objs))
	for j, o := range objs {
		out[j] = math.NaN()
		if s == nil {
			continue
		}
		var perTask []float64
		switch o.Metric {
		case "", configs.MetricAccuracy:
			perTask = s.Accuracy
		case configs.MetricNormalized:
			perTask = s.Normalized
			if o.Task == configs.TaskMean && s.MeanNormalized != nil {
				out[j] = *s.MeanNormalized
				continue
			}
		default:
			continue // loss: front.json records accuracies only
		}
		if len(perTask) != len(tasks) {
			continue
		}
		if o.Task == configs.TaskMean {
			if len(perTask) > 0 {
				sum := 0.0
				for _, v := range perTask {
					sum += v
				}
				out[j] = sum / float64(len(perTask))
			}
			continue
		}
		if i := slices.Index(tasks, o.Task); i >= 0 {
			out[j] = perTask[i]
		}
	}
	return out
}

// expertObjectiveScores places the accuracy of task's expert on one split (NaN:
// unknown) on the objectives: its accuracy on its own task, and its
// normalized accuracy there, 1 by definition. Its scores on the other
// tasks (and so every mean) are not recorded and are NaN.
func expertObjectiveScores(objs []fitness.Objective, task string, acc float64) []float64 {
	out := make([]float64, len(objs))
	for j, o := range objs {
		out[j] = math.NaN()
		if o.Task != task || math.IsNaN(acc) {
			continue
		}
		switch o.Metric {
		case "", configs.MetricAccuracy:
			out[j] = acc
		case configs.MetricNormalized:
			if acc > 0 {
				out[j] = 1
			}
		}
	}
	return out
}

// at returns xs[i], or NaN when xs has no element i.
func at(xs []float64, i int) float64 {
	if i < len(xs) {
		return xs[i]
	}
	return math.NaN()
}

func allNaN(xs []float64) bool {
	for _, x := range xs {
		if !math.IsNaN(x) {
			return false
		}
	}
	return true
}
