package run

import (
	"context"
	"time"

	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// journaled is the evaluator of a run, a cache whose store is the journal:
// candidates whose id the journal holds are answered from it (a resumed run
// replays them without evaluating), a candidate repeating an id earlier in
// the batch is answered from that one's result, and the others are
// evaluated by the inner evaluator in chunks of chunk candidates; every
// finished one is appended to the journal (fsynced) as soon as its chunk
// ends, so a crash loses at most one chunk of work.
type journaled struct {
	inner   search.Evaluator
	journal *rundir.Journal
	chunk   int
	clock   func() time.Time
	// replayed and evaluated count candidates answered from the journal and
	// by the inner evaluator.
	replayed, evaluated int
	// onRecord, when set, sees every record answered or written.
	onRecord func(*rundir.Record)
	// onFailure, when set, is told of every failed evaluation made (not
	// replayed).
	onFailure func(id, reason string)
}

// rememberer is an evaluator that must know the genomes of candidates
// answered from the journal.
type rememberer interface {
	Remember(id string, g population.Genome) error
}

func (j *journaled) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	var misses []*population.Candidate
	first := map[string]*population.Candidate{}
	var repeats []*population.Candidate
	for _, c := range batch {
		if rec, ok := j.journal.Lookup(c.ID); ok {
			if r, ok := j.inner.(rememberer); ok {
				// An evaluator that builds candidates from their parents
				// (M2N2's lineage) learns the genome it did not evaluate.
				if err := r.Remember(c.ID, rec.Genome); err != nil {
					return err
				}
			}
			rec.Apply(c)
			j.replayed++
			if j.onRecord != nil {
				j.onRecord(&rec)
			}
			continue
		}
		if _, dup := first[c.ID]; dup {
			repeats = append(repeats, c)
			continue
		}
		first[c.ID] = c
		misses = append(misses, c)
	}
	defer func() {
		// Repeats take the result of their first occurrence once it has one.
		for _, c := range repeats {
			if src := first[c.ID]; src.Status == population.StatusOK || src.Status == population.StatusFailed {
				rec := rundir.RecordOf(src, time.Time{}, time.Time{})
				rec.Apply(c)
				j.replayed++
			}
		}
	}()
	chunk := max(j.chunk, 1)
	for lo := 0; lo < len(misses); lo += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := misses[lo:min(lo+chunk, len(misses))]
		started := j.clock()
		err := j.inner.Evaluate(ctx, part)
		finished := j.clock()
		for _, c := range part {
			if c.Status != population.StatusOK && c.Status != population.StatusFailed {
				continue // cancelled before it finished: not journaled
			}
			rec := rundir.RecordOf(c, started, finished)
			if jerr := j.journal.Append(rec); jerr != nil {
				return jerr
			}
			if j.onRecord != nil {
				j.onRecord(&rec)
			}
			if rec.Status == population.StatusFailed && j.onFailure != nil {
				j.onFailure(rec.ID, rec.Error)
			}
			j.evaluated++
		}
		if err != nil {
			return err
		}
	}
	return nil
}
