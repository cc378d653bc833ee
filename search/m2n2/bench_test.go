package m2n2

import (
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// BenchmarkStep is the method's own cost of one M2N2 step (select parents,
// propose the recipe, compete for a place) with a full archive of 20 on
// 1000 fitness examples; evaluation excluded.
func BenchmarkStep(b *testing.B) {
	const examples = 1000
	r := rng.New(1, "bench")
	row := func() []bool {
		out := make([]bool, examples)
		for j := range out {
			out[j] = r.Float64() < 0.5
		}
		return out
	}
	m, err := New(DefaultConfig(19210))
	if err != nil {
		b.Fatal(err)
	}
	space, _ := SeedSpace(20)
	if err := m.Init(search.Problem{Space: space, Directions: []fitness.Direction{fitness.Maximize}, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	batch, _ := m.Ask()
	for i, c := range batch {
		c.ID, c.Status, c.Scores = string(rune('A'+i)), population.StatusOK, []float64{0}
		c.Correct = []population.TaskCorrectness{{Task: "t", Bits: population.BitsetOf(row())}}
	}
	if err := m.Tell(batch); err != nil {
		b.Fatal(err)
	}
	child := []population.TaskCorrectness{{Task: "t", Bits: population.BitsetOf(row())}}
	b.ResetTimer()
	for i := range b.N {
		kids, err := m.Ask()
		if err != nil {
			b.Fatal(err)
		}
		kids[0].ID, kids[0].Status, kids[0].Scores, kids[0].Correct = string(rune(i)), population.StatusOK, []float64{0}, child
		if err := m.Tell(kids); err != nil {
			b.Fatal(err)
		}
	}
}
