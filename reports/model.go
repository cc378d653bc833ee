package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// Run is everything a report shows, as plain data. The run package (or the
// CLI) fills it from a run directory; Render never reads files.
type Run struct {
	// Name is the run (experiment) name, shown as the page title.
	Name string
	// Dir is the run directory as the user names it; it is used in the
	// export command printed for every front member.
	Dir string
	// ConfigText is the resolved config.toml, shown verbatim.
	ConfigText string
	// Seed is the run's master seed.
	Seed uint64
	// Method is the search method ("nsga2", "m2n2", ...).
	Method string
	// Operator is the merge operator being searched ("ties", "linear", ...).
	Operator string
	// Evaluator describes how candidates are scored ("native mnist-tasks", ...).
	Evaluator string
	// FitnessSplit and TestSplit name the data splits behind validation
	// (fitness) scores and held-out test scores; empty means "validation"
	// and "test".
	FitnessSplit, TestSplit string
	// Objectives are the scores every candidate carries, in score order.
	Objectives []fitness.Objective
	// Dims are the coefficient dimension names of vector genomes, in genome
	// order ("group/param[model]", see searchspace.DimName).
	Dims []string
	// Candidates are the evaluated candidates in journal (evaluation) order,
	// failed ones included.
	Candidates []Candidate
	// Front is the final front with held-out test scores. When it is empty
	// (a run still going) the report computes the front from the
	// candidates' validation scores and says that test scores are pending.
	Front []FrontMember
	// References are fixed comparison points: the experts, the plain
	// average, the base model.
	References []Reference
	// Budget holds the run's limits and timing.
	Budget Budget
	// Finished says whether the run has ended; a live view keeps
	// refreshing an unfinished run.
	Finished bool
	// State, StopReason and Error are the run's state as recorded
	// ("finished", "interrupted", ...), why the search stopped
	// ("evaluation-limit", ...) and the error that ended it; all optional.
	State, StopReason, Error string
	// Views holds algorithm-specific data; each part that is present is
	// rendered as its own section.
	Views Views
	// Note is a caveat the method attaches to every output (front.json's
	// note), e.g. that AdaMerging adapted on unlabelled test inputs; shown
	// with the run facts and in the method's section. Empty: none.
	Note string
	// AdaptationInputs names the split whose unlabelled inputs AdaMerging
	// read ("test": test-time adaptation; "validation"); empty when
	// unknown. The AdaMerging section says which inputs were read.
	AdaptationInputs string
	// Chosen is the id of the front member the run recommends (picked on
	// fitness-split scores, never on test), ChosenBy what it was picked
	// on; the front table marks it and puts it first. Empty: none.
	Chosen, ChosenBy string
}

// Candidate is one evaluated candidate with the wall-clock times of its
// evaluation (zero when unknown).
type Candidate struct {
	population.Candidate
	Started  time.Time
	Finished time.Time
}

// FrontMember is one member of the final front.
type FrontMember struct {
	ID string
	// Validation holds the fitness-split scores (the ones searched on).
	Validation []float64
	// Test holds held-out test scores, one per objective; nil when the
	// member has not been scored on test data.
	Test []float64
	// NormalizedAccuracy is the mean over tasks of test accuracy divided by
	// the expert's (fitness.AverageNormalizedAccuracy); NaN when unknown.
	NormalizedAccuracy float64
	// Recipe is the merge recipe in TOML or another readable form; empty
	// means the genome is shown instead.
	Recipe string
}

// Reference kinds.
const (
	ReferenceExpert  = "expert"
	ReferenceAverage = "average"
	ReferenceBase    = "base"
)

// Reference is a fixed model the search is compared with.
type Reference struct {
	Name string
	// Kind is ReferenceExpert, ReferenceAverage or ReferenceBase.
	Kind string
	// Validation and Test are scores per objective (Test may be nil).
	Validation []float64
	Test       []float64
}

// Budget holds the limits of a run and when it ran.
type Budget struct {
	// MaxEvaluations is the evaluation budget (0: none).
	MaxEvaluations int
	// MaxDuration is the wall-time budget (0: none).
	MaxDuration time.Duration
	// Evaluations is the number of evaluations the search counted against
	// its budget, repeats (candidates proposed again, answered from the journal) included;
	// 0 means one per candidate record.
	Evaluations int
	// Started and Updated are when the run began and when its records
	// were last written.
	Started, Updated time.Time
	// Elapsed is the wall time the run's sessions have taken (a resumed
	// run excludes the time it was stopped); 0 means Updated - Started.
	Elapsed time.Duration
}

