package searchtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
)

// ErrInjected is the reason given to candidates failed on purpose.
var ErrInjected = errors.New("searchtest: injected failure")

// Evaluator scores candidates with a synthetic problem. It satisfies
// search.Evaluator.
type Evaluator struct {
	Problem Problem
	// FailRate is the probability that a candidate fails. Whether a
	// candidate fails depends only on FailSeed and its id, never on the
	// order of evaluation.
	FailRate float64
	FailSeed uint64
	// Workers > 1 evaluates candidates on that many goroutines, each
	// sleeping a random few microseconds first, so candidates complete in
	// scheduling order rather than batch order.
	Workers int
	// JitterSeed seeds the random sleeps (and the order candidates are
	// handed to workers).
	JitterSeed uint64

	calls   atomic.Int64
	batches atomic.Int64
}

// Calls is the number of candidates evaluated so far.
func (e *Evaluator) Calls() int { return int(e.calls.Load()) }

// Evaluate scores the batch in place. Candidates not started before ctx is
// cancelled stay pending and ctx.Err() is returned.
func (e *Evaluator) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	b := e.batches.Add(1)
	if e.Workers <= 1 {
		for _, c := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			e.one(c)
		}
		return ctx.Err()
	}
	order := rng.New(e.JitterSeed, "searchtest/order", fmt.Sprint(b)).Perm(len(batch))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < e.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			jit := rng.New(e.JitterSeed, "searchtest/jitter", fmt.Sprint(b), fmt.Sprint(w))
			for i := range work {
				time.Sleep(time.Duration(jit.IntN(50)) * time.Microsecond)
				e.one(batch[i])
			}
		}(w)
	}
	var err error
	for _, i := range order {
		if err = ctx.Err(); err != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err != nil {
		return err
	}
	return ctx.Err()
}

func (e *Evaluator) one(c *population.Candidate) {
	e.calls.Add(1)
	if e.FailRate > 0 {
		u := float64(rng.Derive(e.FailSeed, "searchtest/fail", c.ID)>>11) / (1 << 53)
		if u < e.FailRate {
			c.Fail(ErrInjected)
			return
		}
	}
	if c.Genome.Values == nil {
		c.Fail(errors.New("searchtest: the synthetic evaluator scores coefficient vectors only"))
		return
	}
	c.Scores = e.Problem.Score(c.Genome.Values)
	c.Status = population.StatusOK
}
