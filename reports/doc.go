// Package reports renders run records as self-contained HTML pages.
//
// A report shows the Pareto front, progress (hypervolume and best scores
// against evaluations and wall time), the front as a sortable table with
// validation and held-out test scores, per-layer coefficients, the
// sections the search method contributes and run facts. Pages are built
// with go-echarts; the ECharts script is inlined from the statsview module
// so a report opens from disk with no network.
//
// The input is plain data (Run): the caller converts a run directory into
// it, so this package reads no files and does not depend on the run
// package. Render writes the page; RenderOptions adds the live view's
// polling.
//
// # Sections
//
// What is particular to a search method is a list of Sections in the Run
// (Run.Sections), plus method facts (Run.Facts): the page has no field and
// no branch per algorithm. A Section is a title, an explanation, charts
// (LineChart, HeatmapChart, ScatterChart) and tables, drawn in order after
// the coefficients. The built-in methods' sections are made by one builder
// each, from the data a run records in views.json (Views):
// ArchiveSection (M2N2), SurrogateSection (MAP), TrajectorySection
// (AdaMerging) and FrankWolfeSection (FW-Merging). Run.Validate checks
// every section (kinds unique, chart ids unique and not the page's own,
// chart data consistent).
//
// # Contract
//
//   - A report is a pure function of its Run: the same run always renders
//     the same bytes (chart ids are fixed, map keys are sorted, no clock is
//     read). Golden tests hold the page minus the inlined ECharts script.
//   - One self-contained file: ECharts 4.1.0 (statics.EchartJS of
//     github.com/go-echarts/statsview v0.3.4) is inlined; no <script src>,
//     <link> or URL is written (ECharts itself holds namespace URLs it
//     never fetches), and a Content-Security-Policy forbids every load. A static report never fetches anything; a live page (Options.
//     PollURL) polls only its own server.
//   - Every model, task, objective and run name is escaped: by html/template
//     in HTML, and in scripts by encoding/json with HTML escaping (so <, >
//     and & become \u003c, \u003e, \u0026 and no string can end a <script>).
//     Chart options reference the page's formatter functions only through
//     exact marker strings (see fn), so data never becomes code. Tooltip
//     formatters escape everything they show, since ECharts renders
//     tooltips as HTML.
//   - Reports say which scores come from the fitness split (validation:
//     what the search optimised) and which from held-out test data (scored
//     only for final front members). Methods that read unlabelled test
//     inputs (AdaMerging) are flagged in their section, and Run.Note (a
//     caveat the method attaches to every output) is shown under the page
//     header; the AdaMerging section and its run fact (AdaptationFact)
//     name the split it adapted on.
//   - A score that is not known is NaN. Tables show a test or reference
//     column only when some row has a score there (no column of dashes).
//     A reference scored on both objectives of a Pareto chart is a point;
//     one scored on a single objective (an expert on its own task) is a
//     dashed line at that score, the axis widened to show it.
//   - Until a run writes its final front, the front shown is the
//     non-dominated set of its scored candidates, marked as such, with test
//     scores pending.
//
// # Charts and ECharts 4.1
//
// go-echarts v2.6.7 targets ECharts 5; the options used here were checked
// to render under 4.1 in headless Chromium (scatter, line, parallel
// coordinates, heatmap with a continuous visual map). Two go-echarts
// quirks are worked around: HeatMap.Validate drops SetXAxis data (the
// categories go into the axis options instead), and omitempty drops zero
// values (parallel axis dim 0, visual-map bounds), so those parts of the
// option object are written here. Chart scripts are built from the chart's
// JSON() rather than go-echarts' templates, whose JSON is not HTML-escaped.
// Under ECharts 4.1, dispatchAction "showTip" on a parallel series throws,
// so the browser test checks tooltips on a scatter chart.
//
// Progress curves sample at most maxProgressPoints evaluations; the
// hypervolume uses one reference point for the whole page (the nadir of
// all scores and references pushed out by 10% of each range) and is
// computed with fitness.Hypervolume on an incrementally kept
// non-dominated set.
package reports
