// Package lab is claims, bench operators and bench perf: experiments, not
// product.
//
// It holds the experiments behind `evomerge claims NAME`, `evomerge bench
// operators` and `evomerge bench perf`: reproductions of published claims on
// the built-in benchmarks, a table of every merge operator on mnist-tasks,
// and speed measurements of the kernels. cmd/evomerge parses their flags and
// calls [RunClaim], [BenchOperators] and [Perf]; nothing else imports lab,
// and no product behaviour (run, resume, merge, eval, export, report,
// serve, worker) depends on it.
//
// # Contract
//
//   - Options have no defaults here: the caller passes every value (the
//     command line's defaults live with its flags). Every entry point checks
//     its options before it prepares or loads anything and refuses invalid
//     ones with an error naming the option and the accepted range.
//
//   - Tables and figures go to the options' Output writer; progress goes to
//     Log. A nil writer discards.
//
//   - With ResultsFile set, an experiment writes its markdown table into that
//     file between its own pair of HTML-comment markers (the M2N2/MAP,
//     AdaMerging/FW and operators sections; their Begin and End constants),
//     replacing its previous table and leaving the rest of the file as it
//     was. A missing file starts as a "# Results" title; a file holding one
//     marker of a pair, or the pair out of order, is refused untouched. The
//     file is replaced atomically.
//
//   - Results are reproducible from the command line recorded with them
//     (Command) and the seeds; only the wall times differ between runs.
//     Choices of coefficients and members are made on the fitness or
//     validation split; test scores are measured after the choice. The
//     AdaMerging rows are the exception the paper defines (entropy on the
//     unlabelled test inputs: test-time adaptation), and their tables say so.
//
//   - Benchmarks come from internal/benchmarks: prepared (trained and cached) on
//     first use, with the tiny smoke recipe when Smoke is set, except
//     bench perf, which only opens a prepared mnist-tasks and reports it
//     skipped otherwise.
//
//   - [Perf] sets GOMAXPROCS to its Threads for the duration of the call.
package lab
