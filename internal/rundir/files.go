package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	// M2N2Dir holds the archive checkpoints of M2N2's disk storage.
	M2N2Dir = "m2n2-archive"
)

// runFiles are the entries a run writes; --force removes exactly these.
var runFiles = []string{ConfigFile, JournalFile, StateFile, FrontFile, LogFile, ReportFile, ExportsDir, NATSDir,
	ViewsFile, AdaMergingFile, FWFile, M2N2Dir}

// Entries are the names of the entries a run writes in its directory (not
// the lock files): a run started over (--force) removes exactly these.
func Entries() []string { return slices.Clone(runFiles) }

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

// WriteFile writes data to path atomically (see internal/atomicfile): a
// temporary file, fsynced and renamed over path. Errors are WriteErrors.
func WriteFile(path string, data []byte) error {
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

// writeFault, set by tests (InjectWriteFault), is asked before every write
// of a run directory's file (journal appends and atomic writes); an error it
// returns is that write's OS error, as a full disk would give it.
var writeFault func(path string) error

// InjectWriteFault makes every later write of a run directory's file
// (journal appends and the atomic writes of this package) ask fault first:
// an error it returns is that write's OS error, as a full disk would give
// it. nil removes it. It is for tests (a full disk on demand) and is not
// safe to change while a run writes.
func InjectWriteFault(fault func(path string) error) { writeFault = fault }

func checkWriteFault(path string) error {
	if writeFault == nil {
		return nil
	}
	if err := writeFault(path); err != nil {
		return writeError(path, err)
	}
	return nil
}

// syncDir makes creations and renames in dir durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// writeJSON writes v as indented JSON atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'))
}

// WriteConfig writes the resolved configuration, config.toml, atomically.
func WriteConfig(dir string, text []byte) error {
	return WriteFile(filepath.Join(dir, ConfigFile), text)
}

// WriteState writes state.json (indented JSON) atomically.
func WriteState(dir string, st State) error {
	return writeJSON(filepath.Join(dir, StateFile), st)
}

// WriteFront writes front.json (indented JSON) atomically.
func WriteFront(dir string, f Front) error {
	return writeJSON(filepath.Join(dir, FrontFile), f)
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
