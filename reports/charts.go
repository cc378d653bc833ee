package reports

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/evomerge/evomerge/fitness"
)

// chartBlock is one rendered chart: a fixed element id, its height and
// the script that draws it.
type chartBlock struct {
	ID     string
	Height int
	Script template.JS
}

// Colours used for series with a fixed meaning.
const (
	colorEvaluated = "#9aa5b1"
	colorFront     = "#d1495b"
	colorExpert    = "#2e86ab"
	colorAverage   = "#f18f01"
	colorBase      = "#3c6e47"
)

// tipItems collects the tooltip text of chart data items, keyed by the
// item's name: "c<n>" for the candidate first recorded at evaluation n+1
// (short keys keep pages small), "r<n>" for reference n.
type tipItems struct {
	lines map[string][]string
	ids   map[string]string // candidate id -> key
}

func newTipItems() *tipItems {
	return &tipItems{lines: map[string][]string{}, ids: map[string]string{}}
}

// key returns the item name of candidate id ("" when it has no tooltip).
func (t *tipItems) key(id string) string { return t.ids[id] }

// base returns the global options every chart shares: a fixed id, no
// animation (the page is drawn at once), our escaping tooltip formatter.
func base(id, title, subtitle string) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: id}),
		charts.WithAnimation(false),
		charts.WithTitleOpts(opts.Title{Title: title, Subtitle: subtitle}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item", Formatter: fn("tip")}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Type: "scroll", Top: "bottom"}),
	}
}

// plotGrid is the plot area of charts with value axes (WithGridOpts
// appends, so each chart sets its grid once).
var plotGrid = charts.WithGridOpts(opts.Grid{Left: "70", Right: "40", Top: "70", Bottom: "80"})

func valueAxisX(name string) charts.GlobalOpts {
	return charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: name, NameLocation: "middle", NameGap: 28, Scale: opts.Bool(true)})
}

func valueAxisY(name string) charts.GlobalOpts {
	return charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: name, Scale: opts.Bool(true)})
}

// objectiveLabel names an objective with its direction for axis titles.
func objectiveLabel(o fitness.Objective) string {
	if o.Direction == fitness.Maximize {
		return o.Name + " (↑)"
	}
	return o.Name + " (↓)"
}

// paretoPairChart draws objectives a and b: every scored candidate, the
// front members highlighted (and connected when connect is set: then the
// front is the 2-objective front and sorting by a traces it), and the
// reference points.
func paretoPairChart(id string, r *Run, ok []int, front []FrontMember, a, b int, connect bool, tips *tipItems) (chartBlock, error) {
	objs := r.Objectives
	title := "Pareto front (validation scores)"
	if !connect {
		title = fmt.Sprintf("%s vs %s (validation)", objs[a].Name, objs[b].Name)
	}
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(id, title, "grey: all evaluated candidates; red: Pareto front"), plotGrid,
		valueAxisX(objectiveLabel(objs[a])), valueAxisY(objectiveLabel(objs[b])))...)
	inFront := make(map[string]bool, len(front))
	for _, f := range front {
		inFront[f.ID] = true
	}
	var rest []opts.ScatterData
	for _, i := range ok {
		c := &r.Candidates[i]
		if inFront[c.ID] {
			continue
		}
		rest = append(rest, opts.ScatterData{Name: tips.key(c.ID), Value: rounded(c.Scores[a], c.Scores[b])})
	}
	sc.AddSeries("evaluated", rest,
		charts.WithItemStyleOpts(opts.ItemStyle{Color: colorEvaluated, Opacity: opts.Float(0.6)}),
		charts.WithScatterChartOpts(opts.ScatterChart{SymbolSize: 6}))
	members := slices.Clone(front)
	if connect {
		slices.SortStableFunc(members, func(x, y FrontMember) int {
			if x.Validation[a] != y.Validation[a] {
				if x.Validation[a] < y.Validation[a] {
					return -1
				}
				return 1
			}
			if x.Validation[b] < y.Validation[b] {
				return -1
			}
			if x.Validation[b] > y.Validation[b] {
				return 1
			}
			return 0
		})
	}
	if connect {
		ln := charts.NewLine()
		data := make([]opts.LineData, len(members))
		for k, f := range members {
			data[k] = opts.LineData{Name: tips.key(f.ID), Value: rounded(f.Validation[a], f.Validation[b])}
		}
		ln.AddSeries("Pareto front", data,
			charts.WithItemStyleOpts(opts.ItemStyle{Color: colorFront}),
			charts.WithLineStyleOpts(opts.LineStyle{Color: colorFront, Width: 2}),
			charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(true), SymbolSize: 10, Symbol: "circle"}))
		sc.Overlap(ln)
	} else {
		data := make([]opts.ScatterData, len(members))
		for k, f := range members {
			data[k] = opts.ScatterData{Name: tips.key(f.ID), Value: rounded(f.Validation[a], f.Validation[b])}
		}
		sc.AddSeries("Pareto front", data,
			charts.WithItemStyleOpts(opts.ItemStyle{Color: colorFront}),
			charts.WithScatterChartOpts(opts.ScatterChart{SymbolSize: 10}))
	}
	xLo, xHi, yLo, yHi := pairExtent(r, ok, front, a, b)
	addReferenceSeries(sc, r, a, b)
	// ECharts leaves mark lines out of an axis's automatic range: widen
	// the axis to show a reference line outside the points.
	if lo, hi, ok := widenForLines(xLo, xHi, referenceLines(r, a, b)); ok {
		sc.SetGlobalOptions(charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: objectiveLabel(objs[a]), NameLocation: "middle", NameGap: 28, Min: lo, Max: hi}))
	}
	if lo, hi, ok := widenForLines(yLo, yHi, referenceLines(r, b, a)); ok {
		sc.SetGlobalOptions(charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: objectiveLabel(objs[b]), Min: lo, Max: hi}))
	}
	js, err := chartScript(id, sc)
	return chartBlock{ID: id, Height: 460, Script: js}, err
}

