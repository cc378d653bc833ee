// Package population describes what a search explores and what it has found.
//
// A Space is a list of named, bounded dimensions derived from the merge
// operator's parameter specifications (a coefficient per model, per layer
// group, ...). A Genome is plain data: either a coefficient vector over a
// Space, or a recipe (parent candidates plus crossover parameters). A
// Candidate carries its id, genome, lineage (parents, operator), scores per
// objective, per-example correctness when the evaluator provides it, and its
// status and error.
//
// # Contract
//
//   - Genomes and candidates are values without behaviour tied to models or
//     tensors; they serialise to JSON losslessly, so the journal, the cache and
//     remote workers see exactly what the search produced.
//   - A candidate's id is the sha256 of its canonical recipe, the evaluation
//     spec and the evaluator and benchmark version (DESIGN.md, "Candidate
//     identity"); equal recipes get equal ids on every machine.
package population
