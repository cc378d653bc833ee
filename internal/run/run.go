package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Options control a run session.
type Options struct {
	// Out receives progress and the final summary (nil: discarded).
	Out io.Writer
	// Terminal selects a live progress line (rewritten in place) instead of
	// one plain line per batch.
	Terminal bool
	// Force lets Start reuse a run directory that already holds a run,
	// removing that run's files first.
	Force bool
	// Workers overrides search.concurrency when positive.
	Workers int
	// Now is the wall clock (nil: time.Now), for the state file and
	// progress; search budgets use evaluation time (see Start).
	Now func() time.Time
	// ServeNATS, when set, is HOST:PORT of a NATS server the run embeds for
	// the nats evaluator (its streams in RUN_DIR/nats); NATSToken protects it.
	ServeNATS, NATSToken string
	// RenderReport, when set, renders report.html into the run directory
	// once front.json is written: the one place the HTML report hooks in.
	RenderReport func(ctx context.Context, dir string) error
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) out() io.Writer {
	if o.Out == nil {
		return io.Discard
	}
	return o.Out
}

// Outcome is what a session did.
type Outcome struct {
	// Dir is the run directory.
	Dir string
	// Status is StateFinished, StateInterrupted or StateFailed.
	Status string
	// Result is the search result (replayed candidates included).
	Result *search.Result
	// Front is what front.json holds.
	Front rundir.Front
	// Replayed and Evaluated count candidates answered from the journal and
	// evaluated in this session.
	Replayed, Evaluated int
}

// Start begins a new run of exp in its run directory (exp.RunDir()). The
// directory must be empty or absent unless opt.Force is set. The resolved
// configuration is written to config.toml first, with checkpoint paths made
// absolute so the run can be resumed from anywhere.
//
// Search budgets in time (search.max_time) count evaluation time, recorded
// in the journal, so a resumed run replays to the same point; they make a
// run depend on machine speed, so only evaluation and generation budgets
// give the same front on every machine.
func Start(ctx context.Context, exp *configs.Experiment, opt Options) (*Outcome, error) {
	dir := exp.RunDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	// One writer per run directory (see LockFile): a run or resume already
	// going in dir is not disturbed, not even by --force.
	lock, err := rundir.LockDir(dir, "run")
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if err := prepareDir(dir, opt.Force); err != nil {
		return nil, err
	}
	absolute(exp)
	text, err := exp.Encode()
	if err != nil {
		return nil, err
	}
	if err := rundir.WriteConfig(dir, text); err != nil {
		return nil, err
	}
	resolved, err := configs.DecodeResolved(filepath.Join(dir, rundir.ConfigFile), text, registry.Catalog())
	if err != nil {
		return nil, fmt.Errorf("the resolved configuration does not read back: %w", err)
	}
	if exp.File() != "" {
		resolved.CiteAs(exp) // problems found while building the run point at the user's file
	}
	out, err := execute(ctx, dir, resolved, rundir.State{}, opt)
	if out == nil && err != nil {
		// Nothing was evaluated (a problem found while building the run):
		// leave no run behind, so the fixed config starts without --force.
		if j, jerr := rundir.ReadJournal(filepath.Join(dir, rundir.JournalFile)); jerr == nil && len(j.Records) == 0 && !j.Torn {
			for _, name := range rundir.Entries() {
				os.RemoveAll(filepath.Join(dir, name))
			}
			lock.Release() // removes the lock file
			os.Remove(dir) // only if empty
		}
	}
	return out, err
}

// Resume continues the run in dir: it rebuilds every component from
// config.toml, replays the search with the same seed, answers candidates the
// journal holds from it and evaluates the rest. A run killed at any moment
// ends with the same front as one never interrupted.
func Resume(ctx context.Context, dir string, opt Options) (*Outcome, error) {
	path := filepath.Join(dir, rundir.ConfigFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s is not a run directory (no %s): start a run with `evomerge run CONFIG`", dir, rundir.ConfigFile)
	}
	// One writer per run directory (see LockFile).
	lock, err := rundir.LockDir(dir, "resume")
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	exp, err := configs.LoadResolved(path, registry.Catalog())
	if err != nil {
		return nil, err
	}
	prev, _, err := rundir.ReadState(dir)
	if err != nil {
		return nil, err
	}
	return execute(ctx, dir, exp, prev, opt)
}

