package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// DefaultMaxDuration bounds one evaluation attempt on a worker.
const DefaultMaxDuration = 30 * time.Minute

// Options configure the coordinator's evaluator.
type Options struct {
	// Topology names the stream, consumer and buckets and sets the
	// delivery policy; the zero value means DefaultTopology.
	Topology Topology
	// Run names the run in requests, for workers' logs.
	Run string
	// MaxDuration bounds one attempt of one evaluation (the workers'
	// watchdog); 0 means DefaultMaxDuration.
	MaxDuration time.Duration
	// Poll is how often pending results are also looked up directly, in
	// case a watch update was lost to a reconnect; 0 means 2s.
	Poll time.Duration
}

// Stats count what the evaluator did.
type Stats struct {
	// Published requests; Dropped of them were duplicates the server
	// dropped (a request with that id was already queued).
	Published, Dropped int
	// Cached candidates were answered from the results bucket without a
	// request; Received results came back from workers.
	Cached, Received int
	// Failed is the number of candidates answered failed (either way).
	Failed int
}

// Evaluator is the coordinator's side of distributed evaluation: it
// implements search.Evaluator by publishing one request per candidate not
// yet in the results bucket and waiting for workers' results there. Ids are
// population.ID with the local evaluator's EvalSpec and Version, so a
// result in the bucket answers for the same evaluation whoever computed it,
// in this run, an earlier one or a resumed one. One Evaluate call runs at a
// time.
type Evaluator struct {
	h           *handles
	nc          *natsgo.Conn
	topo        Topology
	run         string
	spec        string
	version     string
	specDigest  string
	setupDigest string
	maxDur      time.Duration
	poll        time.Duration

	mu    sync.Mutex
	stats Stats
}

// NewEvaluator creates the stream, consumer and buckets (or updates them to
// the topology), stores the setup and returns the evaluator. local is the
// coordinator's own build of the setup (Setup.Build): its EvalSpec and
// Version identify candidates, and workers must reproduce both.
func NewEvaluator(ctx context.Context, nc *natsgo.Conn, setup *Setup, local evaluate.Identified, opt Options) (*Evaluator, error) {
	if nc == nil || setup == nil || local == nil {
		return nil, errors.New("nats: an evaluator needs a connection, a setup and the local evaluator that identifies candidates")
	}
	topo := opt.Topology
	if topo == (Topology{}) {
		topo = DefaultTopology()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	h, err := ensure(ctx, js, topo)
	if err != nil {
		return nil, err
	}
	body, digest, err := setup.Encode()
	if err != nil {
		return nil, err
	}
	if err := setup.Validate(); err != nil {
		return nil, err
	}
	if _, err := h.setups.Put(ctx, digest, body); err != nil {
		return nil, fmt.Errorf("nats: store setup %s: %w", short(digest), err)
	}
	e := &Evaluator{
		h: h, nc: nc, topo: topo, run: opt.Run,
		spec: local.EvalSpec(), version: local.Version(), specDigest: SpecDigest(local.EvalSpec()),
		setupDigest: digest, maxDur: opt.MaxDuration, poll: opt.Poll,
	}
	if e.maxDur == 0 {
		e.maxDur = DefaultMaxDuration
	}
	if e.maxDur < 0 || e.poll < 0 {
		return nil, fmt.Errorf("nats: max duration %v and poll %v must not be negative", e.maxDur, e.poll)
	}
	if e.poll == 0 {
		e.poll = 2 * time.Second
	}
	return e, nil
}

// EvalSpec is the evaluation spec of candidate ids.
func (e *Evaluator) EvalSpec() string { return e.spec }

// Version is the version of candidate ids.
func (e *Evaluator) Version() string { return e.version }

// SetupDigest is the digest under which the setup is stored.
func (e *Evaluator) SetupDigest() string { return e.setupDigest }

// Stats returns the counts so far.
func (e *Evaluator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Request returns the request the evaluator publishes for a genome.
func (e *Evaluator) Request(g population.Genome) (*Request, error) {
	id, err := population.ID(g, e.spec, e.version)
	if err != nil {
		return nil, err
	}
	return &Request{
		V: RequestVersion, CandidateID: id, Run: e.run, Setup: e.setupDigest, Genome: g.Clone(),
		EvalSpec: e.specDigest, Version: e.version, MaxDurationMS: e.maxDur.Milliseconds(),
	}, nil
}

// Publish sends a request with its candidate id as message id and says
// whether the server dropped it as a duplicate.
func (e *Evaluator) Publish(ctx context.Context, r *Request) (duplicate bool, err error) {
	body, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("nats: encode request %s: %w", short(r.CandidateID), err)
	}
	ack, err := e.h.js.Publish(ctx, e.topo.Subject, body, jetstream.WithMsgID(r.CandidateID))
	if err != nil {
		return false, fmt.Errorf("nats: publish request %s: %w", short(r.CandidateID), err)
	}
	return ack.Duplicate, nil
}

// lookup reads a candidate's result from the bucket.
func (e *Evaluator) lookup(ctx context.Context, id string) (*Result, error) {
	entry, err := e.h.results.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, errNoResult
	}
	if err != nil {
		return nil, fmt.Errorf("nats: read result %s: %w", short(id), err)
	}
	return decodeEntry(id, entry.Value()), nil
}

