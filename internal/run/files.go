package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/atomicfile"
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
// errors name path.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, runFilePerm)
}

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
