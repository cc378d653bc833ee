package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/atomicfile"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/population"
)

// Names of the files in a run directory.
const (
	ConfigFile  = "config.toml"
	JournalFile = "journal.jsonl"
	StateFile   = "state.json"
	FrontFile   = "front.json"
	LogFile     = "log.jsonl"
	ReportFile  = "report.html"
	ExportsDir  = "exports"
	// NATSDir holds the streams of a NATS server the run embeds.
	NATSDir = "nats"
)

// runFiles are the entries a run writes; --force removes exactly these.
var runFiles = []string{ConfigFile, JournalFile, StateFile, FrontFile, LogFile, ReportFile, ExportsDir, NATSDir,
	ViewsFile, AdaMergingFile, FWFile, M2N2Dir}

// StateVersion is the version of state.json.
const StateVersion = 1

// Run states recorded in state.json.
const (
	StateRunning     = "running"
	StateFinished    = "finished"
	StateInterrupted = "interrupted"
	StateFailed      = "failed"
	// StateUnknown is what Status reports for a run whose state.json is
	// missing while its journal holds records.
	StateUnknown = "unknown"
)

// State is state.json: where the run stands, rewritten atomically after
// every batch and at the end.
type State struct {
	V          int                 `json:"v"`
	Experiment string              `json:"experiment"`
	Algorithm  string              `json:"algorithm"`
	Status     string              `json:"status"`
	StopReason string              `json:"stop_reason,omitempty"`
	Error      string              `json:"error,omitempty"`
	Objectives []fitness.Objective `json:"objectives"`
	// Dimensions names the searched values, in genome order.
	Dimensions []string `json:"dimensions"`
	// MaxEvaluations is the evaluation budget (0: none).
	MaxEvaluations int `json:"max_evaluations,omitempty"`
	// Evaluations counts evaluated candidates of the search (replayed ones
	// included), Failed the failed ones, Generations the completed rounds.
	Evaluations int `json:"evaluations"`
	Failed      int `json:"failed"`
	Generations int `json:"generations"`
	// Best is the best score of each objective so far (null while none).
	Best []*float64 `json:"best"`
	// Sessions counts `run` and `resume` invocations.
	Sessions int `json:"sessions"`
	// Elapsed is the wall time of every session so far, in seconds.
	Elapsed float64   `json:"elapsed_seconds"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// MethodState is the last state a method that saves one mid-way
	// (AdaMerging's Adam steps) saved; a resumed run continues from it.
	MethodState json.RawMessage `json:"method_state,omitempty"`
}

// FrontVersion is the version of front.json.
const FrontVersion = 1

// Front is front.json: the final Pareto front on the fitness split, each
// member re-scored on the held-out test split, with the reference figures.
type Front struct {
	V            int                 `json:"v"`
	Experiment   string              `json:"experiment"`
	Status       string              `json:"status"`
	Objectives   []fitness.Objective `json:"objectives"`
	FitnessSplit string              `json:"fitness_split"`
	Dimensions   []string            `json:"dimensions"`
	Evaluations  int                 `json:"evaluations"`
	Members      []FrontMember       `json:"members"`
	// Tasks lists the tasks of the per-task scores, in order.
	Tasks []string `json:"tasks,omitempty"`
	// ExpertTest is each task's expert accuracy on test (the reference of
	// normalized accuracy).
	ExpertTest []float64 `json:"expert_test_accuracy,omitempty"`
	// AverageTest is plain weight averaging of the experts on test, as
	// measured when the benchmark was prepared; nil when unknown.
	AverageTest *SplitScores `json:"plain_average_test,omitempty"`
	// ExpertValidation is each task's expert accuracy on the fitness split
	// (nil, as ExpertTest, when a task has no expert). AverageFitness is plain weight averaging
	// scored on the fitness split per task, and AverageFitnessScores its
	// objective scores in objective order; both only when the run's space
	// can express the average. They are the fitness-split reference points.
	ExpertValidation     []float64    `json:"expert_fitness_accuracy,omitempty"`
	AverageFitness       *SplitScores `json:"plain_average_fitness,omitempty"`
	AverageFitnessScores []float64    `json:"plain_average_fitness_scores,omitempty"`
	// Note is a caveat every output of the method carries, e.g. that
	// AdaMerging read unlabelled test inputs (test-time adaptation).
	Note string `json:"note,omitempty"`
	// Scalarization is the single cost a scalarising method (ga, cmaes)
	// minimised, with the best cost it reached; nil for other methods.
	Scalarization *FrontScalarization `json:"scalarization,omitempty"`
}

// FrontScalarization describes the scalarised objective of a ga or cmaes
// run: its method ("weighted-sum" or "chebyshev"), weights (one per
// objective), Chebyshev's ideal point and augmentation, and the candidate
// with the lowest cost over every successful evaluation (a front member:
// the minimum of either scalarisation is attained on the Pareto front).
type FrontScalarization struct {
	Method  string    `json:"method"`
	Weights []float64 `json:"weights"`
	Ideal   []float64 `json:"ideal,omitempty"`
	Rho     float64   `json:"rho,omitempty"`
	BestID  string    `json:"best_id,omitempty"`
	Cost    *float64  `json:"best_cost,omitempty"`
}

// FrontMember is one candidate of the front.
type FrontMember struct {
	ID      string             `json:"id"`
	Genome  population.Genome  `json:"genome"`
	Lineage population.Lineage `json:"lineage"`
	// Validation are the objective scores on the fitness split.
	Validation []float64 `json:"fitness_scores"`
	// FitnessTasks and Test are per-task results on the fitness and test
	// splits (nil when not scored).
	FitnessTasks *SplitScores `json:"fitness_tasks,omitempty"`
	Test         *SplitScores `json:"test,omitempty"`
	// Cost is the member's scalarised cost on the fitness split (ga and
	// cmaes runs; see Front.Scalarization).
	Cost *float64 `json:"scalarized_cost,omitempty"`
}

// SplitScores are per-task accuracies on one split and their mean
// normalized accuracy (accuracy / the task expert's accuracy on the split).
type SplitScores struct {
	Split          string    `json:"split"`
	Accuracy       []float64 `json:"accuracy"`
	Normalized     []float64 `json:"normalized_accuracy,omitempty"`
	MeanNormalized *float64  `json:"mean_normalized_accuracy,omitempty"`
}

// runFilePerm is the permission of the files a run writes.
const runFilePerm = 0o644

// writeFileAtomic writes data to path atomically (see internal/atomicfile);
// errors are WriteErrors.
func writeFileAtomic(path string, data []byte) error {
	if err := checkWriteFault(path); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, runFilePerm); err != nil {
		return writeError(path, err)
	}
	return nil
}

// WriteError is a failed write of a run directory's file: "writing
// runs/x/journal.jsonl: no space left on device". It unwraps to the OS
// error (errors.Is(err, syscall.ENOSPC) holds on a full disk).
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string { return "writing " + e.Path + ": " + e.Err.Error() }

func (e *WriteError) Unwrap() error { return e.Err }

// writeError makes err, from writing path, a WriteError that names path once
// and the OS error (the innermost path or link error's cause).
func writeError(path string, err error) error {
	if we := (*WriteError)(nil); errors.As(err, &we) {
		return err
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe) && pe.Op == "sync":
		err = fmt.Errorf("fsync: %w", pe.Err)
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = fmt.Errorf("rename: %w", le.Err)
	}
	return &WriteError{Path: path, Err: err}
}

// writeFault, set by tests, is asked before every write of a run
// directory's file (journal appends and atomic writes); an error it returns
// is that write's OS error, as a full disk would give it.
var writeFault func(path string) error

func checkWriteFault(path string) error {
	if writeFault == nil {
		return nil
	}
	if err := writeFault(path); err != nil {
		return writeError(path, err)
	}
	return nil
}

// writeFailures collects the failed writes of a session to its run
// directory in the order they happened. The first is the cause (on a full
// disk every later write fails as well), so it is the one a session stops
// with; the later ones are only added after it.
type writeFailures struct {
	mu   sync.Mutex
	errs []error
}

// add records err (nil is ignored) and returns it.
func (w *writeFailures) add(err error) error {
	if err != nil {
		w.mu.Lock()
		w.errs = append(w.errs, err)
		w.mu.Unlock()
	}
	return err
}

// first is the first failure, nil if none.
func (w *writeFailures) first() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) == 0 {
		return nil
	}
	return w.errs[0]
}

// stopped is the error of a session that stopped because writing its run
// directory failed: the first failed write, what to do, and the writes
// that failed after it, including marking state.json failed (stateErr).
func (w *writeFailures) stopped(dir string, stateErr error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := &StoppedError{Dir: dir, Err: w.errs[0], State: stateErr}
	for _, err := range w.errs[1:] {
		if err != stateErr {
			e.Later = append(e.Later, err)
		}
	}
	return e
}

// StoppedError is the error of a session that stopped because a write to
// its run directory failed. Err is the first failed write; Later are writes
// that failed after it; State, when set, is why state.json could not be
// marked failed. It unwraps to Err.
type StoppedError struct {
	Dir   string
	Err   error
	Later []error
	State error
}

func (e *StoppedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: the run stopped there; fix the cause (free disk space, check the file system) and continue it with `evomerge resume %s`", e.Err, e.Dir)
	for _, err := range e.Later {
		fmt.Fprintf(&b, "; then %v", err)
	}
	if e.State != nil {
		fmt.Fprintf(&b, "; %s could not be marked failed either (%v), so it may still say running", filepath.Join(e.Dir, StateFile), e.State)
	}
	return b.String()
}

func (e *StoppedError) Unwrap() error { return e.Err }

// syncDir makes creations and renames in dir durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// writeJSON writes v as indented JSON atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// ReadState reads state.json of a run directory; ok is false when there is
// none yet.
func ReadState(dir string) (st State, ok bool, err error) {
	path := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, false, fmt.Errorf("%s: %v (the file is written atomically, so this is not a crash; restore it or remove it)", path, err)
	}
	if st.V != StateVersion {
		return State{}, false, fmt.Errorf("%s: version %d, this evomerge reads version %d", path, st.V, StateVersion)
	}
	return st, true, nil
}

// ReadFront reads front.json of a run directory.
func ReadFront(dir string) (Front, error) {
	path := filepath.Join(dir, FrontFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Front{}, err
	}
	var f Front
	if err := json.Unmarshal(b, &f); err != nil {
		return Front{}, fmt.Errorf("%s: %v", path, err)
	}
	return f, nil
}

func floatPtrs(xs []float64) []*float64 {
	out := make([]*float64, len(xs))
	for i, x := range xs {
		if x == x { // not NaN
			v := x
			out[i] = &v
		}
	}
	return out
}

// stateFromJournal stands in for a missing state.json of a run whose journal
// holds records: status StateUnknown, the experiment from config.toml, the
// evaluations and last update from the journal, and the objectives when
// they can be told (journalObjectives).
func stateFromJournal(dir string, j JournalContents) State {
	st := State{V: StateVersion, Status: StateUnknown, Evaluations: len(j.Records)}
	exp, err := configs.LoadResolved(filepath.Join(dir, ConfigFile), registry.Catalog())
	if err == nil {
		st.Experiment, st.Algorithm, st.MaxEvaluations = exp.Experiment.Name, exp.Search.Algorithm, exp.Search.MaxEvaluations
	} else {
		exp = nil
	}
	for _, r := range j.Records {
		if r.Finished.After(st.Updated) {
			st.Updated = r.Finished
		}
	}
	st.Objectives = journalObjectives(dir, exp, j.Records)
	return st
}

// journalObjectives are the objectives of a run without state.json:
// front.json's, else the config's with "all" expanded over the tasks of the
// records' per-example results (in their order, the task order of the
// evaluators); nil when neither gives one objective per score of the
// records.
func journalObjectives(dir string, exp *configs.Experiment, recs []Record) []fitness.Objective {
	scores := -1
	var tasks []string
	for _, r := range recs {
		if r.Status == population.StatusOK {
			scores = len(r.Scores)
			for _, tc := range r.Correct {
				tasks = append(tasks, tc.Task)
			}
			break
		}
	}
	if scores < 0 {
		return nil
	}
	if f, err := ReadFront(dir); err == nil && len(f.Objectives) == scores {
		return f.Objectives
	}
	if exp == nil {
		return nil
	}
	var objs []fitness.Objective
	for _, o := range exp.Objectives {
		d, err := fitness.ParseDirection(o.Direction)
		if err != nil {
			return nil
		}
		add := func(task string) {
			objs = append(objs, fitness.Objective{Name: task + "/" + o.Metric, Task: task, Metric: o.Metric, Direction: d})
		}
		switch o.Task {
		case configs.TaskAll:
			if len(tasks) == 0 {
				return nil
			}
			for _, t := range tasks {
				add(t)
			}
		case configs.TaskMean:
			add(evaluate.MeanTask)
		default:
			add(o.Task)
		}
	}
	if len(objs) != scores {
		return nil
	}
	return objs
}

// VerifyReport is what Verify checked in a run directory and what it found
// wrong.
type VerifyReport struct {
	Dir string `json:"dir"`
	// Checked says, one line per file, what was verified.
	Checked []string `json:"checked"`
	// Problems each name the file (and line) at fault and what to do.
	Problems []string `json:"problems"`
}

// OK reports that no problem was found.
func (v *VerifyReport) OK() bool { return len(v.Problems) == 0 }

func (v *VerifyReport) checked(format string, args ...any) {
	v.Checked = append(v.Checked, fmt.Sprintf(format, args...))
}

func (v *VerifyReport) problem(format string, args ...any) {
	v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
}

// Verify checks a whole run directory without changing it (it works while
// the run is going): config.toml reads back; every journal line is a
// record whose checksum matches and whose scores agree with its
// per-example results (Record.CheckScores), one score per objective, and a
// candidate journaled twice has the same scores; state.json reads and its
// best scores are journal records' scores; front.json reads, has the run's
// objectives, and every member is a journaled candidate with the same
// fitness scores (and per-task fitness accuracies agreeing with its
// per-example results). The error is only for a directory that is not a
// run directory; problems are in the report.
func Verify(dir string) (*VerifyReport, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(cfgPath); err != nil {
		return nil, fmt.Errorf("%s is not a run directory (no %s)", dir, ConfigFile)
	}
	v := &VerifyReport{Dir: dir, Checked: []string{}, Problems: []string{}}

	exp, err := configs.LoadResolved(cfgPath, registry.Catalog())
	if err != nil {
		v.problem("%v", err)
		exp = nil
	} else {
		v.checked("%s: reads back (experiment %s, algorithm %s)", cfgPath, exp.Experiment.Name, exp.Search.Algorithm)
	}

	statePath := filepath.Join(dir, StateFile)
	st, haveState, stateErr := ReadState(dir)
	if stateErr != nil {
		v.problem("%v", stateErr)
	}

	// The journal, every line, past the first problem.
	journalPath := filepath.Join(dir, JournalFile)
	var recs []journalEntry
	c := lineChecker{name: journalPath}
	var lineProblems []string
	var valid int64
	var torn bool
	f, err := os.Open(journalPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		v.problem("%s: %v", journalPath, err)
	default:
		valid, torn, err = scanJournal(journalPath, f, func(line int, body []byte) error {
			rec, err := c.check(line, body)
			if err != nil {
				lineProblems = append(lineProblems, err.Error())
				return nil
			}
			recs = append(recs, journalEntry{rec, line})
			return nil
		})
		f.Close()
		if err != nil {
			v.problem("%v", err)
		}
	}
	var plain []Record
	for _, e := range recs {
		plain = append(plain, e.rec)
	}

	objs := st.Objectives
	objSource := StateFile
	if !haveState {
		objs, objSource = journalObjectives(dir, exp, plain), "front.json or config.toml"
	}

	summed, crossChecked := 0, 0
	byID := map[string]int{}
	for i, e := range recs {
		r := &e.rec
		if r.Sum != "" {
			summed++
		}
		if r.Status == population.StatusOK && objs != nil && len(r.Scores) != len(objs) {
			v.problem("%s:%d: record %s has %d scores, the run has %d objectives (%s): the record belongs to another configuration", journalPath, e.line, short(r.ID), len(r.Scores), len(objs), objSource)
			continue
		}
		if objs != nil {
			if err := r.CheckScores(objs); err != nil {
				v.problem("%s:%d: %v: %s", journalPath, e.line, err, fixJournalLine(journalPath))
				continue
			}
			if r.Status == population.StatusOK && len(r.Correct) > 0 {
				crossChecked++
			}
		}
		if k, dup := byID[r.ID]; dup {
			p := &recs[k].rec
			if p.Status != r.Status || !slices.Equal(p.Scores, r.Scores) {
				v.problem("%s:%d: candidate %s was journaled on line %d with other results (%s %v, now %s %v): one of the lines was edited, or two processes wrote the journal", journalPath, e.line, short(r.ID), recs[k].line, p.Status, p.Scores, r.Status, r.Scores)
			}
			continue
		}
		byID[r.ID] = i
	}
	v.Problems = append(v.Problems, lineProblems...)
	if _, err := os.Stat(journalPath); err == nil {
		what := fmt.Sprintf("%s: %d records (%d bytes of complete lines); %d checksums verified", journalPath, len(recs)+len(lineProblems), valid, summed)
		if n := len(recs) - summed; n > 0 {
			what += fmt.Sprintf(", %d records without a checksum (written before journals had them)", n)
		}
		switch {
		case objs == nil:
			what += "; scores not cross-checked (the objectives are unknown without state.json)"
		default:
			what += fmt.Sprintf("; the scores of %d records cross-checked against their per-example results", crossChecked)
		}
		if torn {
			what += "; the last line is incomplete (a write in progress, or one cut short: resume drops it)"
		}
		v.checked("%s", what)
	}

	// state.json against the journal.
	switch {
	case haveState:
		what := fmt.Sprintf("%s: %s, %d evaluations, %d objectives", statePath, st.Status, st.Evaluations, len(st.Objectives))
		switch st.Status {
		case StateRunning, StateFinished, StateInterrupted, StateFailed:
		default:
			v.problem("%s: unknown status %q (want %s, %s, %s or %s): restore the file or remove it (`evomerge resume %s` rewrites it)", statePath, st.Status, StateRunning, StateFinished, StateInterrupted, StateFailed, dir)
		}
		for i, b := range st.Best {
			if b == nil || i >= len(st.Objectives) {
				continue
			}
			found := false
			for _, e := range recs {
				if e.rec.Status == population.StatusOK && i < len(e.rec.Scores) && e.rec.Scores[i] == *b {
					found = true
					break
				}
			}
			if !found {
				v.problem("%s: best score %v of objective %s is no journaled candidate's score: state.json or the journal was edited", statePath, *b, st.Objectives[i].Name)
			}
		}
		v.checked("%s; best scores are journaled candidates' scores", what)
	case stateErr == nil && len(recs)+len(lineProblems) > 0:
		v.problem("%s is missing though the journal holds evaluations: `evomerge resume %s` rewrites it", statePath, dir)
	case stateErr == nil:
		v.checked("%s: none yet (the run has not started evaluating)", statePath)
	}

	// front.json against the journal and state.json.
	frontPath := filepath.Join(dir, FrontFile)
	front, err := ReadFront(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if haveState && st.Status == StateFinished {
			v.problem("%s is missing though %s says the run finished: `evomerge resume %s` writes it again", frontPath, StateFile, dir)
		} else {
			v.checked("%s: none yet (it is written when a session ends)", frontPath)
		}
	case err != nil:
		v.problem("%v (restore it, or remove it and `evomerge resume %s` writes it again)", err, dir)
	default:
		v.verifyFront(front, frontPath, st, haveState, recs, byID)
	}
	return v, nil
}

// journalEntry is a journal record and its line.
type journalEntry struct {
	rec  Record
	line int
}

// verifyFront checks front.json's members against the journal (recs,
// indexed by id in byID) and its objectives against state.json.
func (v *VerifyReport) verifyFront(front Front, path string, st State, haveState bool, recs []journalEntry, byID map[string]int) {
	fix := fmt.Sprintf("front.json or the journal was edited; remove front.json and `evomerge resume %s` writes it again", v.Dir)
	if haveState {
		if !sameObjectives(front.Objectives, st.Objectives) {
			v.problem("%s: objectives %s differ from %s's %s: %s", path, objectiveList(front.Objectives), StateFile, objectiveList(st.Objectives), fix)
		}
		if (st.Status == StateFinished || st.Status == StateInterrupted) && (front.Status != st.Status || front.Evaluations != st.Evaluations) {
			v.problem("%s: status %s after %d evaluations, %s says %s after %d: %s", path, front.Status, front.Evaluations, StateFile, st.Status, st.Evaluations, fix)
		}
	}
	for _, m := range front.Members {
		k, ok := byID[m.ID]
		if !ok {
			v.problem("%s: member %s is not in the journal: %s", path, short(m.ID), fix)
			continue
		}
		r := &recs[k].rec
		if r.Status != population.StatusOK || !slices.Equal(m.Validation, r.Scores) {
			v.problem("%s: member %s has fitness scores %v, its journal record (line %d) %s %v: %s", path, short(m.ID), m.Validation, recs[k].line, r.Status, r.Scores, fix)
			continue
		}
		if m.FitnessTasks != nil && len(m.FitnessTasks.Accuracy) == len(r.Correct) {
			for i, tc := range r.Correct {
				if tc.Bits.Len() == 0 {
					continue
				}
				if want := float64(tc.Bits.Count()) / float64(tc.Bits.Len()); math.Abs(m.FitnessTasks.Accuracy[i]-want) > 1e-12 {
					v.problem("%s: member %s has fitness accuracy %v on task %s, its journaled per-example results %v: %s", path, short(m.ID), m.FitnessTasks.Accuracy[i], tc.Task, want, fix)
				}
			}
		}
	}
	v.checked("%s: %d members, each checked against its journal record (fitness scores and per-task fitness accuracies)", path, len(front.Members))
}

func objectiveList(objs []fitness.Objective) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func sameObjectives(a, b []fitness.Objective) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Direction != b[i].Direction {
			return false
		}
	}
	return true
}
