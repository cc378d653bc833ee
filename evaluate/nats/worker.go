package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// WatchdogExitCode is the exit status of a worker whose evaluation outlived
// its time limit by the grace period without stopping: the process cannot
// be trusted to free its memory, so it ends and its supervisor (systemd,
// Slurm, Kubernetes) starts a fresh one.
const WatchdogExitCode = 3

// ScoringEvaluator is what a worker scores requests with: an evaluator that
// knows its evaluation spec and version (evaluate.Native, evaluate.Command,
// any kind's evaluate.Scorer). One that is also an io.Closer is closed once
// the worker drops it (it keeps the evaluators of its last few setups) and
// no evaluation uses it any more.
type ScoringEvaluator interface {
	search.Evaluator
	evaluate.Identified
}

// Builder builds the evaluator of a setup.
type Builder func(ctx context.Context, s *Setup, opt BuildOptions) (ScoringEvaluator, error)

// KindBuilder is the default Builder: the evaluator of the setup's kind
// (Setup.BuildEvaluator), closed with the pool it merges.
func KindBuilder(ctx context.Context, s *Setup, opt BuildOptions) (ScoringEvaluator, error) {
	b, err := s.BuildEvaluator(ctx, opt)
	if err != nil {
		return nil, err
	}
	return poolEvaluator{b.Evaluator}, nil
}

// NativeBuilder is KindBuilder, under the name it had when workers scored
// natively only.
func NativeBuilder(ctx context.Context, s *Setup, opt BuildOptions) (ScoringEvaluator, error) {
	return KindBuilder(ctx, s, opt)
}

// poolEvaluator closes its evaluator's pool.
type poolEvaluator struct{ evaluate.Scorer }

func (e poolEvaluator) Close() error { return e.Merger().Pool().Close() }

// WorkerOptions configure a worker.
type WorkerOptions struct {
	// Topology names what to bind to (its policy fields are read from the
	// consumer); the zero value means DefaultTopology.
	Topology Topology
	// Concurrency is the number of evaluations at once; 0 means 1.
	Concurrency int
	// Name identifies the worker in results and logs; "" means host/pid.
	Name string
	// Build says where sources and benchmarks are found; Build.Workers is
	// set to Concurrency.
	Build BuildOptions
	// Builder builds evaluators (nil: KindBuilder).
	Builder Builder
	// WatchdogGrace is how long an evaluation may run past its time limit
	// (it is cancelled at the limit) before the watchdog ends the process;
	// 0 means 30s.
	WatchdogGrace time.Duration
	// Exit ends the process (nil: os.Exit).
	Exit func(code int)
	// Log receives one line per event: "start ID delivery=N",
	// "done ID status=S", "skip ID", "retry ID: reason", "watchdog ID".
	Log io.Writer
}

// WorkerStats count what a worker did.
type WorkerStats struct {
	// Evaluated candidates (ok or failed), Skipped requests whose result
	// was already stored, Retried requests handed back for another
	// attempt, Exhausted requests recorded failed after their attempts.
	Evaluated, Skipped, Retried, Exhausted int
}

type worker struct {
	opt      WorkerOptions
	h        *handles
	ackWait  time.Duration
	attempts uint64

	logMu sync.Mutex

	buildMu sync.Mutex
	built   []*builtEvaluator // most recent last

	statsMu sync.Mutex
	stats   WorkerStats
}

type builtEvaluator struct {
	digest string
	ev     ScoringEvaluator
	// users counts the evaluations using ev; dropped is set once the
	// worker no longer keeps it, and ev is closed when both say so.
	users   int
	dropped bool
}

// keepEvaluators bounds the built evaluators a worker keeps (each holds a
// pool open, and per evaluation slot a model).
const keepEvaluators = 2

