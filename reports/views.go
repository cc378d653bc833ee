package reports

import (
	"fmt"
	"math"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// maxExampleBins bounds the columns of the archive heatmap: examples are
// grouped into at most this many consecutive blocks.
const maxExampleBins = 60

// archiveView shows M2N2 archive coverage and diversity over time and, for
// the latest snapshot, which members solve which examples.
func archiveView(snaps []ArchiveSnapshot) (viewSection, error) {
	sec := viewSection{Title: "M2N2 archive", Note: "Coverage: fraction of fitness examples solved by at least one archive member. Diversity: mean pairwise Hamming distance between members' solved sets, as a fraction of the examples."}
	x := make([]float64, len(snaps))
	cov := make([]float64, len(snaps))
	div := make([]float64, len(snaps))
	for k, s := range snaps {
		x[k] = float64(s.Evaluations)
		cov[k], div[k] = archiveStats(s)
	}
	b, err := lineChart("m2n2_coverage", "Archive coverage and diversity", "", "evaluations", "fraction of examples",
		[]lineSeries{{Name: "coverage", X: x, Y: cov, Color: colorFront}, {Name: "diversity", X: x, Y: div, Color: colorExpert}})
	if err != nil {
		return sec, err
	}
	sec.Charts = append(sec.Charts, b)
	last := snaps[len(snaps)-1]
	n := 0
	for _, m := range last.Members {
		n = max(n, m.Solved.Len())
	}
	if len(last.Members) == 0 || n == 0 {
		return sec, nil
	}
	bins := min(n, maxExampleBins)
	cols := make([]string, bins)
	for c := range cols {
		lo, hi := c*n/bins, (c+1)*n/bins
		cols[c] = fmt.Sprintf("%d–%d", lo, hi-1)
	}
	rows := make([]string, len(last.Members))
	var cells []heatCell
	for rIdx, m := range last.Members {
		rows[rIdx] = shortID(m.ID)
		for c := 0; c < bins; c++ {
			lo, hi := c*n/bins, (c+1)*n/bins
			solved := 0
			for e := lo; e < hi; e++ {
				if e < m.Solved.Len() && m.Solved.Get(e) {
					solved++
				}
			}
			cells = append(cells, heatCell{X: c, Y: rIdx, Value: float64(solved) / float64(hi-lo)})
		}
	}
	b, err = heatmapChart("m2n2_solved", fmt.Sprintf("Examples solved by each archive member after %d evaluations", last.Evaluations),
		fmt.Sprintf("%d examples in %d blocks; colour: fraction solved", n, bins), cols, rows, cells, 0, 1, heatmapHeight(len(rows)))
	if err != nil {
		return sec, err
	}
	sec.Charts = append(sec.Charts, b)
	return sec, nil
}

// surrogateView plots MAP surrogate predictions against measured scores,
// one series per objective, with R² per objective in the subtitle.
func surrogateView(r *Run, tips *tipItems) (viewSection, error) {
	sec := viewSection{Title: "MAP surrogate", Note: "Surrogate predictions against measured validation scores. Design points are those the surrogate was fitted on (in-sample); held-out points are front members evaluated after the fit. The dashed line is a perfect prediction."}
	id := "map_surrogate"
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(id, "Surrogate prediction against measured score (validation)", ""), plotGrid,
		valueAxisX("predicted"), valueAxisY("measured"))...)
	lo, hi := math.Inf(1), math.Inf(-1)
	var sub []byte
	for j, o := range r.Objectives {
		for _, heldOut := range []bool{false, true} {
			var data []opts.ScatterData
			var pred, meas []float64
			for _, s := range r.Views.Surrogate {
				if s.Objective != j || s.HeldOut != heldOut || !finite([]float64{s.Predicted, s.Measured}) {
					continue
				}
				data = append(data, opts.ScatterData{Name: tips.key(s.ID), Value: rounded(s.Predicted, s.Measured)})
				pred = append(pred, s.Predicted)
				meas = append(meas, s.Measured)
				lo = min(lo, s.Predicted, s.Measured)
				hi = max(hi, s.Predicted, s.Measured)
			}
			if len(data) == 0 {
				continue
			}
			kind, symbol := "design points", "circle"
			if heldOut {
				kind, symbol = "held out", "diamond"
			}
			sc.AddSeries(o.Name+" · "+kind, data, charts.WithScatterChartOpts(opts.ScatterChart{SymbolSize: 8, Symbol: symbol}))
			if len(sub) > 0 {
				sub = append(sub, "; "...)
			}
			sub = fmt.Appendf(sub, "%s, %s: R² = %s (n = %d)", o.Name, kind, formatR2(rSquared(pred, meas)), len(pred))
		}
	}
	if lo <= hi {
		ln := charts.NewLine()
		ln.AddSeries("perfect prediction", []opts.LineData{{Value: []float64{lo, lo}}, {Value: []float64{hi, hi}}},
			charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: "#555"}),
			charts.WithItemStyleOpts(opts.ItemStyle{Color: "#555"}),
			charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}))
		sc.Overlap(ln)
	}
	sc.SetGlobalOptions(charts.WithTitleOpts(opts.Title{Title: "Surrogate prediction against measured score (validation)", Subtitle: string(sub)}))
	js, err := chartScript(id, sc)
	if err != nil {
		return sec, err
	}
	sec.Charts = append(sec.Charts, chartBlock{ID: id, Height: 460, Script: js})
	return sec, nil
}

