// Package run is the composition root of evomerge: it turns a validated
// configuration into components (model pool, operator, search method,
// evaluator, recorders), executes sessions that write the run directory
// through internal/rundir (resolved config, journal, state, front, views,
// exports), and implements resume as replay.
//
// # Composition
//
// An experiment (configs.Experiment) becomes: a prepared benchmark
// (benchmarks.Prepare, trained and cached the first time) and its tasks
// (internal/tasks), a model pool read lazily through the checkpoints'
// memory maps (the benchmark's base and experts, or checkpoints on disk), the merge
// operator from operators.Builtin, the search space derived from its
// parameter specifications (searchspace.Derive; per_group expands to
// every layer group of the merged tensors), the objectives ("all" expands to
// one per task), the evaluator built by its kind's registry entry
// (internal/registry) and wrapped by the journal (native; command; or nats:
// an evaluate/nats coordinator, started for each session, whose workers
// build the run's inner evaluator kind from a content-addressed setup, so
// ids agree everywhere), the search method, and search.Run with recorders that
// write state.json, log.jsonl and progress.
//
// # Algorithms
//
//   - random, nsga2, ga, cmaes: ask/tell over the space [[merge.search]]
//     derives. Their start_points may name "adamerging:<dir>": the
//     coefficients an AdaMerging run learned, matched by dimension name.
//   - map (search/mapmerge, plain or nested): ask/tell over the same space;
//     it stops by itself after its design and re-evaluations.
//   - m2n2 (search/m2n2): recipe genomes scored by evaluate/lineage on the
//     fitness split; seeds are the benchmark's trained models
//     (m2n2-specialists) or random N(0, σ²) models (m2n2-scratch). Objectives
//     must be per-task accuracies. The front is the non-dominated part of the
//     final archive (members that left it are released).
//   - adamerging and fw run their optimisation (Adam on coefficients;
//     Frank-Wolfe iterations) inside search.Run, on the gradient or
//     alignment evaluator the composition root builds for them, then ask
//     its result as one candidate: task arithmetic (λ = 1) with one weight per pool model and
//     tensor (or layer group, or task), named as gradient.Layout names them.
//     FW's merge is tracked as such weights through its task-arithmetic
//     steps and checked against the evaluator's merged model; its pool is
//     streamed from the checkpoint files, and [[models.experts]] given with a
//     benchmark (and no models.base) join the benchmark's experts. The TIES
//     update rule is not wired: its steps are not task-arithmetic
//     combinations of the pool, so the result could not be journaled as a
//     genome. AdaMerging with
//     seed_search continues with NSGA-II or CMA-ES started at that point.
//     AdaMerging (and FW-Soft's inner AdaMerging) read unlabelled TEST inputs
//     by default (test-time adaptation): the log, the printed summary,
//     front.json ("note") and the report say so.
//
// # Run directory
//
// The files, their formats and their readers and writers are
// internal/rundir's (its package documentation states the contract). A
// session writes config.toml (Start: the resolved
// experiment, defaults filled in and input paths made absolute; resume
// rebuilds everything from it, and problems found while a run is built
// name the user's file and line, not this copy), a journal record as each
// evaluation finishes (the journal wraps the evaluator; see Contract),
// state.json after every batch, and at the end front.json, adamerging.json
// or fw.json, views.json, and report.html through Options.RenderReport,
// the one hook for an HTML renderer (rundir.RenderReport). Export builds a
// journaled candidate's merge and writes it into exports/<id> (or --out)
// with the recipe that reproduces it; without a candidate id it takes the
// chosen front member (rundir.ChosenMember).
//
// # Contract
//
//   - The chosen front member (the one the summary names, status and the
//     report mark, export takes by default) is picked on fitness-split
//     scores only: the lowest scalarised cost for ga and cmaes, else the
//     highest mean normalized accuracy, or [report] choose. Test scores are
//     measured after the choice and never select.
//
//   - The first failed write to the run directory stops the session with
//     that error (rundir.WriteError: the file and the OS error); later
//     failures are added after it, state.json is marked failed when
//     possible and front.json is not written.
//
//   - search.concurrency and population sizes whose buffers would not fit
//     the machine's available memory are refused before anything is
//     allocated, naming the key and the memory they would need.
//
//   - Only cmd/evomerge imports this package.
//
//   - Resuming replays the same seed and the same Ask sequence; the journal is
//     the evaluation store, answering every candidate whose id it holds, so an
//     interrupted run (Ctrl-C, SIGTERM, kill -9) and an uninterrupted one end
//     with the same front. New evaluations are journaled in chunks of the
//     evaluator's concurrency, so a crash loses at most one chunk.
//
//   - search.max_time counts evaluation time from the journal, so a replay
//     reaches the budget at the same candidate; only evaluation and generation
//     budgets give the same front on every machine.
//
//   - Cancellation stops asking, leaves unfinished evaluations unjournaled,
//     and still writes state.json and front.json (without test scores).
//
//   - AdaMerging and FW-Merging save their state in state.json as they go
//     (search.Stateful); a resumed run restores it and continues from the
//     last saved step (AdaMerging's batch stream is advanced past the steps
//     taken; FW replays its saved iterations' moves), so it learns exactly
//     what an uninterrupted run learns. adamerging.json and fw.json record
//     the result; a run directory of an older version, which has them but no
//     saved state, restores from them. The candidate and any seeded search
//     then replay from the journal like any run.
//
//   - M2N2 replays like any ask/tell method. With storage "ram" a resumed
//     session keeps parents as lineage recipes instead ("rebuild"): the
//     journaled candidates were not evaluated in this session, so their
//     weights are rebuilt from their recipes when they are parents (bit for
//     bit the same).
package run