// RunWorker takes requests from the shared consumer and evaluates them
// until ctx ends, then drains: it takes no new request, finishes the ones
// in progress, writes their results and returns. Each evaluation: skip if
// the result is stored; build (once per setup) the evaluator, checking it
// reproduces the request's evaluation spec, version and candidate id;
// evaluate under the request's time limit while heartbeating the delivery;
// store the result, then acknowledge. A delivery past the topology's
// attempts records the candidate failed with the last attempt's reason.
// While no server answers it waits; a server that refuses the worker's
// credentials (the error then matches natsgo.ErrAuthorization for a wrong
// or missing token) or a connection the client closed for good ends it
// with an error saying what to fix.
func RunWorker(ctx context.Context, nc *natsgo.Conn, opt WorkerOptions) (WorkerStats, error) {
	if opt.Topology == (Topology{}) {
		opt.Topology = DefaultTopology()
	}
	if opt.Concurrency == 0 {
		opt.Concurrency = 1
	}
	if opt.Concurrency < 0 {
		return WorkerStats{}, fmt.Errorf("nats: worker concurrency %d: give a positive number", opt.Concurrency)
	}
	if opt.Name == "" {
		host, _ := os.Hostname()
		opt.Name = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if opt.Builder == nil {
		opt.Builder = KindBuilder
	}
	if opt.WatchdogGrace == 0 {
		opt.WatchdogGrace = 30 * time.Second
	}
	if opt.Exit == nil {
		opt.Exit = os.Exit
	}
	opt.Build.Workers = opt.Concurrency
	js, err := jetstream.New(nc)
	if err != nil {
		return WorkerStats{}, fmt.Errorf("nats: jetstream: %w", err)
	}
	w := &worker{opt: opt}
	// While it waits for the server, a refusal of the worker's credentials
	// (or a connection the client gave up) ends the wait with the reason.
	bindCtx, stopBind := context.WithCancelCause(ctx)
	stopWatch := watchConnection(nc, stopBind)
	w.h, err = bind(bindCtx, js, opt.Topology, func(connected bool) {
		if !connected {
			w.logf("waiting for the server %s", redact(strings.Join(nc.Opts.Servers, ",")))
			return
		}
		w.logf("waiting for a coordinator to create stream %s", opt.Topology.Stream)
	})
	stopWatch()
	stopBind(nil)
	if err != nil {
		if cause := context.Cause(bindCtx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
			return WorkerStats{}, cause
		}
		if ctx.Err() != nil {
			return WorkerStats{}, nil
		}
		return WorkerStats{}, err
	}
	info := w.h.consumer.CachedInfo()
	w.ackWait = info.Config.AckWait
	n, err := strconv.Atoi(info.Config.Metadata[attemptsMetadata])
	if err != nil || n < 1 {
		return WorkerStats{}, fmt.Errorf("nats: consumer %s has no valid %s metadata (%q): it was not created by evomerge; let `evomerge run` create it", opt.Topology.Consumer, attemptsMetadata, info.Config.Metadata[attemptsMetadata])
	}
	w.attempts = uint64(n)
	w.logf("ready %s concurrency=%d ack_wait=%v attempts=%d", opt.Name, opt.Concurrency, w.ackWait, w.attempts)
	var wg sync.WaitGroup
	for range opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	wg.Wait()
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	if ctx.Err() == nil && nc.IsClosed() {
		return w.stats, connectionError(nc)
	}
	return w.stats, nil
}

// watchConnection calls stop with connectionError once the client refuses
// to go on: the server rejected the credentials, or the connection was
// closed for good. It checks every 100ms until the returned function is
// called.
func watchConnection(nc *natsgo.Conn, stop context.CancelCauseFunc) (done func()) {
	quit := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if isAuthError(nc.LastError()) || nc.IsClosed() {
					stop(connectionError(nc))
					return
				}
			}
		}
	}()
	return func() { once.Do(func() { close(quit) }) }
}

