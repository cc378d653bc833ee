// Package rng derives every random stream of evomerge from one master seed.
//
// Contract: a stream is identified by the master seed and a path of names
// (for example New(seed, "operators/dare", "model-2", "layers.3.weight")).
// The same seed and path always give the same sequence, different paths give
// statistically independent sequences, and no stream depends on the order in
// which other streams were created or consumed. There is no package-level
// generator and nothing is ever seeded from the clock, so results do not depend
// on scheduling, worker count or wall time.
//
// Streams are math/rand/v2 PCG generators. V1 adapts a stream to the
// math/rand (v1) Source interface for libraries that still need it.
package rng

import (
	"crypto/sha256"
	"encoding/binary"
	randv1 "math/rand"
	"math/rand/v2"
)

// Derive returns the 64-bit seed of the stream named by path under the master
// seed. It is a cryptographic hash of the seed and the path, so nearby seeds and
// similar names give unrelated streams. Names are length-prefixed, so
// ("ab","c") and ("a","bc") are different paths.
func Derive(seed uint64, path ...string) uint64 {
	a, _ := derive2(seed, path)
	return a
}

func derive2(seed uint64, path []string) (uint64, uint64) {
	h := sha256.New()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], seed)
	h.Write(buf[:])
	for _, name := range path {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(name)))
		h.Write(buf[:])
		h.Write([]byte(name))
	}
	sum := h.Sum(nil)
	return binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])
}

// New returns a fresh generator for the stream named by path under seed.
func New(seed uint64, path ...string) *rand.Rand {
	return rand.New(NewSource(seed, path...))
}

// NewSource returns the PCG source behind New, for APIs (such as gonum's) that
// take a rand.Source rather than a *rand.Rand.
func NewSource(seed uint64, path ...string) *rand.PCG {
	a, b := derive2(seed, path)
	return rand.NewPCG(a, b)
}

// v1Source adapts a math/rand/v2 source to math/rand's Source64.
type v1Source struct{ src rand.Source }

func (s v1Source) Int63() int64    { return int64(s.src.Uint64() >> 1) }
func (s v1Source) Uint64() uint64  { return s.src.Uint64() }
func (s v1Source) Seed(seed int64) {}

// V1 returns a math/rand (v1) generator that draws from the named stream.
// Seeding the returned generator again has no effect: the stream is fixed by
// (seed, path).
func V1(seed uint64, path ...string) *randv1.Rand {
	return randv1.New(v1Source{NewSource(seed, path...)})
}
