package nats

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evomerge/evomerge/population"
)

// RequestVersion and ResultVersion are the schema versions of the messages.
const (
	RequestVersion = 1
	ResultVersion  = 1
)

// Request asks a worker to evaluate one candidate. It is small: the genome
// (a coefficient vector or recipe), the digest of the setup that turns it
// into a merged model, and the evaluation identity the worker must
// reproduce before it scores anything. Its candidate id is the JetStream
// message id, so a re-published request is dropped within the duplicate
// window.
type Request struct {
	V           int    `json:"v"`
	CandidateID string `json:"candidate_id"`
	// Run names the coordinator's run, for logs.
	Run string `json:"run,omitempty"`
	// Setup is the digest of the Setup in the setups bucket.
	Setup  string            `json:"setup"`
	Genome population.Genome `json:"genome"`
	// EvalSpec is the hex sha256 of the evaluator's evaluation spec and
	// Version its version: with the genome they give CandidateID.
	EvalSpec string `json:"eval_spec"`
	Version  string `json:"version"`
	// MaxDurationMS bounds one attempt (the worker's watchdog).
	MaxDurationMS int64 `json:"max_duration_ms"`
}

// SpecDigest is the hex sha256 of an evaluation spec, as requests carry it.
func SpecDigest(spec string) string {
	sum := sha256.Sum256([]byte(spec))
	return hex.EncodeToString(sum[:])
}

// MaxDuration is the request's time limit.
func (r *Request) MaxDuration() time.Duration {
	return time.Duration(r.MaxDurationMS) * time.Millisecond
}

// Validate checks the request's shape.
func (r *Request) Validate() error {
	switch {
	case r.V != RequestVersion:
		return fmt.Errorf("request version %d: this worker reads version %d; run the coordinator's evomerge release", r.V, RequestVersion)
	case !digestPattern.MatchString(r.CandidateID):
		return fmt.Errorf("request candidate id %q is not a hex sha256", r.CandidateID)
	case !digestPattern.MatchString(r.Setup):
		return fmt.Errorf("request %s: setup digest %q is not a hex sha256", short(r.CandidateID), r.Setup)
	case r.MaxDurationMS <= 0:
		return fmt.Errorf("request %s: time limit %d ms must be positive", short(r.CandidateID), r.MaxDurationMS)
	}
	return r.Genome.Validate()
}

// DecodeRequest reads and validates a request.
func DecodeRequest(body []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Result is a candidate's evaluation as stored in the results bucket under
// its id: the scores and per-example correctness for an evaluated
// candidate, or failed with the reason. Stored results are final: a
// worker writes one before it acknowledges the request, and a request whose
// result exists is acknowledged without evaluating it again.
type Result struct {
	V           int                          `json:"v"`
	CandidateID string                       `json:"candidate_id"`
	Status      population.Status            `json:"status"`
	Scores      []float64                    `json:"scores,omitempty"`
	Correct     []population.TaskCorrectness `json:"correct,omitempty"`
	Error       string                       `json:"error,omitempty"`
	// Worker names who produced it (host/pid); Delivery is the JetStream
	// delivery count of the attempt (1: first).
	Worker   string    `json:"worker"`
	Delivery uint64    `json:"delivery"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// Validate checks a result's shape.
func (r *Result) Validate() error {
	switch {
	case r.V != ResultVersion:
		return fmt.Errorf("result version %d: this evomerge reads version %d", r.V, ResultVersion)
	case !digestPattern.MatchString(r.CandidateID):
		return fmt.Errorf("result candidate id %q is not a hex sha256", r.CandidateID)
	case r.Status == population.StatusOK && len(r.Scores) == 0:
		return fmt.Errorf("result %s is ok but has no scores", short(r.CandidateID))
	case r.Status == population.StatusFailed && r.Error == "":
		return fmt.Errorf("result %s failed without a reason", short(r.CandidateID))
	case r.Status != population.StatusOK && r.Status != population.StatusFailed:
		return fmt.Errorf("result %s has status %q: want ok or failed", short(r.CandidateID), r.Status)
	}
	for _, c := range r.Correct {
		if err := c.Bits.Validate(); err != nil {
			return fmt.Errorf("result %s: task %s: %w", short(r.CandidateID), c.Task, err)
		}
	}
	return nil
}

// DecodeResult reads and validates a result.
func DecodeResult(body []byte) (*Result, error) {
	var r Result
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// resultOf copies an evaluated candidate into a result.
func resultOf(c *population.Candidate) *Result {
	r := c.Clone()
	return &Result{V: ResultVersion, CandidateID: c.ID, Status: r.Status, Scores: r.Scores, Correct: r.Correct, Error: r.Error}
}

// apply gives the candidate the result's scores, correctness, status and
// error.
func (r *Result) apply(c *population.Candidate) {
	cp := (&population.Candidate{Scores: r.Scores, Correct: r.Correct, Status: r.Status, Error: r.Error}).Clone()
	c.Scores, c.Correct, c.Status, c.Error = cp.Scores, cp.Correct, cp.Status, cp.Error
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

var errNoResult = errors.New("no result")