// prepareDir makes dir ready for a new run; lock files do not count as
// content (the caller holds LockFile).
func prepareDir(dir string, force bool) error {
	all, err := os.ReadDir(dir)
	var entries []os.DirEntry
	for _, e := range all {
		if e.Name() != rundir.LockFile && e.Name() != rundir.ReportLockFile {
			entries = append(entries, e)
		}
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return fmt.Errorf("run directory: %w", err)
	case len(entries) == 0:
		return nil
	case !force:
		what := "files"
		if _, err := os.Stat(filepath.Join(dir, rundir.JournalFile)); err == nil {
			what = "a run"
		}
		return fmt.Errorf("run directory %s already holds %s: continue it with `evomerge resume %s`, choose another experiment.name or --out, or pass --force to start over (its files are removed)", dir, what, dir)
	}
	for _, name := range rundir.Entries() {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("run directory: %w", err)
		}
	}
	return nil
}

// absolute makes the experiment's input paths absolute.
func absolute(exp *configs.Experiment) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	exp.MapPaths(abs)
}

// execute runs one session in dir.
func execute(ctx context.Context, dir string, exp *configs.Experiment, prev rundir.State, opt Options) (*Outcome, error) {
	sessionStart := opt.now()
	logFile, err := os.OpenFile(filepath.Join(dir, rundir.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run log: %w", err)
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, nil))
	out := opt.out()
	log.Info("session start", "dir", dir, "experiment", exp.Experiment.Name, "session", prev.Sessions+1)

	comp, err := compose(ctx, exp, composeOptions{Log: out, Workers: opt.Workers, WithMethod: true, Dir: dir, Resuming: prev.Sessions > 0})
	if err == nil {
		// report.choose names an objective: check it before any evaluation.
		_, err = rundir.ChooseMember(rundir.Front{Objectives: comp.objectives}, exp.Report.Choose)
	}
	if err == nil {
		err = comp.prepareGradient(ctx, dir, out, log)
	}
	if err != nil {
		log.Error("setup failed", "error", err.Error())
		return nil, err
	}
	journal, err := rundir.OpenJournal(filepath.Join(dir, rundir.JournalFile))
	if err != nil {
		log.Error("journal unreadable", "error", err.Error())
		return nil, err
	}
	defer journal.Close()
	// Scores that the records' per-example results determine must agree
	// with them (an edited score of a journal without checksums).
	if err := journal.CheckScores(comp.objectives); err != nil {
		log.Error("journal unreadable", "error", err.Error())
		return nil, err
	}
	// The first failed write to the run directory (a full disk) stops the
	// session with that error; later failures are only added after it.
	var failures writeFailures
	journal.OnFail(func(err error) { failures.add(err) })
	if journal.Dropped > 0 {
		log.Warn("truncated a torn last journal line", "bytes", journal.Dropped)
		fmt.Fprintf(out, "journal: dropped an incomplete last record (%d bytes) left by an interrupted write; it is evaluated again\n", journal.Dropped)
	}
	if n := journal.Len(); n > 0 {
		fmt.Fprintf(out, "resuming %s: replaying %d journaled evaluations\n", exp.Experiment.Name, n)
	}

	chunk := exp.Search.Concurrency
	if opt.Workers > 0 {
		chunk = opt.Workers
	}
	if chunk <= 0 {
		chunk = 1
	}
	var inner search.Evaluator = comp.eval
	if comp.sessions != nil {
		// The evaluator scores through a service of this session (the NATS
		// coordinator workers take candidates from).
		sess, err := comp.sessions.StartSession(ctx, evaluate.SessionOptions{
			Run: exp.Experiment.Name, StoreDir: filepath.Join(dir, rundir.NATSDir),
			Serve: opt.ServeNATS, Token: opt.NATSToken, Out: out, Log: log,
		})
		if err != nil {
			return nil, err
		}
		defer sess.Close()
		inner = sess.Evaluator()
	}
	ev := &journaled{inner: inner, journal: journal, chunk: chunk}
	clock := rundir.NewEvalClock()
	ev.clock = opt.now
	ev.onRecord = clock.Add

	state := prev
	state.V = rundir.StateVersion
	state.Experiment = exp.Experiment.Name
	state.Algorithm = exp.Search.Algorithm
	state.Status = rundir.StateRunning
	state.StopReason, state.Error = "", ""
	state.Objectives = comp.objectives
	state.Dimensions = dimNames(comp)
	state.MaxEvaluations = exp.Search.MaxEvaluations
	state.Sessions++
	if state.Started.IsZero() {
		state.Started = sessionStart.UTC()
	}
	prevElapsed := prev.Elapsed
	writeState := func() error {
		state.Updated = opt.now().UTC()
		state.Elapsed = prevElapsed + opt.now().Sub(sessionStart).Seconds()
		return failures.add(rundir.WriteState(dir, state))
	}
	if err := writeState(); err != nil {
		return nil, err
	}

	journaledAtStart := journal.Len()
	prog := &progress{out: out, terminal: opt.Terminal, now: opt.now, start: sessionStart, ev: ev,
		max: exp.Search.MaxEvaluations, objectives: comp.objectives}
	// Failed evaluations: the first of each reason is shown as it happens.
	var failed rundir.Failures
	ev.onFailure = func(id, reason string) {
		if failed.Add(id, reason) {
			prog.note(fmt.Sprintf("candidate %s failed: %s", rundir.ShortID(id), reason))
			log.Warn("evaluation failed", "id", id, "error", reason)
		}
	}
	recorders := []search.Recorder{
		search.RecorderFunc(func(e search.Event) error {
			if e.Kind != search.EventBatch {
				return nil
			}
			if failures.first() != nil {
				// A write failed in this batch: the session stops, and
				// state.json keeps the figures of what was journaled.
				return nil
			}
			state.Evaluations, state.Failed, state.Generations = e.Stats.Evaluations, e.Stats.Failed, e.Stats.Generations
			state.Best = floatPtrs(e.Stats.Best)
			if e.Generation == 0 && journaledAtStart > 0 && ev.replayed == 0 {
				log.Warn("no journaled evaluation matches this configuration", "journaled", journaledAtStart)
				fmt.Fprintf(out, "warning: none of the %d journaled evaluations matches this run's candidates (the benchmark, evaluator or code changed since they were made); they are evaluated again\n", journaledAtStart)
			}
			log.Info("batch", "generation", e.Generation, "evaluations", e.Stats.Evaluations, "failed", e.Stats.Failed,
				"replayed", ev.replayed, "evaluated", ev.evaluated, "best", floatPtrs(e.Stats.Best))
			return writeState()
		}),
		prog,
	}
	if comp.archive != nil {
		recorders = append(recorders, comp.archive)
	}
	settings := search.Settings{
		MaxEvaluations: exp.Search.MaxEvaluations,
		MaxGenerations: exp.Search.MaxGenerations,
		Runtime:        exp.Search.MaxTime,
		Clock:          clock.Now,
		Recorders:      recorders,
		EvalSpec:       comp.eval.EvalSpec(),
		Version:        comp.eval.Version(),
	}
	settings.MethodState = state.MethodState
	if len(settings.MethodState) == 0 {
		settings.MethodState = comp.methodState
	}
	problem := search.Problem{Space: comp.space, Directions: comp.directions, Seed: exp.Experiment.Seed,
		Gradients: comp.gradients, Alignment: comp.alignment, Recipes: comp.recipes,
		Checkpoint: func(b []byte) error {
			state.MethodState = slices.Clone(b)
			return writeState()
		},
	}
	res, err := search.Run(ctx, comp.method, ev, problem, settings)
	if err != nil {
		return nil, err
	}
	prog.finish()

	outcome := &Outcome{Dir: dir, Result: res, Replayed: ev.replayed, Evaluated: ev.evaluated}
	state.StopReason = string(res.Status)
	// stopped ends a session after a failed write to the run directory:
	// with the first failed write, state.json marked failed (best effort;
	// the error says when that failed too), and no front written (the
	// journal holds what was evaluated; resume goes on from it).
	stopped := func() (*Outcome, error) {
		first := failures.first()
		outcome.Status, state.Status, state.Error = rundir.StateFailed, rundir.StateFailed, first.Error()
		serr := writeState()
		log.Error("writing the run directory failed", "error", first.Error())
		return outcome, failures.stopped(dir, serr)
	}
	if failures.first() != nil {
		return stopped()
	}
	switch {
	case res.Status == search.StatusCancelled:
		outcome.Status = rundir.StateInterrupted
	case res.Status == search.StatusFailure:
		outcome.Status = rundir.StateFailed
		state.Error = res.Err.Error()
	case res.Evaluations > 0 && res.Failed == res.Evaluations:
		// Nothing was scored: the run failed, with the reasons.
		res.Err = allFailed(res.Evaluations, failed, dir)
		outcome.Status = rundir.StateFailed
		state.Error = res.Err.Error()
	default:
		outcome.Status = rundir.StateFinished
	}
	state.Status = outcome.Status
	state.Evaluations, state.Failed, state.Generations = res.Evaluations, res.Failed, res.Generations

	// The front: scored on test unless the session was interrupted.
	scoreTest := exp.Report.WantTestScores() && outcome.Status == rundir.StateFinished && (comp.native != nil || comp.lineage != nil)
	if scoreTest {
		fmt.Fprintf(out, "scoring the front on the held-out test split...\n")
	}
	front, err := buildFront(ctx, comp, res, outcome.Status, scoreTest)
	if err != nil && ctx.Err() != nil {
		// Interrupted while scoring on test: keep the fitness front.
		outcome.Status, state.Status = rundir.StateInterrupted, rundir.StateInterrupted
		front, err = buildFront(context.WithoutCancel(ctx), comp, res, outcome.Status, false)
	}
	if err != nil {
		state.Status, state.Error = rundir.StateFailed, err.Error()
		_ = writeState()
		log.Error("front", "error", err.Error())
		return nil, err
	}
	outcome.Front = front
	if err := failures.add(rundir.WriteFront(dir, front)); err != nil {
		return stopped()
	}
	if err := comp.writeViews(dir, res); err != nil {
		if we := (*rundir.WriteError)(nil); errors.As(err, &we) {
			failures.add(err)
			return stopped()
		}
		state.Status, state.Error = rundir.StateFailed, err.Error()
		_ = writeState()
		return nil, err
	}
	if err := writeState(); err != nil {
		return stopped()
	}
	log.Info("session end", "status", outcome.Status, "stop", res.Status, "evaluations", res.Evaluations,
		"failed", res.Failed, "front", len(front.Members), "replayed", ev.replayed, "evaluated", ev.evaluated)

	printSummary(out, dir, exp, front, res, opt.now().Sub(sessionStart))
	if outcome.Status == rundir.StateFinished && exp.Report.WantHTML() {
		if opt.RenderReport != nil {
			if err := opt.RenderReport(ctx, dir); err != nil {
				return outcome, fmt.Errorf("report: %w", err)
			}
			fmt.Fprintf(out, "report: %s\n", filepath.Join(dir, rundir.ReportFile))
		} else {
			fmt.Fprintf(out, "report: this build has no HTML renderer; the results are in %s\n", filepath.Join(dir, rundir.FrontFile))
		}
	}
	if comp.note != "" {
		fmt.Fprintf(out, "note: %s\n", comp.note)
	}
	fmt.Fprintf(out, "run directory: %s\n", dir)
	switch outcome.Status {
	case rundir.StateInterrupted:
		fmt.Fprintf(out, "interrupted: continue with `evomerge resume %s`\n", dir)
		if ctx.Err() == nil {
			return outcome, context.Canceled
		}
		return outcome, ctx.Err()
	case rundir.StateFailed:
		return outcome, res.Err
	}
	return outcome, nil
}

