// Package fitness is the math of judging candidates: objectives and their
// directions, Pareto dominance, non-dominated sorting, crowding distance,
// hypervolume (exact in any number of objectives, a seeded Monte Carlo
// estimate with error bounds, per-point contributions), IGD/IGD+/GD,
// weighted-sum and Chebyshev scalarisation, normalisation, normalized
// accuracy against the experts, and the resource-competition fitness of M2N2. It works on plain
// float64 score vectors and knows nothing about models, tensors or searches.
//
// # Conventions
//
// A score vector holds one value per objective, in the objective's own units
// (accuracy as accuracy, loss as loss). Each objective has a Direction,
// Maximize or Minimize; functions take the directions as a []Direction
// parallel to the score vector, and a nil slice means every objective is
// minimised. Internally every score is turned into a cost (the value for
// Minimize, its negation for Maximize), so "better" always means "smaller
// cost". A NaN score (a failed or missing evaluation) costs +Inf: it is worse
// than every number in either direction.
//
// A reference point (hypervolume) is given in the objectives' own units and
// must be finite; it should be slightly worse than every point of interest
// (for accuracies in [0, 1] that are maximised, 0 or a little below the worst
// expected accuracy). Points that are not strictly better than the reference
// point on every objective contribute no volume.
//
// Scalarisations (WeightedSum, Chebyshev) return costs: lower is better.
//
// # Errors and panics
//
// Anything that comes from configuration or data (reference points, weights,
// expert accuracies, archive score matrices, empty sets) is checked and
// reported as an error that names the offending index. Mismatched slice
// lengths in the hot-path functions (Dominates, Sorter.Sort, crowding,
// scalarisation, the ...To helpers' dst) and invalid Direction values passed
// without validation are programmer errors and panic with a "fitness:" prefix;
// check objectives with ValidateObjectives and weights with ValidateWeights
// at configuration time.
//
// # Complexity
//
// For N points of M objectives: Dominates O(M); non-dominated sorting O(M·N²)
// time and O(N²) memory in the worst case; ParetoFront O(M·N²); crowding
// O(M·N log N); exact hypervolume O(N log N) for M = 2, O(N log N)
// comparisons plus O(N²) element moves for M = 3, O(N² log N) for M = 4
// (slicing) and WFG for M ≥ 5 (exponential in M in the worst case, fast in
// practice); the Monte Carlo estimate O(samples·N·M) spread over all cores; IGD, IGD+ and GD O(M·|A|·|R|); competition fitness O(P·N) for P
// models scored on N datapoints.
//
// # Determinism
//
// Every function is a deterministic function of its inputs: ties are broken
// by index (fronts list indices in ascending order; sorting by an objective
// orders equal values by index; Competition.Worst returns the lowest index),
// and sums run in a fixed order. The Monte Carlo hypervolume draws its samples
// in fixed blocks, each from its own internal/rng stream derived from the
// caller's seed, so its result does not depend on the number of cores.
//
// # Buffers and aliasing
//
// Functions named ...To write into a dst slice given first, allocate it when
// it is nil, and return it. Sorter and Competition keep work buffers between
// calls; they are not safe for concurrent use (use one per goroutine). Costs
// returns its input unchanged when no conversion is needed, so its result
// must be treated as read-only.
package fitness
