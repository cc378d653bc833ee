package fitness

import (
	"fmt"
	"math"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

var (
	sinkFloat  float64
	sinkFronts [][]int
)

// spherePoints returns n mutually non-dominated points on the positive unit
// sphere in m objectives (minimisation, reflected): the worst case for
// hypervolume algorithms because every point contributes.
func spherePoints(n, m int, seed uint64) [][]float64 {
	r := rng.New(seed, "fitness-bench", "sphere")
	pts := make([][]float64, n)
	for i := range pts {
		p := make([]float64, m)
		norm := 0.0
		for j := range p {
			p[j] = math.Abs(r.NormFloat64()) + 1e-9
			norm += p[j] * p[j]
		}
		norm = math.Sqrt(norm)
		for j := range p {
			p[j] = 1 - p[j]/norm
		}
		pts[i] = p
	}
	return pts
}

func BenchmarkNonDominatedSort(b *testing.B) {
	for _, m := range []int{2, 3} {
		for _, n := range []int{100, 300, 1000} {
			points := randomUnitPoints(rng.New(1, "fitness-bench", "nds"), n, m)
			b.Run(fmt.Sprintf("M=%d/N=%d", m, n), func(b *testing.B) {
				var s Sorter
				b.ReportAllocs()
				for b.Loop() {
					sinkFronts = s.Sort(points, nil)
				}
			})
		}
	}
}

func BenchmarkCrowdingDistance(b *testing.B) {
	for _, n := range []int{100, 1000} {
		points := spherePoints(n, 3, 2)
		front := make([]int, n)
		for i := range front {
			front[i] = i
		}
		dst := make([]float64, n)
		b.Run(fmt.Sprintf("M=3/N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				CrowdingDistanceTo(dst, points, front)
			}
		})
	}
}

func BenchmarkHypervolume(b *testing.B) {
	cases := []struct{ m, n int }{{2, 100}, {2, 1000}, {3, 100}, {3, 1000}, {4, 100}, {4, 300}, {5, 50}, {5, 200}, {6, 100}}
	for _, tc := range cases {
		points := spherePoints(tc.n, tc.m, 3)
		ref := make([]float64, tc.m)
		for j := range ref {
			ref[j] = 1.1
		}
		b.Run(fmt.Sprintf("M=%d/N=%d", tc.m, tc.n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := Hypervolume(points, ref, nil)
				if err != nil {
					b.Fatal(err)
				}
				sinkFloat = v
			}
		})
	}
}

func BenchmarkHypervolumeMonteCarlo(b *testing.B) {
	for _, n := range []int{100, 1000} {
		points := spherePoints(n, 4, 4)
		ref := []float64{1.1, 1.1, 1.1, 1.1}
		b.Run(fmt.Sprintf("M=4/N=%d/samples=100000", n), func(b *testing.B) {
			for b.Loop() {
				est, err := HypervolumeMonteCarlo(points, ref, nil, 100_000, 1)
				if err != nil {
					b.Fatal(err)
				}
				sinkFloat = est.Value
			}
		})
	}
}

func BenchmarkCompetitionFitness(b *testing.B) {
	// M2N2's reference size: 20 archive slots + 1 child, 1,437 datapoints.
	r := rng.New(5, "fitness-bench", "competition")
	scores := make([][]float64, 21)
	for i := range scores {
		scores[i] = make([]float64, 1437)
		for j := range scores[i] {
			scores[i][j] = float64(r.IntN(2))
		}
	}
	dst := make([]float64, len(scores))
	c := Competition{Alpha: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.FitnessTo(dst, scores); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHypervolumeContributions(b *testing.B) {
	for _, tc := range []struct{ m, n int }{{2, 100}, {3, 100}, {4, 50}} {
		points := spherePoints(tc.n, tc.m, 6)
		ref := make([]float64, tc.m)
		for j := range ref {
			ref[j] = 1.1
		}
		dst := make([]float64, tc.n)
		b.Run(fmt.Sprintf("M=%d/N=%d", tc.m, tc.n), func(b *testing.B) {
			for b.Loop() {
				if _, err := HypervolumeContributionsTo(dst, points, ref, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParetoFront(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		points := randomUnitPoints(rng.New(7, "fitness-bench", "front"), n, 3)
		b.Run(fmt.Sprintf("M=3/N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkFronts = [][]int{ParetoFront(points, nil)}
			}
		})
	}
}