func formatR2(v float64) string {
	if math.IsNaN(v) {
		return "undefined"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// maxTrajectoryLines bounds the coefficient curves of the AdaMerging view.
const maxTrajectoryLines = 40

// trajectoryView plots AdaMerging's loss and coefficients per step.
func trajectoryView(r *Run) (viewSection, error) {
	steps := r.Views.Trajectory
	sec := viewSection{Title: "AdaMerging", Note: adaptationNote(r)}
	x := make([]float64, len(steps))
	loss := make([]float64, len(steps))
	for k, s := range steps {
		x[k] = float64(s.Step)
		loss[k] = s.Loss
	}
	b, err := lineChart("adamerging_loss", "Entropy loss per step", "", "step", "loss", []lineSeries{{Name: "loss", X: x, Y: loss, Color: colorFront}})
	if err != nil {
		return sec, err
	}
	sec.Charts = append(sec.Charts, b)
	dims := len(steps[0].Coefficients)
	shown := min(dims, maxTrajectoryLines)
	series := make([]lineSeries, shown)
	for d := 0; d < shown; d++ {
		y := make([]float64, len(steps))
		for k, s := range steps {
			y[k] = math.NaN()
			if d < len(s.Coefficients) {
				y[k] = s.Coefficients[d]
			}
		}
		name := "λ" + strconv.Itoa(d)
		if d < len(r.Dims) {
			name = r.Dims[d]
		}
		series[d] = lineSeries{Name: name, X: x, Y: y}
	}
	sub := ""
	if shown < dims {
		sub = fmt.Sprintf("first %d of %d coefficients", shown, dims)
	}
	b, err = lineChart("adamerging_coefficients", "Coefficient trajectories", sub, "step", "coefficient", series)
	if err != nil {
		return sec, err
	}
	sec.Charts = append(sec.Charts, b)
	return sec, nil
}

// adaptationNote says which inputs AdaMerging's entropy objective read.
func adaptationNote(r *Run) string {
	switch r.AdaptationInputs {
	case "":
		if r.Note != "" {
			return "AdaMerging minimises the prediction entropy of unlabelled inputs (never their labels). " + r.Note
		}
		return "AdaMerging minimises the prediction entropy of unlabelled inputs (never their labels); this run does not record which split they came from."
	case "test":
		return "AdaMerging minimised the prediction entropy of the unlabelled inputs of the test split: test-time adaptation. It read the test inputs but never their labels, so this run's test scores are not fully held out."
	}
	return fmt.Sprintf("AdaMerging minimised the prediction entropy of the unlabelled inputs of the %s split (never their labels); it did not read the test split.", r.AdaptationInputs)
}

// frankWolfeView shows which pool members each Frank-Wolfe iteration
// selected, and the step sizes.
func frankWolfeView(its []FWIteration) (viewSection, error) {
	sec := viewSection{Title: "FW-Merging", Note: "Each column is an iteration; a cell counts the tensors (or selections) for which the linear minimisation oracle chose that pool member."}
	idx := map[string]int{}
	var rows []string
	cols := make([]string, len(its))
	var cells []heatCell
	x := make([]float64, len(its))
	step := make([]float64, len(its))
	loss := make([]float64, len(its))
	most := 1.0
	for k, it := range its {
		cols[k] = strconv.Itoa(it.Iteration)
		x[k] = float64(it.Iteration)
		step[k] = it.StepSize
		loss[k] = it.Loss
		counts := map[int]float64{}
		for _, name := range it.Selected {
			rIdx, ok := idx[name]
			if !ok {
				rIdx = len(rows)
				idx[name] = rIdx
				rows = append(rows, name)
			}
			counts[rIdx]++
		}
		for rIdx := range rows {
			if n := counts[rIdx]; n > 0 {
				cells = append(cells, heatCell{X: k, Y: rIdx, Value: n})
				most = max(most, n)
			}
		}
	}
	if len(rows) > 0 {
		b, err := heatmapChart("fw_selected", "Pool members chosen per iteration", "", cols, rows, cells, 0, most, heatmapHeight(len(rows)))
		if err != nil {
			return sec, err
		}
		sec.Charts = append(sec.Charts, b)
	}
	b, err := lineChart("fw_steps", "Step size and loss per iteration", "", "iteration", "value",
		[]lineSeries{{Name: "step size", X: x, Y: step, Color: colorExpert}, {Name: "loss", X: x, Y: loss, Color: colorFront}})
	if err != nil {
		return sec, err
	}
	sec.Charts = append(sec.Charts, b)
	return sec, nil
}
