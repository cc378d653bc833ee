package nats

import (
	"context"
	"encoding/json"
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
	// task (0: all), for workers that score natively (or with another kind
	// whose settings limit fitness examples).
	Examples int `toml:"examples,omitempty"`
	// Inner is the [evaluator.inner] table: the evaluator kind the workers
	// score with, its key kind ("native" when absent) and that kind's own
	// keys, as an [evaluator] table of that kind holds them, e.g.
	//
	//	[evaluator.inner]
	//	kind = "command"
	//	command = ["python3", "score.py", "{model}"]
	//
	// Defaults completes it with the kind's defaults. No table at all is
	// the native kind with Examples, as before the table existed.
	Inner map[string]any `toml:"inner,omitempty"`

	// kinds are the evaluator kinds workers may score with (the
	// registry's list but nats).
	kinds []InnerKind
}

// NewSettings returns empty settings to decode [evaluator] into, for
// workers that may score with kinds.
func NewSettings(kinds []InnerKind) *Settings { return &Settings{kinds: kinds} }

// Defaults fills the timeout, and the inner kind's defaults when
// [evaluator.inner] is given.
func (s *Settings) Defaults() {
	kinds := s.kinds
	if s.Timeout == 0 {
		s.Timeout = DefaultMaxDuration
	}
	if s.Inner == nil {
		return
	}
	k, inner, ok := s.inner(kinds, false, func(string, string) {})
	if !ok {
		return // Validate reports why
	}
	inner.Defaults()
	values, err := settingsValues(inner)
	if err != nil {
		return
	}
	values[kindKey] = k.Name
	s.Inner = values
}

// Validate reports every problem, the inner kind's under "inner.".
func (s *Settings) Validate(report func(key, msg string)) {
	kinds := s.kinds
	if s.Timeout < 0 {
		report("timeout", fmt.Sprintf("%v: give a positive duration", s.Timeout))
	}
	evaluate.ValidateExamples(s.Examples, report)
	if s.Inner == nil {
		return // the native kind with Examples, checked above
	}
	if _, inner, ok := s.inner(kinds, true, report); ok {
		inner.Validate(func(key, msg string) { report("inner."+key, msg) })
	}
}

// FitnessExamples is how many fitness examples per task the workers keep:
// Examples, or the inner kind's own setting.
func (s *Settings) FitnessExamples() int {
	if s.Examples != 0 || s.Inner == nil {
		return s.Examples
	}
	if _, inner, ok := s.inner(s.kinds, false, func(string, string) {}); ok {
		if l, ok := inner.(evaluate.ExampleLimiter); ok {
			return l.FitnessExamples()
		}
	}
	return 0
}

// InnerKind names the evaluator kind the workers score with:
// [evaluator.inner]'s kind, else native. Whether the run needs a built-in
// benchmark is that kind's need.
func (s *Settings) InnerKind() string {
	if name, ok := s.Inner[kindKey].(string); ok {
		return name
	}
	return evaluate.NativeKind
}

// inner decodes [evaluator.inner] into the workers' kind's settings (the
// native kind's, empty, when there is none), reporting problems with keys
// relative to [evaluator]. With withExamples, Examples is applied to them
// (the kind must limit fitness examples; a different own value is an
// error). ok is false when the kind or its settings cannot be read.
func (s *Settings) inner(kinds []InnerKind, withExamples bool, report func(key, msg string)) (InnerKind, evaluate.Settings, bool) {
	values := map[string]any{}
	for k, v := range s.Inner {
		values[k] = v
	}
	if v, ok := values[kindKey]; ok {
		if _, isString := v.(string); !isString {
			report("inner."+kindKey, "wrong type: want a string, the evaluator kind the workers score with")
			return InnerKind{}, nil, false
		}
	}
	delete(values, kindKey)
	k, err := lookupKind(kinds, s.InnerKind())
	if err != nil {
		report("inner."+kindKey, err.Error())
		return InnerKind{}, nil, false
	}
	bad := false
	settings := decodeKindSettings(k, values, func(key, msg string) {
		bad = true
		report("inner."+key, msg)
	})
	if bad {
		return k, nil, false
	}
	if !withExamples || s.Examples <= 0 {
		return k, settings, true
	}
	l, limits := settings.(evaluate.ExampleLimiter)
	switch {
	case !limits:
		report("examples", fmt.Sprintf("only used when the workers score natively (inner.kind = %q here): remove it", k.Name))
		return k, nil, false
	case l.FitnessExamples() != 0 && l.FitnessExamples() != s.Examples:
		report("examples", fmt.Sprintf("%d, but inner.examples is %d: give it once", s.Examples, l.FitnessExamples()))
		return k, nil, false
	}
	values[examplesKey] = int64(s.Examples)
	return k, decodeKindSettings(k, values, report), true
}

