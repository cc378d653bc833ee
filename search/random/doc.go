// Package random is the random-search baseline: every batch is sampled
// independently in the unit cube, uniformly or as a Latin hypercube, and
// decoded into the search space.
//
// # Contract
//
//   - Samples depend only on the seed and the batch number: the stream is
//     internal/rng's ("search/random", batch).
//   - Tell ignores results (failed candidates included); random search never
//     finishes on its own, the Run loop's budget stops it.
package random