// Views holds data for algorithm-specific sections. A nil or empty field
// omits its section. Its JSON form is what a run directory's views.json
// holds.
type Views struct {
	// Archive holds M2N2 archive snapshots in evaluation order.
	Archive []ArchiveSnapshot `json:"m2n2_archive,omitempty"`
	// Surrogate holds MAP surrogate predictions next to measured scores.
	Surrogate []SurrogatePoint `json:"map_surrogate,omitempty"`
	// Trajectory holds AdaMerging steps in order.
	Trajectory []TrajectoryStep `json:"adamerging_trajectory,omitempty"`
	// FrankWolfe holds FW-Merging iterations in order.
	FrankWolfe []FWIteration `json:"fw_iterations,omitempty"`
}

// ArchiveSnapshot is the M2N2 archive after some number of evaluations.
type ArchiveSnapshot struct {
	Evaluations int             `json:"evaluations"`
	Members     []ArchiveMember `json:"members"`
}

// ArchiveMember is one archive member and the fitness examples it solves.
type ArchiveMember struct {
	ID     string            `json:"id"`
	Solved population.Bitset `json:"solved"`
}

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

// TrajectoryStep is one AdaMerging optimisation step: the unsupervised loss
// and the coefficients (in Run.Dims order) after the step.
type TrajectoryStep struct {
	Step         int       `json:"step"`
	Loss         float64   `json:"loss"`
	Coefficients []float64 `json:"coefficients"`
}

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

// Validate checks the run for inconsistencies that would make the report
// wrong, naming the offending candidate or field.
func (r *Run) Validate() error {
	if r == nil {
		return fmt.Errorf("reports: nil run")
	}
	if err := fitness.ValidateObjectives(r.Objectives); err != nil {
		return fmt.Errorf("reports: run %q: %w", r.Name, err)
	}
	m := len(r.Objectives)
	for i := range r.Candidates {
		c := &r.Candidates[i].Candidate
		if c.OK() && len(c.Scores) != m {
			return fmt.Errorf("reports: run %q: candidate %s (evaluation %d) has %d scores but the run has %d objectives", r.Name, c.ID, i+1, len(c.Scores), m)
		}
		if c.OK() && len(r.Dims) > 0 && c.Genome.Values != nil && len(c.Genome.Values) != len(r.Dims) {
			return fmt.Errorf("reports: run %q: candidate %s has %d genome values but the run names %d coefficient dimensions", r.Name, c.ID, len(c.Genome.Values), len(r.Dims))
		}
	}
	for i, f := range r.Front {
		if len(f.Validation) != m {
			return fmt.Errorf("reports: run %q: front member %d (%s) has %d validation scores but the run has %d objectives", r.Name, i+1, f.ID, len(f.Validation), m)
		}
		if f.Test != nil && len(f.Test) != m {
			return fmt.Errorf("reports: run %q: front member %d (%s) has %d test scores but the run has %d objectives", r.Name, i+1, f.ID, len(f.Test), m)
		}
	}
	for _, ref := range r.References {
		if len(ref.Validation) != m {
			return fmt.Errorf("reports: run %q: reference %q has %d validation scores but the run has %d objectives", r.Name, ref.Name, len(ref.Validation), m)
		}
		if ref.Test != nil && len(ref.Test) != m {
			return fmt.Errorf("reports: run %q: reference %q has %d test scores but the run has %d objectives", r.Name, ref.Name, len(ref.Test), m)
		}
	}
	for _, s := range r.Views.Surrogate {
		if s.Objective < 0 || s.Objective >= m {
			return fmt.Errorf("reports: run %q: surrogate point of candidate %s names objective %d but the run has %d objectives", r.Name, s.ID, s.Objective, m)
		}
	}
	for _, st := range r.Views.Trajectory {
		if len(r.Dims) > 0 && len(st.Coefficients) != len(r.Dims) {
			return fmt.Errorf("reports: run %q: AdaMerging step %d has %d coefficients but the run names %d dimensions", r.Name, st.Step, len(st.Coefficients), len(r.Dims))
		}
	}
	return nil
}

// finite reports whether every value is a finite number.
func finite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
