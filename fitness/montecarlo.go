package fitness

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/evomerge/evomerge/internal/par"
	"github.com/evomerge/evomerge/internal/rng"
)

// Estimate is a Monte Carlo hypervolume estimate with its error.
type Estimate struct {
	// Value is the estimated hypervolume: BoxVolume · Hits / Samples.
	Value float64
	// StdErr is the estimated standard error,
	// BoxVolume · sqrt(p̂(1-p̂)/Samples) with p̂ = Hits/Samples.
	StdErr float64
	// Bound is a distribution-free 95% error bound from Hoeffding's
	// inequality: with probability at least 0.95 the true hypervolume lies in
	// [Value-Bound, Value+Bound]. Bound = BoxVolume·sqrt(ln(2/0.05)/(2·Samples)),
	// so it halves when Samples quadruples.
	Bound float64
	// BoxVolume is the volume of the sampling box, between the ideal point of
	// the contributing points and the reference point.
	BoxVolume float64
	// Samples is the number of uniform points drawn; Hits how many of them
	// were dominated.
	Samples, Hits int
}

// mcBlock is the number of samples drawn from one random stream. Blocks are
// fixed, so the estimate does not depend on how many goroutines draw them.
const mcBlock = 1 << 13

// hoeffding95 is ln(2/δ)/2 for δ = 0.05.
var hoeffding95 = math.Log(2/0.05) / 2

// HypervolumeMonteCarlo estimates the hypervolume of Hypervolume (same
// conventions for ref and dirs) from samples uniform points in the box between
// the ideal point of the contributing points and ref: the estimate is the box
// volume times the fraction of samples dominated by some point. It works in
// any number of objectives, at O(samples · N · M) cost, and is meant for M ≥ 4
// where the exact algorithm is slow.
//
// The result is a deterministic function of the inputs and seed: samples are
// drawn in fixed blocks of 8192, block b from the stream rng.New(seed,
// "fitness/hypervolume-mc", b), and blocks run on all cores. The error bound
// is reported in the Estimate. It returns an error if samples < 1 or ref is
// invalid (see Hypervolume).
func HypervolumeMonteCarlo(points [][]float64, ref []float64, dirs []Direction, samples int, seed uint64) (Estimate, error) {
	if samples < 1 {
		return Estimate{}, fmt.Errorf("fitness: Monte Carlo hypervolume needs at least 1 sample, got %d", samples)
	}
	pts, _, refCost, err := boundedCosts(points, ref, dirs)
	if err != nil {
		return Estimate{}, err
	}
	est := Estimate{Samples: samples}
	if len(pts) == 0 {
		return est, nil
	}

	lo := slices.Clone(pts[0])
	for _, p := range pts[1:] {
		for j, v := range p {
			lo[j] = min(lo[j], v)
		}
	}
	box := 1.0
	for j := range lo {
		box *= refCost[j] - lo[j]
	}
	// Only points whose first cost is at most the sample's can dominate it:
	// with the points sorted by first cost, a binary search bounds the scan.
	slices.SortFunc(pts, func(a, b []float64) int { return cmp.Compare(a[0], b[0]) })
	firsts := make([]float64, len(pts))
	for i, p := range pts {
		firsts[i] = p[0]
	}

	blocks := (samples + mcBlock - 1) / mcBlock
	task := &mcTask{seed: seed, samples: samples, lo: lo, refCost: refCost, firsts: firsts, pts: pts, hits: make([]int, blocks)}
	par.Range(task, blocks, 1)
	hits := task.hits
	for _, h := range hits {
		est.Hits += h
	}
	p := float64(est.Hits) / float64(samples)
	est.BoxVolume = box
	est.Value = box * p
	est.StdErr = box * math.Sqrt(p*(1-p)/float64(samples))
	est.Bound = box * math.Sqrt(hoeffding95/float64(samples))
	return est, nil
}

// mcTask counts, per block of samples, the samples the points dominate.
// Block b draws from its own stream, so the count does not depend on which
// goroutine runs it.
type mcTask struct {
	seed        uint64
	samples     int
	lo, refCost []float64
	firsts      []float64
	pts         [][]float64
	hits        []int
}

func (t *mcTask) RunRange(b0, b1 int) {
	x := make([]float64, len(t.lo))
	for b := b0; b < b1; b++ {
		r := rng.New(t.seed, "fitness/hypervolume-mc", strconv.Itoa(b))
		n := min(mcBlock, t.samples-b*mcBlock)
		count := 0
		for range n {
			for j := range x {
				x[j] = t.lo[j] + r.Float64()*(t.refCost[j]-t.lo[j])
			}
			k, found := slices.BinarySearch(t.firsts, x[0])
			for found && k < len(t.firsts) && t.firsts[k] == x[0] {
				k++ // include every point tied with the sample
			}
			if weaklyDominatedBy(x, t.pts[:k]) {
				count++
			}
		}
		t.hits[b] = count
	}
}