func dimNames(c *components) []string {
	names := make([]string, c.space.Len())
	for i := range names {
		names[i] = c.space.Dim(i).Name
	}
	return names
}

// floatPtrs are state.json's best scores: nil (null) for NaN.
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

// buildFront writes the front of a result: fitness scores, per-task
// fitness accuracies from the candidates' correctness, and (scoreTest) test
// scores of every member with the plain-averaging and expert references.
func buildFront(ctx context.Context, c *components, res *search.Result, status string, scoreTest bool) (rundir.Front, error) {
	f := rundir.Front{
		V: rundir.FrontVersion, Experiment: c.exp.Experiment.Name, Status: status,
		Objectives: c.objectives, Dimensions: dimNames(c), Evaluations: res.Evaluations,
		Members: []rundir.FrontMember{}, Note: c.note,
	}
	if len(c.tasks) > 0 {
		f.FitnessSplit = string(c.tasks[0].FitnessSplit)
	}
	haveTest, haveFit := true, true
	for _, t := range c.tasks {
		f.Tasks = append(f.Tasks, t.Name)
		a, ok := t.ExpertAccuracy[data.Test]
		f.ExpertTest, haveTest = append(f.ExpertTest, a), haveTest && ok
		a, ok = t.ExpertAccuracy[t.FitnessSplit]
		f.ExpertValidation, haveFit = append(f.ExpertValidation, a), haveFit && ok
	}
	// A benchmark without task experts (M2N2's) has no references.
	if !haveTest {
		f.ExpertTest = nil
	}
	if !haveFit {
		f.ExpertValidation = nil
	}
	if err := c.averageValidation(ctx, &f); err != nil {
		return rundir.Front{}, err
	}
	if b := c.bench; b != nil && b.Manifest.Interference != nil && b.Manifest.Interference.Split == data.Test {
		avg := b.Manifest.Interference.Average
		s := &rundir.SplitScores{Split: string(data.Test)}
		ok := true
		for _, t := range c.tasks {
			acc, has := avg.Accuracy[t.Name]
			ok = ok && has
			s.Accuracy = append(s.Accuracy, acc)
		}
		if ok {
			s.Normalized, s.MeanNormalized = normalize(s.Accuracy, f.ExpertTest)
			if s.MeanNormalized != nil {
				f.AverageTest = s
			}
		}
	}
	cands := res.FrontCandidates()
	if c.archive != nil {
		// M2N2's result is its archive: members that left it are released
		// (and may not be rebuildable), so the front is the archive's
		// non-dominated members.
		var err error
		if cands, err = c.archiveFront(); err != nil {
			return rundir.Front{}, err
		}
	}
	for _, cand := range cands {
		m := rundir.FrontMember{ID: cand.ID, Genome: cand.Genome, Lineage: cand.Lineage, Validation: cand.Scores}
		if fit := fitnessTasks(c, cand); fit != nil {
			m.FitnessTasks = fit
		}
		if scoreTest {
			s := &rundir.SplitScores{Split: string(data.Test)}
			if c.lineage != nil {
				acc, err := c.lineageTest(ctx, cand)
				if err != nil {
					return rundir.Front{}, fmt.Errorf("scoring front member %s on test: %w", rundir.ShortID(cand.ID), err)
				}
				s.Accuracy = acc
			} else {
				r, err := c.native.Score(ctx, cand.Genome, data.Test)
				if err != nil {
					return rundir.Front{}, fmt.Errorf("scoring front member %s on test: %w", rundir.ShortID(cand.ID), err)
				}
				for _, tr := range r.Tasks {
					s.Accuracy = append(s.Accuracy, tr.Accuracy)
				}
			}
			s.Normalized, s.MeanNormalized = normalize(s.Accuracy, f.ExpertTest)
			m.Test = s
		}
		f.Members = append(f.Members, m)
	}
	if c.scal != nil {
		f.Scalarization = scalarizeFront(f.Members, *c.scal, c.directions)
	}
	return f, nil
}

