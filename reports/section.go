package reports

import (
	"fmt"
	"math"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// Section is one method-specific part of a report: what a search method's
// view of its own work contributes (the M2N2 archive, MAP's surrogate,
// AdaMerging's trajectory, FW-Merging's selections). It is plain data: a
// title, an explanation, charts and tables, drawn after the coefficients
// in the order Run.Sections lists them. The section builders of this
// package (ArchiveSection, SurrogateSection, TrajectorySection,
// FrankWolfeSection) make the built-in ones; any method can build its own
// from the chart kinds here.
type Section struct {
	// Kind names what the section shows ("m2n2_archive", ...): unique
	// within a run, it identifies the section to its readers and tests
	// (the page does not show it).
	Kind string
	// Title is the section's heading.
	Title string
	// Note explains what the section shows; empty: no explanation.
	Note string
	// Charts are drawn in order: *LineChart, *HeatmapChart or
	// *ScatterChart.
	Charts []Chart
	// Tables are shown after the charts.
	Tables []Table
}

// Chart is one chart of a Section: a *LineChart, *HeatmapChart or
// *ScatterChart (the interface is closed: the page knows how to draw
// exactly these).
type Chart interface {
	// ChartID is the chart's element id: unique within the page, and not
	// one the page's own charts use ("pareto", "pareto_…", "progress_…",
	// "coefficients_…").
	ChartID() string
	check() error
	draw(tips *tipItems) (chartBlock, error)
}

// LineChart draws curves over a value x axis; points with a NaN or
// infinite coordinate are left out.
type LineChart struct {
	ID, Title, Subtitle string
	// XName and YName are the axis titles.
	XName, YName string
	Series       []LineSeries
}

// LineSeries is one curve of a line chart.
type LineSeries struct {
	Name string
	// X and Y are the points' coordinates (the same length).
	X, Y []float64
	// Color is a CSS colour; empty: the chart palette's next.
	Color string
	// Dashed draws a dashed line.
	Dashed bool
}

// HeatmapChart draws values in the cells of a grid of category axes with
// one continuous colour scale from Min to Max.
type HeatmapChart struct {
	ID, Title, Subtitle string
	// Cols and Rows are the category labels of the x and y axes.
	Cols, Rows []string
	// Cells are the cells with a value; the others stay empty.
	Cells    []HeatCell
	Min, Max float64
}

// HeatCell is one cell of a heatmap: column index, row index and value.
type HeatCell struct {
	X, Y  int
	Value float64
}

// ScatterChart draws points over value axes. A point that names a
// candidate shows the candidate's tooltip (its scores and genome).
type ScatterChart struct {
	ID, Title, Subtitle string
	// XName and YName are the axis titles.
	XName, YName string
	// Series with no finite point are left out.
	Series []ScatterSeries
	// Diagonal, when set, names a dashed line y = x across the range of
	// the points (a perfect prediction, for predicted against measured).
	Diagonal string
}

// ScatterSeries is one set of points drawn alike.
type ScatterSeries struct {
	Name string
	// Symbol is the ECharts symbol ("circle", "diamond", ...); empty:
	// ECharts' default.
	Symbol string
	Points []ScatterPoint
}

// ScatterPoint is one point; points with a NaN or infinite coordinate are
// left out.
type ScatterPoint struct {
	// Candidate is the id of the candidate the point stands for (its
	// tooltip); empty: none.
	Candidate string
	X, Y      float64
}

// Table is a plain table of text: a caption, column headings and rows of
// as many cells.
type Table struct {
	Caption string
	Head    []string
	Rows    [][]string
}

// Fact is one line of the run facts: a key and its value.
type Fact struct{ Key, Value string }

func (c *LineChart) ChartID() string    { return c.ID }
func (c *HeatmapChart) ChartID() string { return c.ID }
func (c *ScatterChart) ChartID() string { return c.ID }

func (c *LineChart) check() error {
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
	}
	return nil
}

func (c *HeatmapChart) check() error {
	for _, cell := range c.Cells {
		if cell.X < 0 || cell.X >= len(c.Cols) || cell.Y < 0 || cell.Y >= len(c.Rows) {
			return fmt.Errorf("cell (%d, %d) is outside the %d × %d grid", cell.X, cell.Y, len(c.Cols), len(c.Rows))
		}
	}
	if math.IsNaN(c.Min) || math.IsNaN(c.Max) || c.Min > c.Max {
		return fmt.Errorf("colour scale [%g, %g] is not a range", c.Min, c.Max)
	}
	return nil
}

