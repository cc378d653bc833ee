package nats

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/nsga2"
)

// coordinator starts a server and an evaluator for the setup.
func coordinator(t *testing.T, s *Setup, topo Topology, maxDur time.Duration) (*Server, *Evaluator) {
	t.Helper()
	srv := startServer(t, "127.0.0.1:0", t.TempDir())
	nc := connect(t, srv.ClientURL())
	ev, err := NewEvaluator(context.Background(), nc, s, localNative(t, s), Options{Topology: topo, Run: t.Name(), MaxDuration: maxDur, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return srv, ev
}

func storedResult(t *testing.T, ev *Evaluator, id string) *Result {
	t.Helper()
	r, err := ev.lookup(context.Background(), id)
	if err != nil {
		t.Fatalf("result %s: %v", short(id), err)
	}
	return r
}

func searchRun(t *testing.T, s *Setup, ev search.Evaluator, spec, version string) *search.Result {
	t.Helper()
	op, err := operators.Builtin().Get(s.Operator)
	if err != nil {
		t.Fatal(err)
	}
	space, _, err := searchspace.Derive(op.Params(), s.Search)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nsga2.New(nsga2.Options{PopulationSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	res, err := search.Run(context.Background(), m, ev,
		search.Problem{Space: space, Directions: []fitness.Direction{fitness.Maximize, fitness.Maximize}, Seed: 11},
		search.Settings{MaxEvaluations: 12, EvalSpec: spec, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Three worker processes, one SIGKILLed mid-evaluation: its request is
// redelivered and finished by another, and the search ends exactly as the
// in-process search with the same seed.
func TestKilledWorkerLosesNothingAndFrontEqualsInProcess(t *testing.T) {
	s := writePool(t, t.TempDir(), 40)
	local := localNative(t, s)
	want := searchRun(t, s, local, local.EvalSpec(), local.Version())

	srv, ev := coordinator(t, s, testTopology(3), time.Minute)
	workers := []*proc{
		startWorker(t, srv.ClientURL(), 400*time.Millisecond, time.Minute, 1),
		startWorker(t, srv.ClientURL(), 400*time.Millisecond, time.Minute, 1),
		startWorker(t, srv.ClientURL(), 400*time.Millisecond, time.Minute, 1),
	}
	victim := workers[0]
	killed := make(chan string, 1)
	go func() {
		for l := range victim.lines {
			if id, ok := strings.CutPrefix(l, "start "); ok {
				time.Sleep(100 * time.Millisecond) // mid-evaluation
				_ = victim.cmd.Process.Signal(syscall.SIGKILL)
				killed <- strings.Fields(id)[0]
				return
			}
		}
	}()
	got := searchRun(t, s, ev, ev.EvalSpec(), ev.Version())

	var killedID string
	select {
	case killedID = <-killed:
	case <-time.After(10 * time.Second):
		t.Fatal("the first worker never started an evaluation")
	}
	victim.wait(t, 5*time.Second)
	r := storedResult(t, ev, killedID)
	if r.Delivery != 2 || r.Worker == "w"+itoa(victim.cmd.Process.Pid) || r.Status != population.StatusOK {
		t.Errorf("killed candidate's result: delivery %d worker %s status %s, want delivery 2 by another worker, ok", r.Delivery, r.Worker, r.Status)
	}
	if got.Evaluations != want.Evaluations || len(got.Candidates) != len(want.Candidates) {
		t.Fatalf("distributed run: %d evaluations, %d candidates; in-process: %d, %d", got.Evaluations, len(got.Candidates), want.Evaluations, len(want.Candidates))
	}
	for i, c := range got.Candidates {
		w := want.Candidates[i]
		if c.ID != w.ID || c.Status != w.Status || !reflect.DeepEqual(c.Scores, w.Scores) || !reflect.DeepEqual(c.Correct, w.Correct) || !c.Genome.Equal(w.Genome) {
			t.Errorf("candidate %d: distributed %s %s %v, in-process %s %s %v", i, short(c.ID), c.Status, c.Scores, short(w.ID), w.Status, w.Scores)
		}
	}
	if !reflect.DeepEqual(got.Front, want.Front) {
		t.Errorf("front %v, in-process %v", got.Front, want.Front)
	}
	distinct := map[string]bool{}
	for _, c := range got.Candidates {
		distinct[c.ID] = true
	}
	// A genome seen in an earlier batch is answered from the bucket.
	if st := ev.Stats(); st.Published != len(distinct) || st.Received != st.Published || st.Failed != 0 {
		t.Errorf("stats %+v: want each of the %d distinct candidates published and received once, none failed", st, len(distinct))
	}
	// Every other delivery happened once: the heartbeat kept evaluations
	// longer than a quarter ack wait from being redelivered.
	for _, c := range got.Candidates {
		if c.ID == killedID {
			continue
		}
		if r := storedResult(t, ev, c.ID); r.Delivery != 1 {
			t.Errorf("candidate %s was delivered %d times", short(c.ID), r.Delivery)
		}
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}

// A request that crashes every worker stops after the bounded attempts and
// is recorded failed with the reason; the other candidate is evaluated.
func TestPoisonRequestFailsAfterBoundedAttempts(t *testing.T) {
	s := writePool(t, t.TempDir(), 20)
	local := localNative(t, s)
	srv, ev := coordinator(t, s, testTopology(2), time.Minute)
	batch := candidatesOf([]float64{0.5, 0.5}, []float64{poisonValue, 0})
	done := make(chan error, 1)
	go func() { done <- ev.Evaluate(context.Background(), batch) }()

	crashes := 0
	for spawned := 0; ; spawned++ {
		if spawned > 4 {
			t.Fatalf("poison request still unanswered after %d crashed workers", crashes)
		}
		p := startWorker(t, srv.ClientURL(), 0, time.Minute, 1)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			p.wait(t, 5*time.Second)
			goto finished
		case <-p.done:
			var exit *exec.ExitError
			if !errors.As(p.err, &exit) || exit.ExitCode() != 7 {
				t.Fatalf("worker ended with %v, want the poison crash (exit 7)", p.err)
			}
			crashes++
		}
	}
finished:
	if crashes != 2 {
		t.Errorf("%d workers crashed, want 2 (the attempts)", crashes)
	}
	poison := batch[1]
	if poison.Status != population.StatusFailed || !strings.Contains(poison.Error, "no result after 2 attempts") || !strings.Contains(poison.Error, "died or was killed") {
		t.Errorf("poison candidate: %s %q", poison.Status, poison.Error)
	}
	ref := candidatesOf([]float64{0.5, 0.5})
	if err := local.Evaluate(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if batch[0].Status != population.StatusOK || !reflect.DeepEqual(batch[0].Scores, ref[0].Scores) {
		t.Errorf("normal candidate: %s %v, in-process %v", batch[0].Status, batch[0].Scores, ref[0].Scores)
	}
}

// A worker whose evaluation hangs past its time limit and the grace period
// is ended by the watchdog.
func TestWatchdogEndsHungWorker(t *testing.T) {
	s := writePool(t, t.TempDir(), 20)
	srv, ev := coordinator(t, s, testTopology(3), 300*time.Millisecond)
	p := startWorker(t, srv.ClientURL(), 0, 300*time.Millisecond, 1)
	ctx, cancel := context.WithCancel(context.Background())
	batch := candidatesOf([]float64{hangValue, 0})
	done := make(chan error, 1)
	go func() { done <- ev.Evaluate(ctx, batch) }()
	p.waitLine(t, "start ", 10*time.Second)
	began := time.Now()
	p.wait(t, 10*time.Second)
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.ExitCode() != WatchdogExitCode {
		t.Fatalf("hung worker ended with %v, want exit %d", p.err, WatchdogExitCode)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the watchdog took %v for a 300ms limit and 300ms grace", d)
	}
	if note := lastAttempt(context.Background(), ev.h.errors, batch[0].ID); !strings.Contains(note, "watchdog ended the worker") {
		t.Errorf("attempt note %q does not say the watchdog ended it", note)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || batch[0].Status != population.StatusPending {
		t.Errorf("cancelled evaluate: %v, status %s; want context.Canceled and pending", err, batch[0].Status)
	}
}

// An evaluation that honours its context is cut at the time limit and
// recorded failed; the worker goes on.
func TestTimeLimitFailsCandidate(t *testing.T) {
	s := writePool(t, t.TempDir(), 20)
	srv, ev := coordinator(t, s, testTopology(3), 200*time.Millisecond)
	nc := connect(t, srv.ClientURL())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := RunWorker(ctx, nc, WorkerOptions{
			Build: BuildOptions{Kinds: testKinds, Tasks: syntheticTasks}, Builder: testBuilder(10 * time.Second),
			WatchdogGrace: time.Minute, Exit: func(code int) { t.Errorf("watchdog exit %d for an evaluation that stops", code) },
		})
		if err != nil {
			t.Error(err)
		}
	}()
	batch := candidatesOf([]float64{0.25, 0.75})
	if err := ev.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	if c := batch[0]; c.Status != population.StatusFailed || !strings.Contains(c.Error, "exceeded its time limit of 200ms") {
		t.Errorf("slow candidate: %s %q", c.Status, c.Error)
	}
}

// SIGTERM drains: the evaluation in progress is finished and stored, no
// new request is taken, the worker exits 0.
func TestSigtermDrains(t *testing.T) {
	s := writePool(t, t.TempDir(), 20)
	local := localNative(t, s)
	srv, ev := coordinator(t, s, testTopology(3), time.Minute)
	p := startWorker(t, srv.ClientURL(), 1500*time.Millisecond, time.Minute, 1)
	batch := candidatesOf([]float64{0.1, 0.2}, []float64{0.3, 0.4})
	done := make(chan error, 1)
	go func() { done <- ev.Evaluate(context.Background(), batch) }()
	first := strings.Fields(p.waitLine(t, "start ", 10*time.Second))[1]
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if l := p.waitLine(t, "done ", 5*time.Second); !strings.HasPrefix(l, "done "+first+" status=ok") {
		t.Errorf("after SIGTERM the worker printed %q, want done %s", l, short(first))
	}
	p.wait(t, 5*time.Second)
	if p.err != nil {
		t.Errorf("drained worker exited with %v, want 0", p.err)
	}
	starts := 0
	for _, l := range p.output() {
		if strings.HasPrefix(l, "start ") {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("the draining worker started %d evaluations, want 1: %q", starts, p.output())
	}
	if r := storedResult(t, ev, first); r.Delivery != 1 {
		t.Errorf("drained evaluation stored with delivery %d, want 1", r.Delivery)
	}
	// Another worker picks up the rest.
	q := startWorker(t, srv.ClientURL(), 0, time.Minute, 1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the second request was never evaluated")
	}
	_ = q.cmd.Process.Signal(syscall.SIGTERM)
	q.wait(t, 5*time.Second)
	ref := candidatesOf([]float64{0.1, 0.2}, []float64{0.3, 0.4})
	if err := local.Evaluate(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		if batch[i].Status != population.StatusOK || !reflect.DeepEqual(batch[i].Scores, ref[i].Scores) {
			t.Errorf("candidate %d: %s %v, in-process %v", i, batch[i].Status, batch[i].Scores, ref[i].Scores)
		}
	}
}

// A request published twice under its candidate id is queued once.
func TestDuplicatePublishDropped(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	_, ev := coordinator(t, s, testTopology(3), time.Minute)
	ctx := context.Background()
	req, err := ev.Request(population.VectorGenome([]float64{1, -1}))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true, true} {
		dup, err := ev.Publish(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if dup != want {
			t.Errorf("publish %d: duplicate %v, want %v", i+1, dup, want)
		}
	}
	other, err := ev.Request(population.VectorGenome([]float64{1, -0.5}))
	if err != nil {
		t.Fatal(err)
	}
	if dup, err := ev.Publish(ctx, other); err != nil || dup {
		t.Fatalf("another candidate: duplicate %v, %v", dup, err)
	}
	info, err := ev.h.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d requests, want 2", info.State.Msgs)
	}
}

// The queue survives a server restart; a resumed coordinator finds the
// results in the bucket and requests nothing again.
func TestServerRestartAndResumedCoordinator(t *testing.T) {
	s := writePool(t, t.TempDir(), 20)
	local := localNative(t, s)
	store := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	topo := testTopology(3)
	points := [][]float64{{0.1, 0.9}, {0.9, 0.1}, {0.5, 0.5}}

	// Coordinator 1 publishes with no worker up, then is stopped.
	srv, err := StartServer(ServerOptions{Addr: addr, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	nc := connect(t, "nats://"+addr)
	ev1, err := NewEvaluator(context.Background(), nc, s, local, Options{Topology: topo, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	batch := candidatesOf(points...)
	if err := ev1.Evaluate(ctx, batch); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("evaluate without workers: %v, want the deadline", err)
	}
	cancel()
	if st := ev1.Stats(); st.Published != 3 || batch[0].Status != population.StatusPending {
		t.Fatalf("stats %+v, status %s: want 3 published, pending", st, batch[0].Status)
	}
	srv.Shutdown()

	// Server restart on the same store; a worker joins; the resumed
	// coordinator re-publishes (dropped as duplicates) and gets results.
	srv = startServer(t, addr, store)
	nc2 := connect(t, "nats://"+addr)
	wctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var wstats WorkerStats
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		wstats, err = RunWorker(wctx, nc2, WorkerOptions{Build: BuildOptions{Kinds: testKinds, Tasks: syntheticTasks}, Concurrency: 2})
		if err != nil {
			t.Error(err)
		}
	}()
	ev2, err := NewEvaluator(context.Background(), nc2, s, local, Options{Topology: topo, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	batch = candidatesOf(points...)
	if err := ev2.Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// Each request either was finished already (cached) or is still queued
	// (the re-publish is dropped as a duplicate).
	if st := ev2.Stats(); st.Published+st.Cached != 3 || st.Dropped != st.Published {
		t.Errorf("resumed coordinator stats %+v: want every candidate cached or re-published as a dropped duplicate", st)
	}
	ref := candidatesOf(points...)
	if err := local.Evaluate(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		if batch[i].Status != population.StatusOK || !reflect.DeepEqual(batch[i].Scores, ref[i].Scores) || !reflect.DeepEqual(batch[i].Correct, ref[i].Correct) {
			t.Errorf("candidate %d: %s %v, in-process %v", i, batch[i].Status, batch[i].Scores, ref[i].Scores)
		}
	}
	// A coordinator resumed again: every result is in the bucket.
	ev3, err := NewEvaluator(context.Background(), nc2, s, local, Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	again := candidatesOf(points...)
	if err := ev3.Evaluate(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if st := ev3.Stats(); st.Published != 0 || st.Cached != 3 {
		t.Errorf("second resume stats %+v: want nothing published, 3 cached", st)
	}
	stop()
	wg.Wait()
	if wstats.Evaluated != 3 {
		t.Errorf("worker evaluated %d candidates, want 3 (each once)", wstats.Evaluated)
	}
	info, err := jetstreamInfo(ev3)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d requests left in the work queue", info.State.Msgs)
	}
}

func jetstreamInfo(ev *Evaluator) (*jetstream.StreamInfo, error) {
	return ev.h.stream.Info(context.Background())
}

// A request whose attempts all died and whose bookkeeping delivery died
// too (a consumer that never acknowledges stands for crashed workers) is
// not stuck: the next delivery, to a live worker, records it failed.
func TestDeadBookkeepingDeliveryIsRetried(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	srv, ev := coordinator(t, s, testTopology(1), time.Minute)
	batch := candidatesOf([]float64{0.5, -0.5})
	done := make(chan error, 1)
	go func() { done <- ev.Evaluate(context.Background(), batch) }()
	for deliveries := 0; deliveries < 2; {
		if _, err := ev.h.consumer.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
			t.Fatalf("delivery %d: %v", deliveries+1, err)
		}
		deliveries++ // the attempt, then the bookkeeping delivery: both die
	}
	nc := connect(t, srv.ClientURL())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var st WorkerStats
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		if st, err = RunWorker(ctx, nc, WorkerOptions{Build: BuildOptions{Kinds: testKinds, Tasks: syntheticTasks}}); err != nil {
			t.Error(err)
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the request was never answered")
	}
	cancel()
	wg.Wait()
	if c := batch[0]; c.Status != population.StatusFailed || !strings.Contains(c.Error, "no result after 1 attempt:") {
		t.Errorf("candidate: %s %q", c.Status, c.Error)
	}
	if st.Exhausted != 1 || st.Evaluated != 0 {
		t.Errorf("worker stats %+v: want the request recorded failed, not evaluated", st)
	}
	info, err := ev.h.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d requests left in the queue", info.State.Msgs)
	}
}
