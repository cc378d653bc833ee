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
	"strings"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/atomicfile"
	"github.com/evomerge/evomerge/internal/run"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/reports"
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
	exp, err := configs.DecodeExperiment(configPath, configText)
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
	// answered from the cache are not journaled (Budget.Evaluations counts
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
	case !errors.Is(err, os.ErrNotExist):
		return nil, "", err
	}
	if r.Views, err = readRunViews(dir); err != nil {
		return nil, "", err
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
// Test results are per task; an objective gets its test score when it is
// the accuracy of one task.
func addFront(r *reports.Run, f run.Front) {
	if f.FitnessSplit != "" {
		r.FitnessSplit = f.FitnessSplit
	}
	taskIndex := make(map[string]int, len(f.Tasks))
	for i, t := range f.Tasks {
		taskIndex[t] = i
	}
	m := len(r.Objectives)
	perObjective := func(acc []float64) []float64 {
		out := make([]float64, m)
		for j, o := range r.Objectives {
			out[j] = math.NaN()
			if i, ok := taskIndex[o.Task]; ok && (o.Metric == "" || o.Metric == "accuracy") && i < len(acc) {
				out[j] = acc[i]
			}
		}
		return out
	}
	for _, mem := range f.Members {
		if len(mem.Validation) != m {
			continue // a front of another objective set; Validate would refuse it
		}
		fm := reports.FrontMember{ID: mem.ID, Validation: mem.Validation, NormalizedAccuracy: math.NaN()}
		if mem.Test != nil {
			fm.Test = perObjective(mem.Test.Accuracy)
			if mem.Test.MeanNormalized != nil {
				fm.NormalizedAccuracy = *mem.Test.MeanNormalized
			}
			if mem.Test.Split != "" {
				r.TestSplit = mem.Test.Split
			}
		}
		r.Front = append(r.Front, fm)
	}
	nan := func() []float64 {
		v := make([]float64, m)
		for j := range v {
			v[j] = math.NaN()
		}
		return v
	}
	for i, acc := range f.ExpertTest {
		if i >= len(f.Tasks) {
			break
		}
		test := nan()
		for j, o := range r.Objectives {
			if o.Task == f.Tasks[i] && (o.Metric == "" || o.Metric == "accuracy") {
				test[j] = acc
			}
		}
		r.References = append(r.References, reports.Reference{Name: "expert of " + f.Tasks[i], Kind: reports.ReferenceExpert, Validation: nan(), Test: test})
	}
	if f.AverageTest != nil {
		r.References = append(r.References, reports.Reference{Name: "plain average of the experts", Kind: reports.ReferenceAverage, Validation: nan(), Test: perObjective(f.AverageTest.Accuracy)})
	}
}
