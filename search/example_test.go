package search_test

import (
	"context"
	"fmt"

	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/nsga2"
	"github.com/evomerge/evomerge/search/searchtest"
)

// Run NSGA-II on ZDT1 with an evaluation budget; the last batch is cut to
// fit the budget.
func ExampleRun() {
	p := searchtest.ZDT1(10)
	m, err := nsga2.New(nsga2.Options{PopulationSize: 40})
	if err != nil {
		panic(err)
	}
	res, err := search.Run(context.Background(), m, &searchtest.Evaluator{Problem: p},
		search.Problem{Space: p.Space, Directions: p.Directions, Seed: 1},
		search.Settings{MaxEvaluations: 2020})
	if err != nil {
		panic(err)
	}
	igd, _ := searchtest.IGD(p, res.FrontCandidates(), 200)
	fmt.Println(res.Status, res.Evaluations, res.Generations, igd < 0.2)
	// Output: evaluation-limit 2020 50 true
}
