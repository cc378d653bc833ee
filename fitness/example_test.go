package fitness_test

import (
	"fmt"

	"github.com/evomerge/evomerge/fitness"
)

// Two tasks whose accuracies are maximised: fronts, crowding, hypervolume
// against the reference point (0, 0), and normalized accuracy against the
// experts.
func Example() {
	objectives := []fitness.Objective{
		{Name: "even/accuracy", Task: "even", Metric: "accuracy", Direction: fitness.Maximize},
		{Name: "odd/accuracy", Task: "odd", Metric: "accuracy", Direction: fitness.Maximize},
	}
	if err := fitness.ValidateObjectives(objectives); err != nil {
		fmt.Println(err)
		return
	}
	dirs := fitness.Directions(objectives)
	scores := [][]float64{
		{0.9, 0.5}, // candidate 0
		{0.8, 0.8}, // candidate 1
		{0.5, 0.9}, // candidate 2
		{0.7, 0.7}, // candidate 3, dominated by 1
	}
	fronts := fitness.NonDominatedSort(scores, dirs)
	fmt.Println("fronts:", fronts)
	fmt.Println("crowding:", fitness.CrowdingDistanceTo(nil, scores, fronts[0]))

	// Union of the boxes [0, p]: 0.1·0.5 + 0.3·0.8 + 0.5·0.9 = 0.74.
	hv, _ := fitness.Hypervolume(scores, []float64{0, 0}, dirs)
	fmt.Printf("hypervolume: %.2f\n", hv)

	experts := []float64{0.95, 0.9}
	for _, i := range fronts[0] {
		nacc, _ := fitness.AverageNormalizedAccuracy(scores[i], experts)
		fmt.Printf("candidate %d: normalized accuracy %.3f\n", i, nacc)
	}
	// Output:
	// fronts: [[0 1 2] [3]]
	// crowding: [+Inf 2 +Inf]
	// hypervolume: 0.74
	// candidate 0: normalized accuracy 0.751
	// candidate 1: normalized accuracy 0.865
	// candidate 2: normalized accuracy 0.763
}

// M2N2's resource competition: a model that alone solves datapoints keeps a
// high fitness even though its accuracy is low.
func ExampleCompetition() {
	correct := [][]bool{
		{true, true, true, false, false},  // generalist
		{true, true, true, false, false},  // its twin
		{false, false, false, true, true}, // specialist
	}
	scores := make([][]float64, len(correct))
	for i, c := range correct {
		scores[i] = fitness.CorrectnessTo(nil, c)
	}
	for _, alpha := range []float64{0, 1} {
		c := fitness.Competition{Alpha: alpha}
		f, _ := c.FitnessTo(nil, scores)
		worst, _ := c.Worst(scores)
		fmt.Printf("alpha=%g fitness=%v worst=%d\n", alpha, f, worst)
	}
	// Output:
	// alpha=0 fitness=[3 3 2] worst=2
	// alpha=1 fitness=[1.5 1.5 2] worst=0
}