// referenceGroups lists reference kinds in display order with their series
// name, colour and symbol.
var referenceGroups = []struct{ kind, series, color, symbol string }{
	{ReferenceExpert, "experts", colorExpert, "diamond"},
	{ReferenceAverage, "plain average", colorAverage, "triangle"},
	{ReferenceBase, "base model", colorBase, "rect"},
}

// addReferenceSeries adds the references with scores on both objectives
// as points, and those with a score on one of the two only (an expert
// scored on its own task) as a line at that score across the other axis.
func addReferenceSeries(sc *charts.Scatter, r *Run, a, b int) {
	for _, g := range referenceGroups {
		var data []opts.ScatterData
		var xLines []opts.MarkLineNameXAxisItem
		var yLines []opts.MarkLineNameYAxisItem
		for k, ref := range r.References {
			if ref.Kind != g.kind {
				continue
			}
			x, y := ref.Validation[a], ref.Validation[b]
			switch {
			case finite([]float64{x, y}):
				data = append(data, opts.ScatterData{Name: "r" + strconv.Itoa(k), Value: rounded(x, y)})
			case finite([]float64{x}):
				xLines = append(xLines, opts.MarkLineNameXAxisItem{Name: ref.Name, XAxis: roundForDisplay(x)})
			case finite([]float64{y}):
				yLines = append(yLines, opts.MarkLineNameYAxisItem{Name: ref.Name, YAxis: roundForDisplay(y)})
			}
		}
		if len(data) == 0 && len(xLines) == 0 && len(yLines) == 0 {
			continue
		}
		so := []charts.SeriesOpts{
			charts.WithItemStyleOpts(opts.ItemStyle{Color: g.color}),
			charts.WithScatterChartOpts(opts.ScatterChart{SymbolSize: 14, Symbol: g.symbol}),
		}
		if len(xLines)+len(yLines) > 0 {
			so = append(so,
				charts.WithMarkLineNameXAxisItemOpts(xLines...),
				charts.WithMarkLineNameYAxisItemOpts(yLines...),
				charts.WithMarkLineStyleOpts(opts.MarkLineStyle{
					Symbol:    []string{"none", "none"},
					Label:     &opts.Label{Show: opts.Bool(true), Formatter: "{b}: {c}", Position: "middle", Color: g.color},
					LineStyle: &opts.LineStyle{Color: g.color, Type: "dashed", Width: 1.5},
				}))
		}
		sc.AddSeries(g.series, data, so...)
	}
}

// pairExtent returns the range of the plotted points (candidates, front
// members, references scored on both objectives) on objectives a and b.
func pairExtent(r *Run, ok []int, front []FrontMember, a, b int) (xLo, xHi, yLo, yHi float64) {
	xLo, yLo = math.Inf(1), math.Inf(1)
	xHi, yHi = math.Inf(-1), math.Inf(-1)
	add := func(x, y float64) {
		if !finite([]float64{x, y}) {
			return
		}
		xLo, xHi = min(xLo, x), max(xHi, x)
		yLo, yHi = min(yLo, y), max(yHi, y)
	}
	for _, i := range ok {
		add(r.Candidates[i].Scores[a], r.Candidates[i].Scores[b])
	}
	for _, f := range front {
		add(f.Validation[a], f.Validation[b])
	}
	for _, ref := range r.References {
		add(ref.Validation[a], ref.Validation[b])
	}
	return xLo, xHi, yLo, yHi
}

