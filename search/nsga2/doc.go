// Package nsga2 implements NSGA-II (Deb, Pratap, Agarwal, Meyarivan 2002),
// the multi-objective search method.
//
// The method works in the unit cube of the search space and decodes each
// point into the genome's values. The first batch is the initial population
// (given points, then uniform samples); every later batch is μ offspring
// made by binary tournament on (rank, crowding distance), simulated binary
// crossover (η_c) and polynomial mutation (η_m), both bounded to [0, 1] as in
// Deb's reference code. Tell performs elitist (μ+λ) survival: the union of
// parents and offspring is sorted into non-dominated fronts with
// fitness.Sorter, whole fronts are kept while they fit and the last one is
// cut by descending crowding distance.
//
// # Contract
//
//   - Failed candidates rank below every successful one (a last front of
//     their own); they survive only while there are not enough successful
//     candidates to fill the population.
//   - Deterministic: randomness comes from internal/rng streams
//     ("search/nsga2", "init") and ("search/nsga2", "generation", g); ties
//     are broken by position (parents before offspring, batch order). The
//     same seed and the same told scores give the same asked genomes,
//     whatever the evaluator's concurrency.
//   - Tell must receive exactly the candidates of the last Ask, in order.
//   - Survival reuses its buffers across generations.
package nsga2
