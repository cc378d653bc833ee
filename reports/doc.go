// Package reports renders run records as self-contained HTML pages.
//
// A report shows the Pareto front, progress (hypervolume and best scores
// against evaluations), the front as a table with validation and held-out
// test scores, per-layer coefficients, algorithm-specific views and run
// facts. Pages are built with go-echarts; the ECharts script is inlined from
// the statsview module so a report opens from disk with no network.
//
// # Contract
//
//   - A report is a pure function of the run directory's records: the same
//     journal always renders the same page (chart ids are deterministic).
//   - Every model, task and run name is escaped before it reaches HTML or
//     script context.
//   - Reports say which scores come from the fitness split and which from
//     held-out test data.
package reports
