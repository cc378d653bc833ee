package random

import (
	"math"
	"slices"
	"testing"

	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/searchtest"
)

func TestLatinHypercube(t *testing.T) {
	p := searchtest.Sphere(5) // box [-2, 3]
	m, err := New(Options{BatchSize: 10, Sampling: LHS})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(search.Problem{Space: p.Space, Directions: p.Directions, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		batch, _ := m.Ask()
		if len(batch) != 10 {
			t.Fatalf("batch of %d", len(batch))
		}
		// One sample in each tenth [-2 + k/2, -2 + (k+1)/2) of every dimension.
		for j := 0; j < 5; j++ {
			seen := make([]bool, 10)
			for _, c := range batch {
				k := int(math.Floor((c.Genome.Values[j] + 2) * 2))
				if k < 0 || k > 9 || seen[k] {
					t.Fatalf("dimension %d: slice %d empty or repeated", j, k)
				}
				seen[k] = true
			}
		}
		if err := m.Tell(batch); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUniformDeterministic(t *testing.T) {
	space, _ := population.NewSpace([]population.Dim{
		{Name: "w", Kind: population.KindFloat, Lower: 0, Upper: 2, Default: 1},
		{Name: "k", Kind: population.KindInt, Lower: 1, Upper: 3, Default: 1},
	})
	draw := func(seed uint64) [][]float64 {
		m, _ := New(Options{BatchSize: 300})
		p := searchtest.Sphere(1)
		if err := m.Init(search.Problem{Space: space, Directions: p.Directions, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for r := 0; r < 2; r++ {
			b, _ := m.Ask()
			for _, c := range b {
				out = append(out, c.Genome.Values)
			}
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	counts := map[float64]int{}
	sum := 0.0
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatal("same seed, different samples")
		}
		if err := space.Validate(a[i]); err != nil {
			t.Fatal(err)
		}
		counts[a[i][1]]++
		sum += a[i][0]
	}
	if slices.Equal(a[0], c[0]) {
		t.Fatal("different seeds, same samples")
	}
	// 600 uniform samples: each of 3 levels ≈ 200 (sd ≈ 11.5), mean of w ≈ 1 (sd ≈ 0.024).
	for lvl := 1.0; lvl <= 3; lvl++ {
		if counts[lvl] < 150 || counts[lvl] > 250 {
			t.Errorf("level %v drawn %d times of 600", lvl, counts[lvl])
		}
	}
	if mean := sum / 600; math.Abs(mean-1) > 0.1 {
		t.Errorf("mean of w = %v", mean)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{BatchSize: -1}, {Sampling: "sobol"}} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
