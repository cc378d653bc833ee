package registry

import (
	"slices"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/search"
)

// Evaluator is an evaluator kind: its name in evaluator.kind and what it
// can give a method besides scores.
type Evaluator struct {
	Name    string
	Summary string
	// Needs are the method needs it provides (NeedScores always).
	Needs []search.Need
}

// Provides reports whether the kind provides need.
func (e Evaluator) Provides(need search.Need) bool {
	return need == search.NeedScores || slices.Contains(e.Needs, need)
}

// evaluators are the evaluator kinds.
var evaluators = []Evaluator{
	{Name: configs.EvaluatorNative, Summary: "Go-native inference on the benchmark's fitness split",
		Needs: []search.Need{search.NeedLossGradients, search.NeedAlignment, search.NeedRecipes}},
	{Name: configs.EvaluatorCommand, Summary: "a user's command scores each merged checkpoint"},
	{Name: configs.EvaluatorNATS, Summary: "evomerge worker processes score candidates natively through NATS JetStream"},
}

// EvaluatorKind returns the named evaluator kind.
func EvaluatorKind(name string) (Evaluator, bool) {
	for _, e := range evaluators {
		if e.Name == name {
			return e, true
		}
	}
	return Evaluator{}, false
}

// providerOf names the first evaluator kind that provides need.
func providerOf(need search.Need) string {
	for _, e := range evaluators {
		if e.Provides(need) {
			return e.Name
		}
	}
	return ""
}