func (c *ScatterChart) check() error { return nil }

func (c *LineChart) draw(_ *tipItems) (chartBlock, error) {
	return lineChart(c.ID, c.Title, c.Subtitle, c.XName, c.YName, c.Series)
}

func (c *HeatmapChart) draw(_ *tipItems) (chartBlock, error) {
	return heatmapChart(c.ID, c.Title, c.Subtitle, c.Cols, c.Rows, c.Cells, c.Min, c.Max, heatmapHeight(len(c.Rows)))
}

func (c *ScatterChart) draw(tips *tipItems) (chartBlock, error) {
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(c.ID, c.Title, c.Subtitle), plotGrid, valueAxisX(c.XName), valueAxisY(c.YName))...)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		var data []opts.ScatterData
		for _, p := range s.Points {
			if !finite([]float64{p.X, p.Y}) {
				continue
			}
			data = append(data, opts.ScatterData{Name: tips.key(p.Candidate), Value: rounded(p.X, p.Y)})
			lo, hi = min(lo, p.X, p.Y), max(hi, p.X, p.Y)
		}
		if len(data) == 0 {
			continue
		}
		sc.AddSeries(s.Name, data, charts.WithScatterChartOpts(opts.ScatterChart{SymbolSize: 8, Symbol: s.Symbol}))
	}
	if c.Diagonal != "" && lo <= hi {
		ln := charts.NewLine()
		ln.AddSeries(c.Diagonal, []opts.LineData{{Value: []float64{lo, lo}}, {Value: []float64{hi, hi}}},
			charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: "#555"}),
			charts.WithItemStyleOpts(opts.ItemStyle{Color: "#555"}),
			charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}))
		sc.Overlap(ln)
	}
	js, err := chartScript(c.ID, sc)
	return chartBlock{ID: c.ID, Height: 460, Script: js}, err
}

// pageChartID reports whether id is (or may be) one of the page's own
// chart ids, which sections may not use.
func pageChartID(id string) bool {
	if id == "pareto" {
		return true
	}
	for _, p := range []string{"pareto_", "progress_", "coefficients_"} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// checkSections checks that the sections can be drawn: kinds and titles
// set, kinds unique, chart ids set, unique and not the page's own, every
// chart's data consistent, every table row as wide as its head.
func checkSections(secs []Section) error {
	kinds := map[string]bool{}
	ids := map[string]bool{}
	for i := range secs {
		s := &secs[i]
		if s.Kind == "" || s.Title == "" {
			return fmt.Errorf("section %d (%q) has no kind or no title", i+1, s.Title)
		}
		if kinds[s.Kind] {
			return fmt.Errorf("two sections are of kind %q", s.Kind)
		}
		kinds[s.Kind] = true
		for _, c := range s.Charts {
			if c == nil {
				return fmt.Errorf("section %q has a nil chart", s.Kind)
			}
			id := c.ChartID()
			switch {
			case id == "":
				return fmt.Errorf("section %q has a chart with no id", s.Kind)
			case pageChartID(id):
				return fmt.Errorf("section %q: chart id %q is reserved for the page's own charts", s.Kind, id)
			case ids[id]:
				return fmt.Errorf("section %q: two charts have the id %q", s.Kind, id)
			}
			ids[id] = true
			if err := c.check(); err != nil {
				return fmt.Errorf("section %q: chart %s: %w", s.Kind, id, err)
			}
		}
		for k, t := range s.Tables {
			for j, row := range t.Rows {
				if len(row) != len(t.Head) {
					return fmt.Errorf("section %q: table %d: row %d has %d cells but the table has %d columns", s.Kind, k+1, j+1, len(row), len(t.Head))
				}
			}
		}
	}
	return nil
}

// sectionBlock is a drawn section.
type sectionBlock struct {
	Title, Note string
	Charts      []chartBlock
	Tables      []Table
}

// drawSections draws the run's sections in order.
func drawSections(secs []Section, tips *tipItems) ([]sectionBlock, error) {
	out := make([]sectionBlock, 0, len(secs))
	for _, s := range secs {
		b := sectionBlock{Title: s.Title, Note: s.Note, Tables: s.Tables}
		for _, c := range s.Charts {
			cb, err := c.draw(tips)
			if err != nil {
				return nil, fmt.Errorf("section %q: %w", s.Kind, err)
			}
			b.Charts = append(b.Charts, cb)
		}
		out = append(out, b)
	}
	return out, nil
}
