package rundir

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/registry"
)

// ChooseMeanNormalized is the [report] choose value that picks the front
// member with the highest mean normalized accuracy on the fitness split.
const ChooseMeanNormalized = "mean_normalized_accuracy"

// Choice is the front member a run recommends: the one the summary names,
// status and the report mark, and export takes when no candidate is given.
// It is chosen on fitness-split scores only; test scores never select.
type Choice struct {
	// Index is the member's index in Front.Members; -1 when the front is
	// empty or no member has the score the choice is made on.
	Index int
	// By says what the member was chosen on, for printing ("highest mean
	// normalized accuracy on the validation split").
	By string
}

// ChooseMember picks the recommended front member. by is the [report]
// choose key: "" (the default rule), ChooseMeanNormalized, or the name of
// one objective. The default rule is the lowest scalarised cost for a
// method that minimised one (ga, cmaes: the user's stated weighting), else
// the highest mean normalized accuracy on the fitness split where every
// member has per-task accuracies (a benchmark with experts), else the best
// score of the first objective.
// Ties go to the smaller id, so the choice is deterministic.
func ChooseMember(f Front, by string) (Choice, error) {
	split := f.FitnessSplit
	if split == "" {
		split = "fitness"
	}
	meanNormKnown := len(f.Members) > 0
	for _, m := range f.Members {
		meanNormKnown = meanNormKnown && !math.IsNaN(fitnessMeanNorm(m))
	}
	if s := f.Scalarization; by == "" && s != nil && s.Cost != nil {
		return Choice{
			Index: bestBy(f, negCost),
			By:    fmt.Sprintf("lowest %s cost on the %s split, the objective the search minimised", s.Method, split),
		}, nil
	}
	switch {
	case by == ChooseMeanNormalized || (by == "" && meanNormKnown):
		if !meanNormKnown && len(f.Members) > 0 {
			return Choice{Index: -1}, fmt.Errorf("report.choose = %q: the front members have no per-task accuracies with expert references on the %s split; choose an objective instead (%s)", by, split, objectiveNames(f.Objectives))
		}
		return Choice{
			Index: bestBy(f, func(m FrontMember) float64 { return fitnessMeanNorm(m) }),
			By:    fmt.Sprintf("highest mean normalized accuracy on the %s split", split),
		}, nil
	}
	k := 0
	if by != "" {
		k = slices.IndexFunc(f.Objectives, func(o fitness.Objective) bool { return o.Name == by })
		if k < 0 {
			return Choice{Index: -1}, fmt.Errorf("report.choose = %q names no objective of the run; use %q or one of: %s", by, ChooseMeanNormalized, objectiveNames(f.Objectives))
		}
	}
	if len(f.Objectives) == 0 {
		return Choice{Index: -1}, nil
	}
	o := f.Objectives[k]
	sign := 1.0
	if o.Direction.Better(0, 1) { // minimized
		sign = -1
	}
	return Choice{
		Index: bestBy(f, func(m FrontMember) float64 {
			if k >= len(m.Validation) {
				return math.NaN()
			}
			return sign * m.Validation[k]
		}),
		By: fmt.Sprintf("best %s on the %s split", o.Name, split),
	}, nil
}

// bestBy returns the index of the member with the largest non-NaN value,
// ties to the smaller id; -1 if none has one.
func bestBy(f Front, value func(FrontMember) float64) int {
	best, bestV := -1, math.Inf(-1)
	for i, m := range f.Members {
		v := value(m)
		if math.IsNaN(v) {
			continue
		}
		if best < 0 || v > bestV || (v == bestV && m.ID < f.Members[best].ID) {
			best, bestV = i, v
		}
	}
	return best
}

// fitnessMeanNorm is a member's mean normalized accuracy on the fitness
// split, NaN when unknown.
func fitnessMeanNorm(m FrontMember) float64 {
	if m.FitnessTasks != nil && m.FitnessTasks.MeanNormalized != nil {
		return *m.FitnessTasks.MeanNormalized
	}
	return math.NaN()
}

// RankedMembers orders front members for the summary table: the chosen
// member (its index; -1 for none) first, then by scalarised cost (ga,
// cmaes) or else by mean normalized fitness-split accuracy (where known),
// ties and unknowns by id. Test scores never order the table.
func RankedMembers(f Front, chosen int) []int {
	idx := make([]int, len(f.Members))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case a == chosen:
			return -1
		case b == chosen:
			return 1
		}
		va, vb := fitnessMeanNorm(f.Members[a]), fitnessMeanNorm(f.Members[b])
		if f.Scalarization != nil {
			va, vb = negCost(f.Members[a]), negCost(f.Members[b])
		}
		switch {
		case va > vb || (!math.IsNaN(va) && math.IsNaN(vb)):
			return -1
		case va < vb || (math.IsNaN(va) && !math.IsNaN(vb)):
			return 1
		}
		return strings.Compare(f.Members[a].ID, f.Members[b].ID)
	})
	return idx
}

// ChosenMember reads a run directory's front.json and returns its
// recommended member as the run's [report] choose key picks it. ok is false
// when the run has no front yet (still going, or stopped before writing
// one).
func ChosenMember(dir string) (m FrontMember, c Choice, ok bool, err error) {
	f, err := ReadFront(dir)
	if errors.Is(err, os.ErrNotExist) {
		return FrontMember{}, Choice{Index: -1}, false, nil
	}
	if err != nil {
		return FrontMember{}, Choice{Index: -1}, false, err
	}
	exp, err := configs.LoadResolved(filepath.Join(dir, ConfigFile), registry.Catalog())
	if err != nil {
		return FrontMember{}, Choice{Index: -1}, false, err
	}
	c, err = ChooseMember(f, exp.Report.Choose)
	if err != nil {
		return FrontMember{}, c, false, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if c.Index < 0 {
		return FrontMember{}, c, false, nil
	}
	return f.Members[c.Index], c, true, nil
}

// negCost is a member's scalarised cost negated (larger is better), NaN
// when unknown.
func negCost(m FrontMember) float64 {
	if m.Cost == nil {
		return math.NaN()
	}
	return -*m.Cost
}

func objectiveNames(objs []fitness.Objective) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return strings.Join(names, ", ")
}