// referenceLines returns the scores on objective a of the references that
// have one there but none on objective other (they are drawn as lines).
func referenceLines(r *Run, a, other int) []float64 {
	var out []float64
	for _, ref := range r.References {
		if x := ref.Validation[a]; finite([]float64{x}) && !finite([]float64{ref.Validation[other]}) {
			out = append(out, x)
		}
	}
	return out
}

// widenForLines returns an axis range [lo, hi] covering the points' range
// [ptLo, ptHi] and every line with a margin of 2% of the span, widened to
// multiples of a round step (1, 2 or 5 times a power of ten, about a tenth
// of the span), when some
// line lies outside the points' range; ok is false when none does (the
// axis keeps its automatic range).
func widenForLines(ptLo, ptHi float64, lines []float64) (lo, hi float64, ok bool) {
	lo, hi = ptLo, ptHi
	for _, v := range lines {
		if !(v >= ptLo && v <= ptHi) {
			ok = true
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if !ok {
		return 0, 0, false
	}
	span := hi - lo
	if span == 0 {
		span = max(math.Abs(hi), 1)
	}
	step, margin := roundStep(span/10), 0.02*span
	return roundForDisplay(math.Floor((lo-margin)/step) * step), roundForDisplay(math.Ceil((hi+margin)/step) * step), true
}

// roundStep returns the smallest of 1, 2 and 5 times a power of ten that
// is at least x > 0.
func roundStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}

// parallelChart draws every scored candidate as a line across one axis per
// objective, front members and references highlighted.
func parallelChart(id string, r *Run, ok []int, front []FrontMember, tips *tipItems) (chartBlock, error) {
	pc := charts.NewParallel()
	pc.SetGlobalOptions(append(base(id, "Pareto front (validation scores), one axis per objective", "grey: all evaluated candidates; red: Pareto front"),
		charts.WithParallelComponentOpts(opts.ParallelComponent{Left: "80", Right: "80", Top: "90", Bottom: "70"}))...)
	inFront := make(map[string]bool, len(front))
	for _, f := range front {
		inFront[f.ID] = true
	}
	var rest []opts.ParallelData
	for _, i := range ok {
		c := &r.Candidates[i]
		if !inFront[c.ID] {
			rest = append(rest, opts.ParallelData{Name: tips.key(c.ID), Value: rounded(c.Scores...)})
		}
	}
	pc.AddSeries("evaluated", rest, charts.WithLineStyleOpts(opts.LineStyle{Color: colorEvaluated, Width: 1, Opacity: opts.Float(0.4)}))
	fd := make([]opts.ParallelData, len(front))
	for k, f := range front {
		fd[k] = opts.ParallelData{Name: tips.key(f.ID), Value: rounded(f.Validation...)}
	}
	pc.AddSeries("Pareto front", fd, charts.WithLineStyleOpts(opts.LineStyle{Color: colorFront, Width: 2}))
	for _, g := range referenceGroups {
		var data []opts.ParallelData
		for k, ref := range r.References {
			if ref.Kind == g.kind && finite(ref.Validation) {
				data = append(data, opts.ParallelData{Name: "r" + strconv.Itoa(k), Value: rounded(ref.Validation...)})
			}
		}
		if len(data) > 0 {
			pc.AddSeries(g.series, data, charts.WithLineStyleOpts(opts.LineStyle{Color: g.color, Width: 2, Type: "dashed"}))
		}
	}
	pc.Validate()
	obj := pc.JSON()
	// go-echarts omits dim 0 (omitempty); ECharts needs every dim.
	axes := make([]map[string]any, len(r.Objectives))
	for j, o := range r.Objectives {
		axes[j] = map[string]any{"dim": j, "name": objectiveLabel(o), "scale": true, "nameLocation": "end"}
	}
	obj["parallelAxis"] = axes
	js, err := chartScript(id, fixedOptions{obj})
	return chartBlock{ID: id, Height: 460, Script: js}, err
}

// fixedOptions is an option object already built (and patched) from a
// go-echarts chart.
type fixedOptions struct{ obj map[string]any }

func (fixedOptions) Validate()              {}
func (f fixedOptions) JSON() map[string]any { return f.obj }

// lineChart draws curves over a value x axis. Points with a NaN coordinate
// are left out.
func lineChart(id, title, subtitle, xName, yName string, series []LineSeries) (chartBlock, error) {
	ln := charts.NewLine()
	g := base(id, title, subtitle)
	g = append(g, plotGrid, valueAxisX(xName), valueAxisY(yName),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis", Formatter: fn("axisTip")}))
	ln.SetGlobalOptions(g...)
	for _, s := range series {
		data := make([]opts.LineData, 0, len(s.X))
		for k := range s.X {
			if math.IsNaN(s.X[k]) || math.IsNaN(s.Y[k]) || math.IsInf(s.Y[k], 0) {
				continue
			}
			data = append(data, opts.LineData{Value: rounded(s.X[k], s.Y[k])})
		}
		style := opts.LineStyle{Width: 2, Color: s.Color}
		if s.Dashed {
			style.Type = "dashed"
		}
		ln.AddSeries(s.Name, data,
			charts.WithLineStyleOpts(style),
			charts.WithItemStyleOpts(opts.ItemStyle{Color: s.Color}),
			charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(len(data) <= 60), Symbol: "circle"}))
	}
	js, err := chartScript(id, ln)
	return chartBlock{ID: id, Height: 400, Script: js}, err
}

