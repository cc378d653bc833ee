// Package lineage is the evaluator of M2N2's recipe genomes: it materialises
// a child from its parents' weights with the operators' "m2n2" split-point
// SLERP crossover (plus Gaussian mutation for from-scratch runs) into a
// per-worker internal/model network and scores it on the fitness examples with
// per-example correctness.
//
// Genomes it understands:
//
//   - a coefficient vector [i] of m2n2.SeedSpace: the i-th seed model given
//     to New (random initialisations from scratch, the specialists when
//     merging pre-trained models);
//   - a recipe "m2n2" with two parent candidate ids and the parameters of
//     search/m2n2 (split, ratio, segment, sigma, noise). The child is
//     operators.M2N2Crossover of the parents over the canonical flattened
//     order (tensors in checkpoint.SortNames order, every tensor merged, the
//     classifier head included), then, when sigma > 0, every parameter gets
//     N(0, σ²) noise from the stream rng.New(noise, "evaluate/lineage",
//     "mutation", candidate id). Rebuilding a child from its recipe
//     therefore gives the same weights bit for bit.
//
// # Storage of parent weights
//
// A child can only be made from parents whose weights the evaluator can
// reach. Three storages, chosen by Config.Storage:
//
//   - StorageRAM (default): every evaluated model's flattened weights stay
//     in memory until ArchiveChanged (search/m2n2's Observer) says they are
//     no longer in the archive. Use it whenever P + BatchSize models fit in
//     RAM: the M2N2 benchmarks (19,210 parameters, 77 KB a model) and models
//     up to a few hundred million parameters.
//   - StorageRebuild: only recipes are kept (a few hundred bytes each) plus a
//     least-recently-used cache of CacheSize weight vectors; a parent that is
//     not cached is rebuilt from its lineage (recursively down to cached
//     ancestors or the seeds). Use it when memory holds fewer than P models
//     but recomputing merges is cheap, and to continue from a journal that
//     holds only recipes. Rebuilding costs one merge per missing ancestor.
//   - StorageDisk: every archive member is written to Dir/<id>.safetensors
//     (atomically) and read back through the memory-mapped checkpoint reader
//     when it is a parent; files of models that left the archive are
//     deleted. Use it for models too large to keep P copies in RAM, with the
//     archive on a fast disk.
//
// # Contract
//
//   - Deterministic: a candidate's scores and weights depend only on its
//     genome, its id and its parents' weights, never on the worker count or
//     completion order.
//   - A candidate whose parent is unknown, or whose recipe is malformed, is
//     failed with the reason; Evaluate returns an error only when ctx is
//     cancelled.
//   - Scores hold one accuracy per task, in task order; Correct holds the
//     per-example correctness of every task.
package lineage
