package evaluate

import (
	"context"
	"io"
	"log/slog"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/search"
)

// Settings is an evaluator kind's own keys of an experiment's [evaluator]
// table (every key but kind): a struct with toml tags that the
// configuration decodes strictly (unknown keys and wrong types are reported
// with file and line, keys of another kind name the kind that uses them),
// then completes with Defaults and checks with Validate. Each kind defines
// one in its package (NativeSettings, CommandSettings, nats.Settings); a
// registry entry (internal/registry) makes it known to the configuration.
type Settings interface {
	// Defaults fills the documented default of every absent setting, so
	// the resolved configuration a run writes states the values it uses.
	Defaults()
	// Validate reports every problem at once; keys are relative to the
	// table ("timeout", "command[0]").
	Validate(report func(key, msg string))
}

// Describer is implemented by settings that describe their evaluator in a
// line of their own for reports ("command: python3 score.py {model}").
type Describer interface {
	Describe() string
}

// ExampleLimiter is implemented by settings of kinds that score natively
// on a benchmark's fitness split: FitnessExamples is how many examples of
// each task they keep (0: all).
type ExampleLimiter interface {
	FitnessExamples() int
}

// Env is what an evaluator kind's factory builds the evaluator from,
// besides its settings.
type Env struct {
	// Merge is the merge of candidates over the model pool.
	Merge MergeConfig
	// Spec is the searched space and fixed settings Merge.Mapping was
	// derived from: the merge as another machine rebuilds it.
	Spec searchspace.Spec
	// Files are the pool's checkpoints when the experiment lists them; nil
	// when the pool is the benchmark's own.
	Files *PoolFiles
	// Benchmark provides the task data (nil when the experiment names no
	// benchmark), prepared with its smoke recipe when Smoke is set.
	Benchmark *benchmarks.Benchmark
	Smoke     bool
	// Objectives are the run's objectives, expanded ("all" is one per
	// task).
	Objectives []fitness.Objective
	// Workers is the number of candidates evaluated at once (0: 1).
	Workers int
	// ModelTasks name the task each pool model was fine-tuned for, in
	// model order ("" where unknown): the data a kind that computes
	// statistics (StatisticsComputer) computes each model's on. Set when
	// Merge.Operator reads statistics.
	ModelTasks []string
	// Log receives preparation progress.
	Log io.Writer
}

// Scorer is an evaluator as a run uses it: it scores candidates, names the
// identity its results are cached under and merges candidates for export.
type Scorer interface {
	search.Evaluator
	Identified
	Merger() *Merger
}

// Built is what an evaluator kind's factory builds.
type Built struct {
	// Evaluator scores candidates and identifies their results.
	Evaluator Scorer
	// Native is set when candidates are scored natively on Tasks (it also
	// scores the final front on the test split).
	Native *Native
	Tasks  []tasks.Task
	// Sessions is set for evaluators that score through a service started
	// for each run session (the NATS coordinator that workers take
	// candidates from); Evaluator still identifies the results.
	Sessions SessionStarter
}

// SessionStarter starts the service a run session scores through.
type SessionStarter interface {
	StartSession(ctx context.Context, opt SessionOptions) (Session, error)
}

// SessionOptions are what a run gives a session's service.
type SessionOptions struct {
	// Run names the run (the experiment's name).
	Run string
	// StoreDir is the run directory's folder for what the service keeps
	// between sessions.
	StoreDir string
	// Serve, when set, is HOST:PORT of a server the run embeds
	// (`evomerge run --serve-nats`); Token protects it.
	Serve, Token string
	// Out is the run's console and Log its log.
	Out io.Writer
	Log *slog.Logger
}

// Session is a started service.
type Session interface {
	// Evaluator scores the session's candidates.
	Evaluator() search.Evaluator
	// Close stops the service.
	Close()
}
