// Package ga is a single-objective genetic algorithm on eaopt v0.4.2, for
// problems whose objectives are scalarised (search.Scalarization: weighted
// sum or Chebyshev with a fixed ideal point).
//
// # Design: eaopt's loop behind ask/tell
//
// eaopt.GA.Minimize runs its own generational loop and evaluates
// individuals synchronously. The method runs Minimize on one goroutine with a
// model that wraps eaopt.ModGenerational (tournament selection, crossover
// rate, mutation rate): after the inner model has made the offspring, the
// wrapper collects every offspring that needs evaluating, in population
// order, hands them to Ask as one batch, and blocks until Tell has stored
// each candidate's cost in its genome. eaopt then "evaluates" them: our
// genome's Evaluate only returns the told cost, and returns an error if none
// was told, so a stale cached fitness cannot pass unnoticed. The initial
// population is sampled by the method (first batch) and handed to eaopt
// already evaluated. Elitism: the best Elite individuals of a generation
// replace the worst offspring of the next.
//
// # Contract
//
//   - eaopt pitfalls avoided (style-anchors §3): our genome's Crossover
//     (BLX-α) writes only into the receiver and reads the mate; mutation is
//     Gaussian with an absolute σ in unit-cube coordinates and clamped to
//     [0, 1]; ModRing is not used; eaopt's RNG is rng.V1(seed, "search/ga",
//     "eaopt") and the initial population comes from ("search/ga", "init");
//     evaluation is never parallel inside eaopt (batches are evaluated by the
//     search's evaluator), NPops is 1.
//   - Deterministic: the engine goroutine is the only actor between Tell
//     and the next Ask, so the same seed and told scores give the same
//     batches, whatever the evaluator's concurrency.
//   - Failed candidates cost +Inf (worst).
//   - Close (called by search.Run) stops the engine goroutine; Init stops a
//     previous one.
package ga