// isAuthError reports whether the server refused the client's credentials.
func isAuthError(err error) bool {
	for _, e := range []error{natsgo.ErrAuthorization, natsgo.ErrAuthExpired, natsgo.ErrAuthRevoked, natsgo.ErrAccountAuthExpired} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// connectionError explains why the connection cannot serve the worker: a
// refusal of its credentials says which token to give (worker URLs carry
// it, nats://TOKEN@HOST:PORT), anything else quotes the client's error.
// Tokens are shown as REDACTED.
func connectionError(nc *natsgo.Conn) error {
	servers := nc.Opts.Servers
	where := redact(strings.Join(servers, ","))
	last := nc.LastError()
	if !isAuthError(last) {
		if last == nil {
			last = natsgo.ErrConnectionClosed
		}
		return fmt.Errorf("nats: the connection to the NATS server at %s was closed: %w (check the URL given with --server, and that the server is up)", where, last)
	}
	withToken, hostports := false, make([]string, 0, len(servers))
	for _, s := range servers {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			hostports = append(hostports, "HOST:PORT")
			continue
		}
		withToken = withToken || u.User != nil
		hostports = append(hostports, "nats://TOKEN@"+u.Host)
	}
	problem := "the URL carries no token and the server requires one"
	if withToken || nc.Opts.Token != "" {
		problem = "the token in the URL is not the server's"
	}
	what := strings.ToLower(strings.TrimPrefix(last.Error(), "nats: "))
	return &refusedError{
		msg: fmt.Sprintf("nats: the NATS server at %s refused the worker's credentials (%s): %s; give the server's token in the URL: --server %s (TOKEN is the $EVOMERGE_NATS_TOKEN of the `evomerge run --serve-nats` that serves it, or the authorization token of your own NATS server)", where, what, problem, strings.Join(hostports, ",")),
		err: last,
	}
}

// refusedError is a refusal of the worker's credentials; it unwraps to the
// client's error (natsgo.ErrAuthorization for a wrong or missing token).
type refusedError struct {
	msg string
	err error
}

func (e *refusedError) Error() string { return e.msg }
func (e *refusedError) Unwrap() error { return e.err }

func (w *worker) logf(format string, args ...any) {
	if w.opt.Log == nil {
		return
	}
	w.logMu.Lock()
	defer w.logMu.Unlock()
	fmt.Fprintf(w.opt.Log, format+"\n", args...)
}

func (w *worker) count(f func(*WorkerStats)) {
	w.statsMu.Lock()
	f(&w.stats)
	w.statsMu.Unlock()
}

// loop fetches and handles requests until ctx ends.
func (w *worker) loop(ctx context.Context) {
	for ctx.Err() == nil && !w.h.js.Conn().IsClosed() {
		msg, err := w.h.consumer.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if !errors.Is(err, natsgo.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
				// Server away (restart): wait, the connection reconnects.
				select {
				case <-ctx.Done():
				case <-time.After(250 * time.Millisecond):
				}
			}
			continue
		}
		if ctx.Err() != nil {
			_ = msg.Nak() // draining: not started, hand it back at once
			return
		}
		w.handle(msg)
	}
}

