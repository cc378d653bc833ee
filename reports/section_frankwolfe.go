package reports

import (
	"fmt"
	"strconv"
)

// SectionFrankWolfe is the kind of FrankWolfeSection's section.
const SectionFrankWolfe = "fw_iterations"

// FWIteration is one Frank-Wolfe iteration: the pool members the linear
// minimisation oracle chose and the step size taken.
type FWIteration struct {
	Iteration int `json:"iteration"`
	// Selected names the pool member chosen for each tensor (hard, layer
	// granularity) or each selection (task granularity, soft variant);
	// a member chosen for several tensors appears several times.
	Selected []string `json:"selected"`
	StepSize float64  `json:"step_size"`
	Loss     float64  `json:"loss"`
}

// FrankWolfeSection shows which pool members each Frank-Wolfe iteration
// selected (iterations in order), and the step sizes and losses. It needs
// at least one iteration.
func FrankWolfeSection(its []FWIteration) (Section, error) {
	sec := Section{Kind: SectionFrankWolfe, Title: "FW-Merging", Note: "Each column is an iteration; a cell counts the tensors (or selections) for which the linear minimisation oracle chose that pool member."}
	if len(its) == 0 {
		return sec, fmt.Errorf("reports: the FW-Merging view has no iteration")
	}
	idx := map[string]int{}
	var rows []string
	cols := make([]string, len(its))
	var cells []HeatCell
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
				cells = append(cells, HeatCell{X: k, Y: rIdx, Value: n})
				most = max(most, n)
			}
		}
	}
	if len(rows) > 0 {
		sec.Charts = append(sec.Charts, &HeatmapChart{ID: "fw_selected", Title: "Pool members chosen per iteration", Cols: cols, Rows: rows, Cells: cells, Min: 0, Max: most})
	}
	sec.Charts = append(sec.Charts, &LineChart{ID: "fw_steps", Title: "Step size and loss per iteration", XName: "iteration", YName: "value",
		Series: []LineSeries{{Name: "step size", X: x, Y: step, Color: colorExpert}, {Name: "loss", X: x, Y: loss, Color: colorFront}}})
	return sec, nil
}
