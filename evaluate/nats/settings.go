package nats

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/search"
)

// Kind is the NATS evaluator's name in evaluator.kind.
const Kind = "nats"

// Settings are the NATS evaluator's keys of [evaluator].
type Settings struct {
	// Timeout bounds one attempt of one evaluation on a worker (default
	// DefaultMaxDuration).
	Timeout time.Duration `toml:"timeout,omitempty"`
	// Server is the NATS server or cluster, e.g.
	// "nats://n1:4222,nats://n2:4222"; empty when the run serves one itself
	// (`evomerge run --serve-nats HOST:PORT`).
	Server string `toml:"server,omitempty"`
	// Examples limits the fitness split to its first Examples examples per
	// task (0: all).
	Examples int `toml:"examples,omitempty"`
}

// NewSettings returns empty settings to decode [evaluator] into.
func NewSettings() evaluate.Settings { return new(Settings) }

// Defaults fills the timeout.
func (s *Settings) Defaults() {
	if s.Timeout == 0 {
		s.Timeout = DefaultMaxDuration
	}
}

// Validate reports every problem.
func (s *Settings) Validate(report func(key, msg string)) {
	if s.Timeout < 0 {
		report("timeout", fmt.Sprintf("%v: give a positive duration", s.Timeout))
	}
	evaluate.ValidateExamples(s.Examples, report)
}

// FitnessExamples is Examples.
func (s *Settings) FitnessExamples() int { return s.Examples }

// Build is the NATS kind's factory: it describes the run's native
// evaluation as a Setup and builds the coordinator's own evaluator from it
// exactly as workers build theirs, so candidate ids agree on every machine.
// The coordinator itself starts with each run session (Built.Sessions).
func Build(ctx context.Context, settings evaluate.Settings, env evaluate.Env) (*evaluate.Built, error) {
	s := settings.(*Settings)
	setup, err := newSetup(s, env)
	if err != nil {
		return nil, err
	}
	local, err := setup.Build(ctx, BuildOptions{BenchmarkCache: setup.Benchmark.CacheDir, Workers: env.Workers, Log: env.Log})
	if err != nil {
		return nil, err
	}
	tasks, err := BenchmarkTasks(ctx, setup, env.Benchmark)
	if err != nil {
		return nil, err
	}
	return &evaluate.Built{Evaluator: local, Native: local, Tasks: tasks,
		Sessions: &sessions{setup: setup, local: local, settings: *s}}, nil
}

// newSetup describes the run's native evaluation to workers: the pool by
// content, the merge, the benchmark and the objectives.
func newSetup(s *Settings, env evaluate.Env) (*Setup, error) {
	b := env.Benchmark
	if b == nil {
		return nil, errors.New("nats: workers score natively on a built-in benchmark's task data, and the run has none")
	}
	m := env.Merge
	if m.Operator == nil {
		return nil, errors.New("nats: the merge names no operator")
	}
	setup := &Setup{
		V: SetupVersion, Operator: m.Operator.Name(), Search: env.Spec, Seed: m.Seed,
		TaskTensors: m.TaskTensors, Examples: s.Examples, Objectives: env.Objectives,
		Benchmark: &BenchmarkRef{Name: b.Name, Smoke: env.Smoke, CacheDir: filepath.Dir(b.Dir)},
	}
	var err error
	if f := env.Files; f != nil {
		setup.Base, setup.Experts, err = PoolRefs(f.Base, f.Models, f.Names)
	} else {
		setup.Base, setup.Experts, err = BenchmarkRefs(b)
	}
	if err != nil {
		return nil, err
	}
	return setup, setup.Validate()
}

// sessions starts the coordinator of each run session.
type sessions struct {
	setup    *Setup
	local    evaluate.Identified
	settings Settings
}

func (ss *sessions) StartSession(ctx context.Context, opt evaluate.SessionOptions) (evaluate.Session, error) {
	coord, err := StartCoordinator(ctx, ss.setup, ss.local, CoordinatorOptions{
		Serve: opt.Serve, StoreDir: opt.StoreDir, Server: ss.settings.Server, Token: opt.Token,
		Evaluator: Options{Run: opt.Run, MaxDuration: ss.settings.Timeout},
	})
	if err != nil {
		return nil, err
	}
	if opt.Log != nil {
		opt.Log.Info("nats coordinator", "workers_dial", coord.WorkerURL())
	}
	if opt.Out != nil {
		fmt.Fprintf(opt.Out, "evaluating on NATS workers: start them with `evomerge worker --server %s`\n", coord.WorkerURL())
	}
	return session{coord}, nil
}

// session is a started coordinator.
type session struct{ c *Coordinator }

func (s session) Evaluator() search.Evaluator { return s.c.Evaluator() }

func (s session) Close() { s.c.Close() }