// heatmapChart draws cells over category axes with a continuous colour
// scale from lo to hi.
func heatmapChart(id, title, subtitle string, xs, ys []string, cells []HeatCell, lo, hi float64, height int) (chartBlock, error) {
	hm := charts.NewHeatMap()
	g := base(id, title, subtitle)
	g = append(g,
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item", Formatter: fn("heatTip")}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithGridOpts(opts.Grid{Left: "160", Right: "40", Top: "70", Bottom: "90"}),
		// HeatMap.SetXAxis data is dropped by HeatMap.Validate in
		// go-echarts v2.6.7, so the categories go into the axis options.
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Data: xs, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: ys, SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}))
	hm.SetGlobalOptions(g...)
	data := make([]opts.HeatMapData, len(cells))
	for k, c := range cells {
		data[k] = opts.HeatMapData{Name: ys[c.Y] + " · " + xs[c.X], Value: []any{c.X, c.Y, roundForDisplay(c.Value)}}
	}
	hm.AddSeries("value", data)
	hm.Validate()
	obj := hm.JSON()
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	// Min/Max of opts.VisualMap are float32 with omitempty, so a zero bound
	// would vanish; the colour scale is written here in full.
	obj["visualMap"] = []map[string]any{{
		"type": "continuous", "min": lo, "max": hi, "calculable": true, "precision": scalePrecision(lo, hi),
		"orient": "horizontal", "left": "center", "bottom": 5,
		"inRange": map[string]any{"color": []string{"#f7fbff", "#6baed6", "#08306b"}},
	}}
	js, err := chartScript(id, fixedOptions{obj})
	return chartBlock{ID: id, Height: height, Script: js}, err
}

// scalePrecision is the number of decimals the colour scale's labels need
// to tell lo from hi (ECharts shows none by default): none for integer
// bounds, else one more than the span's leading decimal, at most 6.
func scalePrecision(lo, hi float64) int {
	if lo == math.Trunc(lo) && hi == math.Trunc(hi) {
		return 0
	}
	return min(6, max(0, 1+int(math.Ceil(-math.Log10(hi-lo)))))
}

// heatmapHeight is the height in pixels of a heatmap with the given rows:
// 26 pixels a row, squeezed beyond 60 rows so a page stays scrollable.
func heatmapHeight(rows int) int {
	return 170 + min(26*rows, 1560)
}

// roundForDisplay keeps 6 significant digits so pages stay small and
// stable.
func roundForDisplay(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 6, 64), 64)
	return v
}

// rounded returns xs rounded for display (see roundForDisplay).
func rounded(xs ...float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = roundForDisplay(x)
	}
	return out
}

// splitDim splits a coefficient dimension name "group/param[model]" into
// its row ("group/param") and column ("model", or "all models" when the
// value is shared). Group and parameter names never contain '[' (model
// names may).
func splitDim(name string) (row, col string) {
	if strings.HasSuffix(name, "]") {
		if k := strings.IndexByte(name, '['); k > 0 {
			return name[:k], name[k+1 : len(name)-1]
		}
	}
	return name, "all models"
}

// coefficientGrid lays the dims out as rows × columns and returns, for
// every dim, its (column, row) cell.
func coefficientGrid(dims []string) (cols, rows []string, cell [][2]int) {
	colIdx := map[string]int{}
	rowIdx := map[string]int{}
	cell = make([][2]int, len(dims))
	for i, d := range dims {
		row, col := splitDim(d)
		c, ok := colIdx[col]
		if !ok {
			c = len(cols)
			colIdx[col] = c
			cols = append(cols, col)
		}
		rw, ok := rowIdx[row]
		if !ok {
			rw = len(rows)
			rowIdx[row] = rw
			rows = append(rows, row)
		}
		cell[i] = [2]int{c, rw}
	}
	return cols, rows, cell
}