// handle processes one delivery. It uses its own context: a draining
// worker finishes what it started.
func (w *worker) handle(msg jetstream.Msg) {
	ctx := context.Background()
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	req, err := DecodeRequest(msg.Data())
	if err != nil {
		w.logf("reject seq=%d: %v", md.Sequence.Stream, err)
		var partial struct {
			CandidateID string `json:"candidate_id"`
		}
		if json.Unmarshal(msg.Data(), &partial) == nil && digestPattern.MatchString(partial.CandidateID) {
			w.store(ctx, &Result{V: ResultVersion, CandidateID: partial.CandidateID, Status: population.StatusFailed,
				Error: "unreadable request: " + err.Error(), Worker: w.opt.Name, Delivery: md.NumDelivered})
		}
		_ = msg.TermWithReason(err.Error())
		return
	}
	id := req.CandidateID
	if _, err := w.h.results.Get(ctx, id); err == nil {
		w.logf("skip %s", id)
		w.count(func(s *WorkerStats) { s.Skipped++ })
		_ = msg.DoubleAck(ctx)
		return
	}
	if md.NumDelivered > w.attempts {
		plural := "s"
		if w.attempts == 1 {
			plural = ""
		}
		reason := fmt.Sprintf("no result after %d attempt%s: the workers that took it crashed, were killed, hit the watchdog or could not evaluate it%s", w.attempts, plural, lastAttempt(ctx, w.h.errors, id))
		now := time.Now().UTC()
		w.store(ctx, &Result{V: ResultVersion, CandidateID: id, Status: population.StatusFailed, Error: reason,
			Worker: w.opt.Name, Delivery: md.NumDelivered, Started: now, Finished: now})
		w.logf("exhausted %s", id)
		w.count(func(s *WorkerStats) { s.Exhausted++ })
		_ = msg.DoubleAck(ctx)
		return
	}
	started := time.Now().UTC()
	w.note(ctx, id, fmt.Sprintf("delivery %d on worker %s started %s and ended without a result (the process died or was killed)", md.NumDelivered, w.opt.Name, started.Format(time.RFC3339)))
	w.logf("start %s delivery=%d", id, md.NumDelivered)

	stopBeat := w.heartbeat(msg)
	defer stopBeat()

	retry := func(err error) {
		w.note(ctx, id, fmt.Sprintf("delivery %d on worker %s: %v", md.NumDelivered, w.opt.Name, err))
		w.logf("retry %s: %v", id, err)
		w.count(func(s *WorkerStats) { s.Retried++ })
		stopBeat()
		_ = msg.NakWithDelay(min(w.ackWait, 5*time.Second))
	}
	ev, release, err := w.evaluator(ctx, req.Setup)
	if err != nil {
		retry(err)
		return
	}
	defer release()
	if err := checkIdentity(ev, req); err != nil {
		retry(err)
		return
	}
	cand := &population.Candidate{ID: id, Genome: req.Genome, Status: population.StatusPending}
	evalCtx, cancel := context.WithTimeout(ctx, req.MaxDuration())
	watchdog := time.AfterFunc(req.MaxDuration()+w.opt.WatchdogGrace, func() {
		w.note(ctx, id, fmt.Sprintf("delivery %d on worker %s exceeded its time limit of %v and did not stop within %v: the watchdog ended the worker", md.NumDelivered, w.opt.Name, req.MaxDuration(), w.opt.WatchdogGrace))
		w.logf("watchdog %s", id)
		w.opt.Exit(WatchdogExitCode)
	})
	evalErr := ev.Evaluate(evalCtx, []*population.Candidate{cand})
	watchdog.Stop()
	timedOut := errors.Is(evalCtx.Err(), context.DeadlineExceeded)
	cancel()
	if cand.Status == population.StatusPending {
		if !timedOut {
			if evalErr == nil {
				evalErr = errors.New("the evaluator left the candidate unevaluated")
			}
			retry(evalErr)
			return
		}
		cand.Fail(fmt.Errorf("evaluation exceeded its time limit of %v on worker %s", req.MaxDuration(), w.opt.Name))
	}
	res := resultOf(cand)
	res.Worker, res.Delivery, res.Started, res.Finished = w.opt.Name, md.NumDelivered, started, time.Now().UTC()
	if err := w.store(ctx, res); err != nil {
		w.logf("retry %s: %v", id, err)
		stopBeat()
		return // unacknowledged: redelivered after the ack wait
	}
	stopBeat()
	if err := msg.DoubleAck(ctx); err != nil {
		w.logf("ack %s: %v (the stored result answers a redelivery)", id, err)
	}
	_ = w.h.errors.Purge(ctx, id)
	w.logf("done %s status=%s", id, res.Status)
	w.count(func(s *WorkerStats) { s.Evaluated++ })
}

