// Package population describes what a search explores and what it has found.
//
// A Space is a list of named, bounded dimensions (float, int or choice) with
// defaults (operators/searchspace derives one from an operator's parameter
// specifications; population itself knows nothing of operators, models or
// tensors). Methods search in the unit cube: EncodeTo
// and DecodeTo map between it and the space (int and choice dimensions use
// equal cells per level, so uniform samples give uniform levels).
//
// A Genome is plain data: either a coefficient vector over a Space (in space
// units), or a Recipe (parent candidate ids, a crossover operator name and
// its numeric parameters). A Candidate carries its id, genome, lineage
// (parents, operator, generation), scores per objective, per-example
// correctness per task (a Bitset) when the evaluator provides it, and its
// status (pending, ok, failed) and error text.
//
// # Contract
//
//   - Genomes and candidates are values without behaviour tied to models or
//     tensors; they serialise to JSON losslessly, so the journal, the cache and
//     remote workers see exactly what the search produced.
//   - A genome has one canonical JSON encoding (CanonicalJSON): fixed key
//     order, no whitespace, floats as strconv 'g' with precision -1 (shortest
//     exact round trip), -0 written as 0, non-finite numbers rejected.
//   - A candidate's id is the hex sha256 of the canonical JSON object
//     {"genome":…,"spec":…,"version":…}: the canonical genome, the evaluation
//     spec and the evaluator and benchmark version; it keys the journal,
//     the evaluation cache and the distributed result store, and equal
//     recipes get equal ids on every machine.
//   - Errors a user or input can cause name the dimension, parameter or
//     target concerned; panics are reserved for programmer errors such as
//     passing a point of the wrong length to an in-place kernel.
//   - Space and Mapping are immutable after construction and safe for
//     concurrent use; ClampTo, EncodeTo and DecodeTo do not allocate.
package population