// scalarizeFront gives each member its scalarised cost and names the
// lowest (ties to the smaller id).
func scalarizeFront(members []rundir.FrontMember, s search.Scalarization, dirs []fitness.Direction) *rundir.FrontScalarization {
	s = s.Resolved(len(dirs))
	out := &rundir.FrontScalarization{Method: cmpOr(s.Method, search.WeightedSum), Weights: s.Weights, Ideal: s.Ideal, Rho: s.Rho}
	for i := range members {
		m := &members[i]
		cost := s.Cost(&population.Candidate{Scores: m.Validation, Status: population.StatusOK}, dirs)
		if math.IsNaN(cost) || math.IsInf(cost, 0) {
			continue
		}
		m.Cost = &cost
		if out.Cost == nil || cost < *out.Cost || (cost == *out.Cost && m.ID < out.BestID) {
			out.Cost, out.BestID = m.Cost, m.ID
		}
	}
	return out
}

// fitnessTasks derives per-task fitness-split accuracy from a candidate's
// per-example correctness.
func fitnessTasks(c *components, cand *population.Candidate) *rundir.SplitScores {
	if len(c.tasks) == 0 || len(cand.Correct) != len(c.tasks) {
		return nil
	}
	s := &rundir.SplitScores{Split: string(c.tasks[0].FitnessSplit)}
	var ref []float64
	for i, tc := range cand.Correct {
		if tc.Bits.Len() == 0 {
			return nil
		}
		s.Accuracy = append(s.Accuracy, float64(tc.Bits.Count())/float64(tc.Bits.Len()))
		ref = append(ref, c.tasks[i].ExpertAccuracy[c.tasks[i].FitnessSplit])
	}
	s.Normalized, s.MeanNormalized = normalize(s.Accuracy, ref)
	return s
}

