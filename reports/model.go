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
	// Note is a caveat the method attaches to every output (front.json's
	// note), e.g. that AdaMerging adapted on unlabelled test inputs; shown
	// under the page header and with the run facts. Empty: none.
	Note string
	// Sections are the method-specific parts of the report (see Section),
	// drawn in this order after the coefficients.
	Sections []Section
	// Facts are method-specific run facts (what AdaMerging adapted on,
	// ...), listed with the run facts after the note.
	Facts []Fact
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
	if err := checkSections(r.Sections); err != nil {
		return fmt.Errorf("reports: run %q: %w", r.Name, err)
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