// decodeEntry reads a stored result; an unreadable one answers failed.
func decodeEntry(id string, body []byte) *Result {
	r, err := DecodeResult(body)
	if err == nil && r.CandidateID != id {
		err = fmt.Errorf("it is stored under %s but names candidate %s", short(id), short(r.CandidateID))
	}
	if err != nil {
		return &Result{V: ResultVersion, CandidateID: id, Status: population.StatusFailed,
			Error: fmt.Sprintf("the result in the bucket is unreadable (%v): delete key %s from the results bucket to evaluate it again", err, id)}
	}
	return r
}

// Evaluate implements search.Evaluator. Every candidate gets the result
// stored under its id; missing ones are requested (once per id, duplicates
// in the batch share it) and awaited. Results go to the candidate at the
// same batch index whatever the order workers finish in. A cancelled
// context returns its error and leaves unanswered candidates pending; their
// requests stay queued and a resumed run finds their results.
func (e *Evaluator) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	want := map[string][]int{}
	var order []string
	for i, c := range batch {
		id, err := population.ID(c.Genome, e.spec, e.version)
		if err != nil {
			return fmt.Errorf("nats: candidate %d: %w", i, err)
		}
		if c.ID != "" && c.ID != id {
			return fmt.Errorf("nats: candidate %d has id %s but its genome, evaluation spec and version give %s: give search.Settings the evaluator's EvalSpec and Version", i, c.ID, id)
		}
		c.ID = id
		if _, ok := want[id]; !ok {
			order = append(order, id)
		}
		want[id] = append(want[id], i)
	}
	if len(order) == 0 {
		return nil
	}
	var stats Stats
	defer func() {
		e.mu.Lock()
		e.stats.Published += stats.Published
		e.stats.Dropped += stats.Dropped
		e.stats.Cached += stats.Cached
		e.stats.Received += stats.Received
		e.stats.Failed += stats.Failed
		e.mu.Unlock()
	}()
	answer := func(id string, r *Result) {
		for _, i := range want[id] {
			r.apply(batch[i])
		}
		if r.Status == population.StatusFailed {
			stats.Failed++
		}
		delete(want, id)
	}
	// Watch before looking up, so a result written in between is seen.
	watcher, err := e.h.results.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("nats: watch results: %w", err)
	}
	defer watcher.Stop()

	for _, id := range order {
		r, err := e.lookup(ctx, id)
		switch {
		case err == nil:
			stats.Cached++
			answer(id, r)
			continue
		case !errors.Is(err, errNoResult):
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		req, err := e.Request(batch[want[id][0]].Genome)
		if err != nil {
			return err
		}
		dup, err := e.Publish(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		stats.Published++
		if dup {
			stats.Dropped++
		}
	}
	tick := time.NewTicker(e.poll)
	defer tick.Stop()
	for len(want) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case entry, ok := <-watcher.Updates():
			if !ok {
				return fmt.Errorf("nats: the results watch ended (connection closed?) with %d candidates unanswered", len(want))
			}
			if entry == nil || entry.Operation() != jetstream.KeyValuePut {
				continue
			}
			if _, pending := want[entry.Key()]; pending {
				stats.Received++
				answer(entry.Key(), decodeEntry(entry.Key(), entry.Value()))
			}
		case <-tick.C:
			for id := range want {
				r, err := e.lookup(ctx, id)
				if err == nil {
					stats.Received++
					answer(id, r)
				}
			}
		}
	}
	return nil
}

// lastAttempt describes the last recorded attempt of a candidate ("" if
// none).
func lastAttempt(ctx context.Context, kv jetstream.KeyValue, id string) string {
	entry, err := kv.Get(ctx, id)
	if err != nil {
		return ""
	}
	return "; last attempt: " + string(entry.Value())
}

var _ search.Evaluator = (*Evaluator)(nil)
var _ evaluate.Identified = (*Evaluator)(nil)
