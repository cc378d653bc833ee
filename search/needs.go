package search

import (
	"context"
	"fmt"

	"github.com/evomerge/evomerge/population"
)

// Needer is implemented by methods that need more of the evaluator than
// scores (NeedLossGradients, NeedAlignment): Run checks the Problem offers
// it before Init.
type Needer interface {
	Needs() []Need
}

// ContextAsker is implemented by methods whose Ask does long work of its
// own (gradient steps): Run calls AskContext with the run's context, cut
// at the run's time limit, instead of Ask. An AskContext stopped by the
// context returns the context's error.
type ContextAsker interface {
	AskContext(ctx context.Context) ([]*population.Candidate, error)
}

// Stateful is implemented by methods that save their state mid-way through
// Problem.Checkpoint. Restore, called by Run after Init with the last
// state a previous session saved (Settings.MethodState), makes the method
// go on from there: it asks what an uninterrupted run would have asked
// from that point on, so a resumed run ends like an uninterrupted one.
type Stateful interface {
	Restore(state []byte) error
}

// StepResumer is implemented by gradient evaluators whose answers depend
// on how many calls came before (random batches drawn from one stream):
// ResumeAt(n) makes the next call answer as the (n+1)-th would.
type StepResumer interface {
	ResumeAt(calls int) error
}

// RecipeEvaluator is what a method that needs recipe genomes
// (NeedRecipes) finds in Problem.Recipes: the evaluator builds each child
// from its parents' weights as its recipe says and scores it per example.
// It tells the method the length of a flattened model, and is told which
// candidates the method keeps (the others' weights may be released).
type RecipeEvaluator interface {
	Parameters() int64
	ArchiveChanged(ids []string)
}

// checkNeeds reports the first need of m that p does not meet.
func checkNeeds(m Method, p Problem) error {
	n, ok := m.(Needer)
	if !ok {
		return nil
	}
	for _, need := range n.Needs() {
		missing := false
		switch need {
		case NeedLossGradients:
			missing = p.Gradients == nil
		case NeedAlignment:
			missing = p.Alignment == nil
		case NeedRecipes:
			missing = p.Recipes == nil
		}
		if missing {
			return fmt.Errorf("search: the method needs %s, which this run's evaluator cannot provide: use the native evaluator", need)
		}
	}
	return nil
}
