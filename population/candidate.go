package population

import (
	"fmt"
	"math/bits"
	"slices"
)

// Status is the evaluation state of a candidate.
type Status string

// Candidate states.
const (
	// StatusPending: proposed, not evaluated yet.
	StatusPending Status = "pending"
	// StatusOK: evaluated; Scores holds one value per objective.
	StatusOK Status = "ok"
	// StatusFailed: the evaluation failed; Error says why. A failed
	// candidate ranks below every successful one.
	StatusFailed Status = "failed"
)

// Lineage records where a candidate came from.
type Lineage struct {
	// Parents are the ids of the candidates it was bred from (none for
	// initial or sampled candidates).
	Parents []string `json:"parents,omitempty"`
	// Operator names the variation that produced it, e.g. "sbx+pm",
	// "split-slerp", "sample".
	Operator string `json:"operator,omitempty"`
	// Generation is the search round (Ask/Tell cycle) it was proposed in,
	// counting from 0.
	Generation int `json:"generation"`
}

// Candidate is one proposed merge and, once evaluated, its results.
type Candidate struct {
	// ID is the candidate identity: the sha256 of the canonical genome, the
	// evaluation spec and the evaluator and benchmark version, computed by ID.
	ID      string  `json:"id"`
	Genome  Genome  `json:"genome"`
	Lineage Lineage `json:"lineage"`
	// Scores has one value per objective, in objective order (nil unless
	// Status is StatusOK).
	Scores []float64 `json:"scores,omitempty"`
	// Correct holds per-example correctness per task when the evaluator
	// provides it (M2N2 needs it).
	Correct []TaskCorrectness `json:"correct,omitempty"`
	Status  Status            `json:"status"`
	// Error is the reason of a failure.
	Error string `json:"error,omitempty"`
}

// OK reports whether the candidate was evaluated successfully.
func (c *Candidate) OK() bool { return c.Status == StatusOK }

// Fail marks the candidate failed with the error's text and clears its
// results.
func (c *Candidate) Fail(err error) {
	c.Status = StatusFailed
	c.Scores = nil
	c.Correct = nil
	c.Error = err.Error()
}

// Clone returns a deep copy.
func (c *Candidate) Clone() *Candidate {
	out := *c
	out.Genome = c.Genome.Clone()
	out.Lineage.Parents = slices.Clone(c.Lineage.Parents)
	out.Scores = slices.Clone(c.Scores)
	if c.Correct != nil {
		out.Correct = make([]TaskCorrectness, len(c.Correct))
		for i, tc := range c.Correct {
			out.Correct[i] = TaskCorrectness{Task: tc.Task, Bits: tc.Bits.Clone()}
		}
	}
	return &out
}

// TaskCorrectness is the per-example correctness of one task.
type TaskCorrectness struct {
	Task string `json:"task"`
	Bits Bitset `json:"bits"`
}

// Bitset is a fixed-length set of booleans packed 64 to a word. Bit i is
// word i/64, bit i%64 (least significant first); bits past Len are zero.
type Bitset struct {
	N     int      `json:"n"`
	Words []uint64 `json:"words"`
}

// NewBitset returns n false bits.
func NewBitset(n int) Bitset {
	return Bitset{N: n, Words: make([]uint64, (n+63)/64)}
}

// BitsetOf packs bools.
func BitsetOf(values []bool) Bitset {
	b := NewBitset(len(values))
	for i, v := range values {
		if v {
			b.Words[i>>6] |= 1 << (uint(i) & 63)
		}
	}
	return b
}

// Len is the number of bits.
func (b Bitset) Len() int { return b.N }

// Get returns bit i. It panics when i is out of range (a programmer error).
func (b Bitset) Get(i int) bool {
	if i < 0 || i >= b.N {
		panic("population: bit index out of range")
	}
	return b.Words[i>>6]&(1<<(uint(i)&63)) != 0
}

// Set sets bit i to v. It panics when i is out of range.
func (b Bitset) Set(i int, v bool) {
	if i < 0 || i >= b.N {
		panic("population: bit index out of range")
	}
	if v {
		b.Words[i>>6] |= 1 << (uint(i) & 63)
	} else {
		b.Words[i>>6] &^= 1 << (uint(i) & 63)
	}
}

// Count is the number of true bits.
func (b Bitset) Count() int {
	n := 0
	for _, w := range b.Words {
		n += bits.OnesCount64(w)
	}
	return n
}

// BoolsTo writes the bits into dst (len(dst) = Len) and returns it; dst is
// allocated when nil.
func (b Bitset) BoolsTo(dst []bool) []bool {
	if dst == nil {
		dst = make([]bool, b.N)
	}
	if len(dst) != b.N {
		panic("population: length mismatch")
	}
	for i := range dst {
		dst[i] = b.Words[i>>6]&(1<<(uint(i)&63)) != 0
	}
	return dst
}

// Clone returns a copy.
func (b Bitset) Clone() Bitset { return Bitset{N: b.N, Words: slices.Clone(b.Words)} }

// Validate checks that the word count matches N and no bit past N is set
// (for bitsets read from files).
func (b Bitset) Validate() error {
	if b.N < 0 || len(b.Words) != (b.N+63)/64 {
		return fmt.Errorf("population: bitset of %d bits has %d words, want %d", b.N, len(b.Words), (b.N+63)/64)
	}
	if r := b.N & 63; r != 0 && b.Words[len(b.Words)-1]>>uint(r) != 0 {
		return fmt.Errorf("population: bitset of %d bits has bits set past its length", b.N)
	}
	return nil
}
