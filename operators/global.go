package operators

import (
	"math"

	"github.com/evomerge/evomerge/internal/tensor"
)

// globalKth finds exact k-th largest values over values spread across every
// tensor of a model, with memory bounded by a histogram plus one bin's worth of
// values (not the model size). Pass 1 (observe) counts each stream's values in
// 65,536 bins of the order-preserving top 16 bits of their float32 encoding;
// the bin holding each query's k-th value is then known. Pass 2 (collect) keeps
// only the values in that bin, with the index of their tensor, and a selection
// inside it gives the exact k-th value. Tensors must be visited in the same
// (canonical) order in both passes; ties at the threshold are then assigned to
// tensors in that order, so a scope-wide top-k keeps exactly k entries whatever
// order the tensors are later merged in.
type globalKth struct {
	hist    [][]int64 // per stream, 1<<16 bins
	queries []kthQuery
}

type kthQuery struct {
	stream int
	k      int64 // 1-based rank from the largest
	// filled after pass 1
	bin       uint32
	aboveBin  int64
	collected []float32
	tensorIdx []int32
	// filled by finish
	value float32
	// ties[t] = entries equal to value to keep in tensor t (index order).
	ties map[int32]int64
}

func newGlobalKth(streams int) *globalKth {
	g := &globalKth{hist: make([][]int64, streams)}
	for i := range g.hist {
		g.hist[i] = make([]int64, 1<<16)
	}
	return g
}

// orderKey maps a float32 to a uint32 whose unsigned order is the float order.
func orderKey(v float32) uint32 {
	b := math.Float32bits(v)
	if b&(1<<31) != 0 {
		return ^b
	}
	return b | 1<<31
}

func (g *globalKth) observe(stream int, vals []float32) {
	h := g.hist[stream]
	for _, v := range vals {
		h[orderKey(v)>>16]++
	}
}

// addQuery registers a query for the k-th largest value of stream (after pass
// 1); it returns the query index. k is clamped to [1, count].
func (g *globalKth) addQuery(stream int, k int64) int {
	h := g.hist[stream]
	var total int64
	for _, c := range h {
		total += c
	}
	k = max(1, min(k, total))
	q := kthQuery{stream: stream, k: k}
	var above int64
	for b := len(h) - 1; b >= 0; b-- {
		if above+h[b] >= k {
			q.bin, q.aboveBin = uint32(b), above
			break
		}
		above += h[b]
	}
	g.queries = append(g.queries, q)
	return len(g.queries) - 1
}

func (g *globalKth) collect(stream int, tensorIdx int, vals []float32) {
	for qi := range g.queries {
		q := &g.queries[qi]
		if q.stream != stream {
			continue
		}
		for _, v := range vals {
			if orderKey(v)>>16 == q.bin {
				q.collected = append(q.collected, v)
				q.tensorIdx = append(q.tensorIdx, int32(tensorIdx))
			}
		}
	}
}

// finish computes every query's value and per-tensor tie quotas.
func (g *globalKth) finish() {
	for qi := range g.queries {
		q := &g.queries[qi]
		if len(q.collected) == 0 {
			continue
		}
		r := q.k - q.aboveBin
		buf := append([]float32(nil), q.collected...)
		q.value = tensor.SelectKthLargest(buf, int(r))
		var above int64
		for _, v := range q.collected {
			if v > q.value {
				above++
			}
		}
		need := r - above
		q.ties = map[int32]int64{}
		for i, v := range q.collected {
			if v == q.value && need > 0 {
				q.ties[q.tensorIdx[i]]++
				need--
			}
		}
		q.collected, q.tensorIdx = nil, nil
	}
}

// quantileRank returns the 1-based rank from the largest of the nearest-rank
// q-quantile (q in [0,1]) of count values.
func quantileRank(q float64, count int64) int64 {
	pos := int64(math.Round(q * float64(count-1))) // ascending position
	return count - pos
}

// keepTopWithTies writes x where |x| > thr, plus the first ties entries with
// |x| == thr, else 0.
func keepTopWithTies(dst, x []float32, thr float32, ties int64) {
	tensor.KeepMagnitudeAbove(dst, x, thr, int(min(ties, int64(len(x)))))
}
