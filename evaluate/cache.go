package evaluate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// Store is the backing store of a Cache: evaluated candidates by id. The run
// journal and a NATS key-value bucket implement it; MemoryStore is the
// in-memory one.
type Store interface {
	// Lookup returns the evaluated candidate stored under id (its Scores,
	// Correct, Status and Error are what the cache copies), or ok false.
	Lookup(id string) (c *population.Candidate, ok bool, err error)
	// Store records an evaluated candidate (Status ok or failed) under its
	// ID. The store must not keep c itself: the search goes on using it.
	Store(c *population.Candidate) error
}

// Identified is implemented by evaluators that know their evaluation spec
// and version (Native, Command).
type Identified interface {
	EvalSpec() string
	Version() string
}

// CacheStats count what a cache did.
type CacheStats struct {
	// Hits were answered from the store.
	Hits int
	// Misses were evaluated by the inner evaluator.
	Misses int
	// Duplicates repeated an id earlier in the same batch and were answered
	// from that candidate's evaluation.
	Duplicates int
}

// Cache is an evaluator that answers candidates whose id is in its store
// without evaluating them and evaluates the rest through the inner
// evaluator, storing the results. Ids are population.ID of the genome with
// the cache's evaluation spec and version, so a cache never answers for
// another evaluator, benchmark or merge. Within a batch a repeated id is
// evaluated once. Cache implements search.Evaluator; one Evaluate call runs
// at a time.
type Cache struct {
	inner         search.Evaluator
	store         Store
	spec, version string

	mu    sync.Mutex
	stats CacheStats
}

// NewCache wraps inner. spec and version must be the ones the run gives
// search.Settings (EvalSpec, Version).
func NewCache(inner search.Evaluator, store Store, spec, version string) (*Cache, error) {
	if inner == nil || store == nil {
		return nil, errors.New("evaluate: a cache needs an inner evaluator and a store")
	}
	if spec == "" || version == "" {
		return nil, errors.New("evaluate: a cache needs the evaluation spec and version that identify its results")
	}
	return &Cache{inner: inner, store: store, spec: spec, version: version}, nil
}

// NewIdentifiedCache wraps an evaluator that knows its own spec and version.
func NewIdentifiedCache(inner interface {
	search.Evaluator
	Identified
}, store Store) (*Cache, error) {
	return NewCache(inner, store, inner.EvalSpec(), inner.Version())
}

// EvalSpec returns the cache's evaluation spec.
func (c *Cache) EvalSpec() string { return c.spec }

// Version returns the cache's version.
func (c *Cache) Version() string { return c.version }

// Stats returns the counts so far.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Evaluate implements search.Evaluator. A candidate whose ID is set must
// carry the id the cache computes (otherwise the run and the cache disagree
// on the evaluation spec, an error); an empty ID is filled in. Results of
// the inner evaluator are stored as they are (failed ones included, so a
// resumed run replays them); candidates it left pending are not.
func (c *Cache) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	ids := make([]string, len(batch))
	for i, cand := range batch {
		id, err := population.ID(cand.Genome, c.spec, c.version)
		if err != nil {
			return fmt.Errorf("evaluate: cache: candidate %d: %w", i, err)
		}
		if cand.ID != "" && cand.ID != id {
			return fmt.Errorf("evaluate: cache: candidate %d has id %s but its genome, evaluation spec and version give %s: give search.Settings the evaluator's EvalSpec and Version", i, cand.ID, id)
		}
		cand.ID = id
		ids[i] = id
	}
	var (
		misses []*population.Candidate
		first  = map[string]int{} // id -> index in batch of its first miss
		dups   []int
		stats  CacheStats
	)
	for i, cand := range batch {
		if _, seen := first[ids[i]]; seen {
			dups = append(dups, i)
			continue
		}
		stored, ok, err := c.store.Lookup(ids[i])
		if err != nil {
			return fmt.Errorf("evaluate: cache lookup of %s: %w", ids[i], err)
		}
		if ok && stored.Status != population.StatusPending {
			copyResult(cand, stored)
			stats.Hits++
			continue
		}
		first[ids[i]] = i
		misses = append(misses, cand)
	}
	var evalErr error
	if len(misses) > 0 {
		evalErr = c.inner.Evaluate(ctx, misses)
	}
	for _, cand := range misses {
		if cand.Status == population.StatusPending {
			continue
		}
		stats.Misses++
		if err := c.store.Store(cand); err != nil {
			return errors.Join(evalErr, fmt.Errorf("evaluate: cache store of %s: %w", cand.ID, err))
		}
	}
	for _, i := range dups {
		src := batch[first[ids[i]]]
		if src.Status == population.StatusPending {
			continue
		}
		copyResult(batch[i], src)
		stats.Duplicates++
	}
	c.mu.Lock()
	c.stats.Hits += stats.Hits
	c.stats.Misses += stats.Misses
	c.stats.Duplicates += stats.Duplicates
	c.mu.Unlock()
	return evalErr
}

// copyResult gives dst a deep copy of src's results.
func copyResult(dst, src *population.Candidate) {
	r := src.Clone()
	dst.Scores, dst.Correct, dst.Status, dst.Error = r.Scores, r.Correct, r.Status, r.Error
}

// MemoryStore is an in-memory Store, safe for concurrent use.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]*population.Candidate
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]*population.Candidate{}} }

// Lookup implements Store; it returns a copy.
func (s *MemoryStore) Lookup(id string) (*population.Candidate, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if !ok {
		return nil, false, nil
	}
	return c.Clone(), true, nil
}

// Store implements Store; it keeps a copy.
func (s *MemoryStore) Store(c *population.Candidate) error {
	if c.ID == "" {
		return errors.New("evaluate: storing a candidate without an id")
	}
	if c.Status != population.StatusOK && c.Status != population.StatusFailed {
		return fmt.Errorf("evaluate: storing candidate %s with status %q: only evaluated candidates are stored", c.ID, c.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[c.ID] = c.Clone()
	return nil
}

// Len is the number of stored candidates.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// IDs lists the stored ids in order.
func (s *MemoryStore) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(func(yield func(string) bool) {
		for id := range s.m {
			if !yield(id) {
				return
			}
		}
	})
}

var _ search.Evaluator = (*Cache)(nil)