// checkIdentity verifies the worker evaluates what the coordinator asked:
// same evaluation spec, version and therefore candidate id.
func checkIdentity(ev ScoringEvaluator, req *Request) error {
	if got := SpecDigest(ev.EvalSpec()); got != req.EvalSpec {
		return fmt.Errorf("this worker's evaluation spec (sha256 %s..) differs from the coordinator's (%s..): its task data or merge settings differ; run the same evomerge release with the same benchmark cache", got[:12], short(req.EvalSpec))
	}
	if ev.Version() != req.Version {
		return fmt.Errorf("this worker's evaluator version %q differs from the coordinator's %q: its checkpoints or evomerge release differ", ev.Version(), req.Version)
	}
	id, err := population.ID(req.Genome, ev.EvalSpec(), ev.Version())
	if err != nil {
		return err
	}
	if id != req.CandidateID {
		return fmt.Errorf("the request's genome gives candidate id %s, not %s: the request is inconsistent", short(id), short(req.CandidateID))
	}
	return nil
}

// heartbeat tells JetStream the delivery is in progress every quarter of
// the ack wait until the returned stop is called (stop is idempotent).
func (w *worker) heartbeat(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	period := max(w.ackWait/4, 10*time.Millisecond)
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// note records the state of a candidate's latest attempt, the reason given
// if the request runs out of attempts.
func (w *worker) note(ctx context.Context, id, text string) {
	_, _ = w.h.errors.Put(ctx, id, []byte(text))
}

// store writes a result unless one is stored already (results are final;
// the first one stays).
func (w *worker) store(ctx context.Context, r *Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result %s: %w", short(r.CandidateID), err)
	}
	if _, err := w.h.results.Create(ctx, r.CandidateID, body); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("store result %s: %w", short(r.CandidateID), err)
	}
	return nil
}

// evaluator returns the evaluator of a setup, building it on first use,
// and the function to call once the evaluation is done with it.
func (w *worker) evaluator(ctx context.Context, digest string) (ScoringEvaluator, func(), error) {
	w.buildMu.Lock()
	defer w.buildMu.Unlock()
	for _, b := range w.built {
		if b.digest == digest {
			return b.ev, w.use(b), nil
		}
	}
	entry, err := w.h.setups.Get(ctx, digest)
	if err != nil {
		return nil, nil, fmt.Errorf("setup %s is not in bucket %s: %w", short(digest), w.opt.Topology.Setups, err)
	}
	s, err := DecodeSetup(entry.Value())
	if err != nil {
		return nil, nil, err
	}
	if _, got, err := s.Encode(); err != nil || got != digest {
		return nil, nil, fmt.Errorf("setup %s does not re-encode to its digest (got %s): coordinator and worker run different evomerge releases", short(digest), short(got))
	}
	w.logf("build setup %s", short(digest))
	ev, err := w.opt.Builder(ctx, s, w.opt.Build)
	if err != nil {
		return nil, nil, err
	}
	b := &builtEvaluator{digest: digest, ev: ev}
	w.built = append(w.built, b)
	if len(w.built) > keepEvaluators {
		old := w.built[0]
		w.built = w.built[1:]
		old.dropped = true
		w.closeUnused(old)
	}
	return ev, w.use(b), nil
}

// use counts an evaluation of b's evaluator; the function it returns ends
// it. Both run with buildMu held or take it.
func (w *worker) use(b *builtEvaluator) func() {
	b.users++
	var once sync.Once
	return func() {
		once.Do(func() {
			w.buildMu.Lock()
			defer w.buildMu.Unlock()
			b.users--
			w.closeUnused(b)
		})
	}
}

// closeUnused closes a dropped evaluator that no evaluation uses (buildMu
// held).
func (w *worker) closeUnused(b *builtEvaluator) {
	if !b.dropped || b.users > 0 {
		return
	}
	if c, ok := b.ev.(io.Closer); ok {
		if err := c.Close(); err != nil {
			w.logf("close setup %s: %v", short(b.digest), err)
		}
	}
}
