package reports

import (
	"fmt"
	"math"
	"strconv"
)

// SectionTrajectory is the kind of TrajectorySection's section.
const SectionTrajectory = "adamerging_trajectory"

// TrajectoryStep is one AdaMerging optimisation step: the unsupervised loss
// and the coefficients (in Run.Dims order) after the step.
type TrajectoryStep struct {
	Step         int       `json:"step"`
	Loss         float64   `json:"loss"`
	Coefficients []float64 `json:"coefficients"`
}

// maxTrajectoryLines bounds the coefficient curves of the AdaMerging view.
const maxTrajectoryLines = 40

// TrajectorySection plots AdaMerging's loss and coefficients per step. The
// coefficients are named by dims (the run's coefficient dimensions; nil:
// λ0, λ1, ...), and each step must have one per dimension. inputs names
// the split whose unlabelled inputs AdaMerging read ("" unknown) and
// caveat is the run's note (Run.Note); the explanation says which inputs
// were read. It needs at least one step.
func TrajectorySection(steps []TrajectoryStep, dims []string, inputs, caveat string) (Section, error) {
	sec := Section{Kind: SectionTrajectory, Title: "AdaMerging", Note: adaptationNote(inputs, caveat)}
	if len(steps) == 0 {
		return sec, fmt.Errorf("reports: the AdaMerging trajectory has no step")
	}
	for _, st := range steps {
		if len(dims) > 0 && len(st.Coefficients) != len(dims) {
			return sec, fmt.Errorf("reports: AdaMerging step %d has %d coefficients but the run names %d dimensions", st.Step, len(st.Coefficients), len(dims))
		}
	}
	x := make([]float64, len(steps))
	loss := make([]float64, len(steps))
	for k, s := range steps {
		x[k] = float64(s.Step)
		loss[k] = s.Loss
	}
	sec.Charts = append(sec.Charts, &LineChart{ID: "adamerging_loss", Title: "Entropy loss per step", XName: "step", YName: "loss",
		Series: []LineSeries{{Name: "loss", X: x, Y: loss, Color: colorFront}}})
	n := len(steps[0].Coefficients)
	shown := min(n, maxTrajectoryLines)
	series := make([]LineSeries, shown)
	for d := 0; d < shown; d++ {
		y := make([]float64, len(steps))
		for k, s := range steps {
			y[k] = math.NaN()
			if d < len(s.Coefficients) {
				y[k] = s.Coefficients[d]
			}
		}
		name := "λ" + strconv.Itoa(d)
		if d < len(dims) {
			name = dims[d]
		}
		series[d] = LineSeries{Name: name, X: x, Y: y}
	}
	sub := ""
	if shown < n {
		sub = fmt.Sprintf("first %d of %d coefficients", shown, n)
	}
	sec.Charts = append(sec.Charts, &LineChart{ID: "adamerging_coefficients", Title: "Coefficient trajectories", Subtitle: sub, XName: "step", YName: "coefficient", Series: series})
	return sec, nil
}

// AdaptationFact is the run fact naming the split whose unlabelled inputs
// AdaMerging adapted on.
func AdaptationFact(inputs string) Fact {
	return Fact{Key: "AdaMerging adapted on", Value: "unlabelled " + inputs + " inputs"}
}

// adaptationNote says which inputs AdaMerging's entropy objective read.
func adaptationNote(inputs, caveat string) string {
	switch inputs {
	case "":
		if caveat != "" {
			return "AdaMerging minimises the prediction entropy of unlabelled inputs (never their labels). " + caveat
		}
		return "AdaMerging minimises the prediction entropy of unlabelled inputs (never their labels); this run does not record which split they came from."
	case "test":
		return "AdaMerging minimised the prediction entropy of the unlabelled inputs of the test split: test-time adaptation. It read the test inputs but never their labels, so this run's test scores are not fully held out."
	}
	return fmt.Sprintf("AdaMerging minimised the prediction entropy of the unlabelled inputs of the %s split (never their labels); it did not read the test split.", inputs)
}
