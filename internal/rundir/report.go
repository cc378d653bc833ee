package rundir

// The report of a run directory: its files read into reports.Run (the
// report model), the method sections built from the data the run recorded
// (views.json), and report.html written. What the report shows of a method
// is keyed on the data present (a views.json part, adamerging.json, the
// seed dimension of M2N2), never on the algorithm's name.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/atomicfile"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/reports"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/m2n2"
)

// reportInputs are the files a report reads, in stamp order.
var reportInputs = []string{ConfigFile, StateFile, JournalFile, FrontFile, ViewsFile, AdaMergingFile}

// ReportStamp identifies the state of the files a run directory's report
// reads from their sizes and modification times (no file is read): it
// changes whenever one of them changes.
func ReportStamp(dir string) (string, error) {
	var b strings.Builder
	for _, name := range reportInputs {
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
	return b.String(), nil
}

// DirReports reads run directories for a [ReportServer] the way
// [WriteReport] does.
var DirReports = ReportLoader{Stamp: ReportStamp, Load: LoadReport}

// ReportModel reads the run directory dir into the report's model. It
// works while the run is going: a torn last journal line (a write in
// progress) is skipped, and without front.json the report computes the
// front from the journal.
func ReportModel(dir string) (*reports.Run, error) {
	r, _, err := LoadReport(dir)
	return r, err
}

// LoadReport is ReportModel that also returns the ReportStamp of the files
// it read (taken before reading them, so a change while reading shows at
// the next stamp).
func LoadReport(dir string) (*reports.Run, string, error) {
	stamp, err := ReportStamp(dir)
	if err != nil {
		return nil, "", err
	}
	configPath := filepath.Join(dir, ConfigFile)
	configText, err := os.ReadFile(configPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("%s is not a run directory (no %s): give the directory `evomerge run` printed", dir, ConfigFile)
	}
	if err != nil {
		return nil, "", err
	}
	exp, err := configs.DecodeResolved(configPath, configText, registry.Catalog())
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", configPath, err)
	}
	st, ok, err := ReadState(dir)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("%s: the run has not started evaluating yet (no %s); run `evomerge report` again once it has", dir, StateFile)
	}
	if err := fitness.ValidateObjectives(st.Objectives); err != nil {
		return nil, "", fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	// A torn last line (a write in progress, or a crash) is skipped.
	journal, err := ReadJournal(filepath.Join(dir, JournalFile))
	if err != nil {
		return nil, "", err
	}
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
	// (answered from the journal) are not journaled (Budget.Evaluations
	// counts them).
	for _, rec := range journal.Records {
		r.Candidates = append(r.Candidates, reports.Candidate{
			Candidate: population.Candidate{ID: rec.ID, Genome: rec.Genome, Lineage: rec.Lineage, Scores: rec.Scores, Status: rec.Status, Error: rec.Error},
			Started:   rec.Started, Finished: rec.Finished,
		})
	}
	front, err := ReadFront(dir)
	switch {
	case err == nil:
		addFront(r, front)
		c, err := ChooseMember(front, exp.Report.Choose)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", configPath, err)
		}
		if c.Index >= 0 {
			r.Chosen, r.ChosenBy = front.Members[c.Index].ID, c.By
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, "", err
	}
	describeSeeds(r)
	inputs, err := adaptationInputs(dir, exp)
	if err != nil {
		return nil, "", err
	}
	if inputs != "" {
		r.Facts = append(r.Facts, reports.AdaptationFact(inputs))
	}
	views, err := ReadViews(dir)
	if err != nil {
		return nil, "", err
	}
	if r.Sections, err = viewSections(views, r, inputs); err != nil {
		return nil, "", fmt.Errorf("%s: %w (remove the file to render the report without algorithm views)", filepath.Join(dir, ViewsFile), err)
	}
	return r, stamp, nil
}

// viewSections turns the views a run recorded into the report's sections,
// one for each part present, in the order archive, surrogate, trajectory,
// Frank-Wolfe. inputs names the split AdaMerging adapted on ("" unknown).
func viewSections(v reports.Views, r *reports.Run, inputs string) ([]reports.Section, error) {
	var out []reports.Section
	add := func(s reports.Section, err error) error {
		if err == nil {
			out = append(out, s)
		}
		return err
	}
	if len(v.Archive) > 0 {
		if err := add(reports.ArchiveSection(v.Archive)); err != nil {
			return nil, err
		}
	}
	if len(v.Surrogate) > 0 {
		if err := add(reports.SurrogateSection(r.Objectives, v.Surrogate)); err != nil {
			return nil, err
		}
	}
	if len(v.Trajectory) > 0 {
		if err := add(reports.TrajectorySection(v.Trajectory, r.Dims, inputs, r.Note)); err != nil {
			return nil, err
		}
	}
	if len(v.FrankWolfe) > 0 {
		if err := add(reports.FrankWolfeSection(v.FrankWolfe)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReportWritten says what WriteReport wrote.
type ReportWritten struct {
	// Path is the file written and Bytes its size.
	Path  string
	Bytes int
	// Evaluations counts the journaled candidates the report shows.
	Evaluations int
	// Finished says whether the run had ended.
	Finished bool
}

// WriteReport renders the report of the run directory dir into path
// (RUN_DIR/report.html when empty), atomically. Writers of
// RUN_DIR/report.html take turns (LockReport), so a report that read the
// run before it ended never replaces the run's final report; the run's own
// lock is not needed. A cancelled ctx stops it before the page is written.
func WriteReport(ctx context.Context, dir, path string) (ReportWritten, error) {
	if path == "" {
		if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
			l, err := LockReport(ctx, dir)
			if err != nil {
				return ReportWritten{}, err
			}
			defer l.Release()
		}
		path = filepath.Join(dir, ReportFile)
	}
	r, err := ReportModel(dir)
	if err != nil {
		return ReportWritten{}, err
	}
	var buf bytes.Buffer
	if err := reports.Render(&buf, r); err != nil {
		return ReportWritten{}, err
	}
	if err := ctx.Err(); err != nil {
		return ReportWritten{}, err
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return ReportWritten{}, err
	}
	return ReportWritten{Path: path, Bytes: buf.Len(), Evaluations: len(r.Candidates), Finished: r.Finished}, nil
}

// RenderReport writes RUN_DIR/report.html (WriteReport); it is the report
// hook a run is given (internal/run's Options.RenderReport).
func RenderReport(ctx context.Context, dir string) error {
	_, err := WriteReport(ctx, dir, "")
	return err
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func describeEvaluator(exp *configs.Experiment) string {
	kind := orElse(exp.Evaluator.Kind, registry.EvaluatorNames()[0])
	switch d := registry.DescribeEvaluator(exp); {
	case d != "":
		return d
	case exp.Models.Benchmark != "":
		return kind + " on benchmark " + exp.Models.Benchmark
	}
	return kind
}

// describeSeeds adapts a run whose one vector dimension is M2N2's seed
// index (m2n2.SeedDim) to the report: the dimension indexes the starting
// models rather than weighting them, so the run has no coefficient
// dimensions (and no coefficient heatmaps), and a front member that is a
// seed says which one it is. Runs with coefficient dimensions are left
// alone.
func describeSeeds(r *reports.Run) {
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
// as the resolved config's AdaMerging settings set it (the optimisation
// is still going); "" for a run with neither.
func adaptationInputs(dir string, exp *configs.Experiment) (string, error) {
	rec, err := ReadAdaMerging(filepath.Join(dir, AdaMergingFile))
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
