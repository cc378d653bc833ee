package reports

import (
	"fmt"
	"math"
	"strconv"

	"github.com/evomerge/evomerge/fitness"
)

// SectionSurrogate is the kind of SurrogateSection's section.
const SectionSurrogate = "map_surrogate"

// SurrogatePoint is a surrogate prediction of one objective of one
// candidate next to the score the evaluator measured.
type SurrogatePoint struct {
	ID        string  `json:"id"`
	Objective int     `json:"objective"`
	Predicted float64 `json:"predicted"`
	Measured  float64 `json:"measured"`
	// HeldOut marks a point the surrogate was not fitted on (a re-evaluated
	// front point); the others are its design points.
	HeldOut bool `json:"held_out,omitempty"`
}

// SurrogateSection plots MAP surrogate predictions against measured
// scores of the run's objectives (objs, in score order): one series per
// objective and kind of point (design, held out), with R² per series in
// the subtitle. A point naming an objective the run lacks is an error.
func SurrogateSection(objs []fitness.Objective, pts []SurrogatePoint) (Section, error) {
	sec := Section{Kind: SectionSurrogate, Title: "MAP surrogate", Note: "Surrogate predictions against measured validation scores. Design points are those the surrogate was fitted on (in-sample); held-out points are front members evaluated after the fit. The dashed line is a perfect prediction."}
	for _, s := range pts {
		if s.Objective < 0 || s.Objective >= len(objs) {
			return sec, fmt.Errorf("reports: surrogate point of candidate %s names objective %d but the run has %d objectives", s.ID, s.Objective, len(objs))
		}
	}
	sc := &ScatterChart{ID: "map_surrogate", Title: "Surrogate prediction against measured score (validation)", XName: "predicted", YName: "measured", Diagonal: "perfect prediction"}
	var sub []byte
	for j, o := range objs {
		for _, heldOut := range []bool{false, true} {
			var points []ScatterPoint
			var pred, meas []float64
			for _, s := range pts {
				if s.Objective != j || s.HeldOut != heldOut || !finite([]float64{s.Predicted, s.Measured}) {
					continue
				}
				points = append(points, ScatterPoint{Candidate: s.ID, X: s.Predicted, Y: s.Measured})
				pred = append(pred, s.Predicted)
				meas = append(meas, s.Measured)
			}
			if len(points) == 0 {
				continue
			}
			kind, symbol := "design points", "circle"
			if heldOut {
				kind, symbol = "held out", "diamond"
			}
			sc.Series = append(sc.Series, ScatterSeries{Name: o.Name + " · " + kind, Symbol: symbol, Points: points})
			if len(sub) > 0 {
				sub = append(sub, "; "...)
			}
			sub = fmt.Appendf(sub, "%s, %s: R² = %s (n = %d)", o.Name, kind, formatR2(rSquared(pred, meas)), len(pred))
		}
	}
	sc.Subtitle = string(sub)
	sec.Charts = append(sec.Charts, sc)
	return sec, nil
}

func formatR2(v float64) string {
	if math.IsNaN(v) {
		return "undefined"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
