// Package searchtest holds synthetic optimisation problems with known optima
// and Pareto fronts (sphere, ellipsoid, Rastrigin, Rosenbrock, ZDT1-3) and an
// Evaluator that scores candidates with them, optionally concurrently in
// random completion order and with injected failures. Search methods are
// tested on them before any model exists.
//
// # Contract
//
//   - Problems are pure functions of the point: no state, safe for
//     concurrent use.
//   - The Evaluator writes results by batch index. Which candidates fail
//     depends only on FailSeed and the candidate id, so a run is reproducible
//     whatever the number of workers.
package searchtest