// normalize divides accuracies by the experts'; nil when any reference is
// missing.
func normalize(acc, ref []float64) ([]float64, *float64) {
	if len(acc) == 0 || len(acc) != len(ref) {
		return nil, nil
	}
	out := make([]float64, len(acc))
	sum := 0.0
	for i := range acc {
		if !(ref[i] > 0) {
			return nil, nil
		}
		out[i] = acc[i] / ref[i]
		sum += out[i]
	}
	mean := sum / float64(len(acc))
	return out, &mean
}

// allFailed is the error of a run in which every evaluation failed: the
// first reasons, and where the others are.
func allFailed(n int, f rundir.Failures, dir string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "every one of the %d evaluations failed", n)
	list := f.List()
	if len(list) == 0 {
		// Answered from the journal: the reasons are there.
		fmt.Fprintf(&b, "; the reasons are in %s (`evomerge status %s` lists them)", filepath.Join(dir, rundir.JournalFile), dir)
		return errors.New(b.String())
	}
	for _, r := range list {
		fmt.Fprintf(&b, "; %d× %s", r.Count, r.Error)
	}
	if n := f.Unlisted(); n > 0 {
		fmt.Fprintf(&b, "; %d more with other reasons in %s", n, filepath.Join(dir, rundir.JournalFile))
	}
	b.WriteString(": fix the evaluator (run its command by hand on a checkpoint `evomerge export` writes) and start again with --force")
	return errors.New(b.String())
}