// Build is the NATS kind's factory: it describes the run's evaluation
// (the workers' kind and its settings, the pool by content, the merge, the
// benchmark and the objectives) as a Setup and builds the coordinator's
// own evaluator from it exactly as workers build theirs, so candidate ids
// agree on every machine. The coordinator itself starts with each run
// session (Built.Sessions).
func Build(ctx context.Context, settings evaluate.Settings, env evaluate.Env) (*evaluate.Built, error) {
	s, ok := settings.(*Settings)
	if !ok {
		return nil, fmt.Errorf("nats: settings of type %T", settings)
	}
	kinds := s.kinds
	setup, err := newSetup(s, env, kinds)
	if err != nil {
		return nil, err
	}
	local, err := setup.BuildEvaluator(ctx, BuildOptions{BenchmarkCache: benchmarkCache(setup), Workers: env.Workers, Log: env.Log, Kinds: kinds})
	if err != nil {
		return nil, err
	}
	return &evaluate.Built{Evaluator: local.Evaluator, Native: local.Native, Tasks: local.Tasks,
		Sessions: &sessions{setup: setup, local: local.Evaluator, settings: *s}}, nil
}

// benchmarkCache is the coordinator's benchmark cache root, where its run
// prepared the setup's benchmark.
func benchmarkCache(s *Setup) string {
	if s.Benchmark == nil {
		return ""
	}
	return s.Benchmark.CacheDir
}

// newSetup describes the run's evaluation to workers: the workers' kind and
// its settings, the pool by content, the merge, the benchmark and the
// objectives. A native evaluation is described as setup version 1 did
// (no kind, Examples), so its digest is unchanged.
func newSetup(s *Settings, env evaluate.Env, kinds []InnerKind) (*Setup, error) {
	report, problems := collect("evaluator.")
	k, inner, ok := s.inner(kinds, true, report)
	if err := problems(); err != nil {
		return nil, fmt.Errorf("nats: the workers' evaluator: %w", err)
	}
	if !ok {
		return nil, errors.New("nats: the workers' evaluator settings cannot be read")
	}
	inner.Defaults()
	b := env.Benchmark
	if b == nil && k.Benchmark != "" {
		return nil, fmt.Errorf("nats: workers score with the %s evaluator (%s), and the run has no benchmark", k.Name, k.Benchmark)
	}
	m := env.Merge
	if m.Operator == nil {
		return nil, errors.New("nats: the merge names no operator")
	}
	setup := &Setup{
		V: SetupVersion, Operator: m.Operator.Name(), Search: env.Spec, Seed: m.Seed,
		TaskTensors: m.TaskTensors, Objectives: env.Objectives,
	}
	if b != nil {
		setup.Benchmark = &BenchmarkRef{Name: b.Name, Smoke: env.Smoke, CacheDir: filepath.Dir(b.Dir)}
	}
	if k.Name != evaluate.NativeKind {
		setup.Kind = k.Name
	}
	values, err := settingsValues(inner)
	if err != nil {
		return nil, err
	}
	if l, ok := inner.(evaluate.ExampleLimiter); ok && l.FitnessExamples() > 0 {
		setup.Examples = l.FitnessExamples()
		delete(values, examplesKey)
	}
	if len(values) > 0 {
		if setup.Settings, err = json.Marshal(values); err != nil {
			return nil, fmt.Errorf("nats: encode the workers' evaluator settings: %w", err)
		}
	}
	switch {
	case env.Files != nil:
		f := env.Files
		setup.Base, setup.Experts, err = PoolRefs(f.Base, f.Models, f.Names)
	case b != nil:
		setup.Base, setup.Experts, err = BenchmarkRefs(b)
	default:
		err = errors.New("nats: the run names no model pool")
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
