package tensor

import (
	"math"
	"runtime"

	"github.com/evomerge/evomerge/internal/par"
)

// Merge kernels: k-th value selection (quickselect, no sorting), magnitude
// masks, TIES sign election with disjoint merge, and SLERP coefficients.

// SelectKthLargest returns the k-th largest value of buf (k counted from 1),
// reordering buf in place. It is quickselect with a median-of-three pivot and a
// three-way partition, so runs of equal values (zeros in sparse task vectors)
// cost linear time. NaN values are not allowed.
func SelectKthLargest(buf []float32, k int) float32 {
	if k < 1 || k > len(buf) {
		panic("tensor: SelectKthLargest: k out of range")
	}
	// Select the element at position k-1 of the descending order.
	target := k - 1
	lo, hi := 0, len(buf)-1
	for lo < hi {
		if hi-lo < 16 {
			insertionSortDesc(buf[lo : hi+1])
			return buf[target]
		}
		p := medianOfThree(buf[lo], buf[lo+(hi-lo)/2], buf[hi])
		// Three-way partition, descending: [lo,lt) > p, [lt,gt] == p, (gt,hi] < p.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			v := buf[i]
			switch {
			case v > p:
				buf[lt], buf[i] = buf[i], buf[lt]
				lt++
				i++
			case v < p:
				buf[gt], buf[i] = buf[i], buf[gt]
				gt--
			default:
				i++
			}
		}
		switch {
		case target < lt:
			hi = lt - 1
		case target > gt:
			lo = gt + 1
		default:
			return p
		}
	}
	return buf[target]
}

// radixSelectMin is the length from which KthLargestMagnitude uses its
// histogram pass instead of copying every magnitude.
const radixSelectMin = 4096

// magnitudeBins is the number of histogram bins: the 15 high bits of |x|'s
// float32 encoding below the sign, whose unsigned order is the value order.
const magnitudeBins = 1 << 15

// KthLargestMagnitude returns the k-th largest |x| (k counted from 1) without
// modifying x; scratch needs len(x) elements. Large inputs take two streaming
// passes: a histogram of the high bits of |x| locates the bin holding the k-th
// value, then only that bin's values are copied and selected exactly. Both passes
// run in parallel over fixed parts of x with integer counts, so the result is the
// same for any GOMAXPROCS.
func KthLargestMagnitude(x []float32, k int, scratch []float32) float32 {
	n := len(x)
	if k < 1 || k > n {
		panic("tensor: KthLargestMagnitude: k out of range")
	}
	if n < radixSelectMin {
		mag := scratch[:n]
		AbsInto(mag, x)
		return SelectKthLargest(mag, k)
	}
	t := topKTasks.Get()
	defer topKTasks.Put(t)
	thr, _ := t.kth(x, k, scratch, false)
	return thr
}

// topKParallelMin is the length from which the selection passes run in parallel.
const topKParallelMin = 1 << 16

// maxTopKParts bounds the parallel parts of the selection passes (each owns a
// histogram of magnitudeBins counters).
const maxTopKParts = 8

type topKPhase uint8

const (
	topKHistogram topKPhase = iota
	topKCollect
	topKCount
	topKMask
	topKBracket
)

// topKTask holds the per-part state of the parallel selection passes over x,
// split into parts contiguous ranges; results are integer counts and element-wise
// decisions, identical whatever the number of parts.
type topKTask struct {
	phase   topKPhase
	x, dst  []float32
	scratch []float32
	parts   int
	hist    [maxTopKParts][magnitudeBins]uint32
	hist2   [maxTopKParts][magnitudeBins]uint32 // second counter set: see topKHistogram
	bin     uint32
	offset  [maxTopKParts]int // topKCollect: where part p's bin values go
	thr     float32
	above   [maxTopKParts]int // topKCount: |x| > thr per part
	equal   [maxTopKParts]int // topKCount: |x| == thr per part
	ties    [maxTopKParts]int // topKMask: ties part p keeps
	lo, hi  float32           // topKBracket: the bracket of magnitudes collected
	bAbove  [maxTopKParts]int // topKBracket: |x| > hi per part
	bCount  [maxTopKParts]int // topKBracket: values collected per part
}

var topKTasks par.FreeList[topKTask]

func (t *topKTask) partRange(p int) (lo, hi int) {
	n := len(t.x)
	return p * n / t.parts, (p + 1) * n / t.parts
}

// Run executes the current phase on part p (the ForEach body).
func (t *topKTask) Run(p int) {
	lo, hi := t.partRange(p)
	x := t.x[lo:hi]
	switch t.phase {
	case topKHistogram:
		// Two counter sets for alternate elements: runs of values in one bin
		// (common: magnitudes cluster) do not wait on the previous increment.
		h, h2 := &t.hist[p], &t.hist2[p]
		clear(h[:])
		clear(h2[:])
		i := 0
		for ; i+1 < len(x); i += 2 {
			h[(math.Float32bits(x[i])&^(1<<31))>>16]++
			h2[(math.Float32bits(x[i+1])&^(1<<31))>>16]++
		}
		if i < len(x) {
			h[(math.Float32bits(x[i])&^(1<<31))>>16]++
		}
		for b, c := range h2 {
			h[b] += c
		}
	case topKCollect:
		out := t.scratch[t.offset[p]:]
		m := 0
		for _, v := range x {
			key := math.Float32bits(v) &^ (1 << 31)
			if key>>16 == t.bin {
				out[m] = math.Float32frombits(key)
				m++
			}
		}
	case topKCount:
		above, equal := 0, 0
		for _, v := range x {
			a := abs32(v)
			above += b2i(a > t.thr)
			equal += b2i(a == t.thr)
		}
		t.above[p], t.equal[p] = above, equal
	case topKBracket:
		// Each part collects into its own index range of scratch, which
		// always has room.
		t.bAbove[p], t.bCount[p] = bracketScan(x, t.lo, t.hi, t.scratch[lo:hi])
	case topKMask:
		// The part's tie budget: keep the first ties entries equal to thr.
		KeepMagnitudeAbove(t.dst[lo:hi], x, t.thr, t.ties[p])
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// setup prepares the parts for x.
func (t *topKTask) setup(x []float32) {
	t.x = x
	t.parts = 1
	if len(x) >= topKParallelMin {
		t.parts = max(1, min(maxTopKParts, runtime.GOMAXPROCS(0), len(x)/topKParallelMin))
	}
}

func (t *topKTask) runPhase(phase topKPhase) {
	t.phase = phase
	ForEach(t.parts, t)
}

// bracketSamples bounds the sample kthBracket selects on; bracketSigmas is the
// half-width of its bracket in standard deviations of the sample rank.
const (
	bracketSamples = 1 << 16
	bracketSigmas  = 4
)

// kthBracket is the fast path of kth: the k-th largest magnitude of a strided
// sample of x predicts where the k-th of x lies; a bracket of magnitudes
// around it, several standard deviations of the sample rank wide, is found by
// selection on the sample. One vectorised pass then counts the magnitudes above
// the bracket and collects those inside it, and the k-th is selected exactly
// among the collected values. ok is false when the bracket missed the k-th
// value (rare; kth then runs the histogram passes). The result is exact and
// the same for any number of parts; only the speed depends on the sample.
// Counts are filled as in kth.
func (t *topKTask) kthBracket(x []float32, k int, scratch []float32, withCounts bool) (thr float32, counted, ok bool) {
	n := len(x)
	samples := min(n/8, bracketSamples)
	if samples < 1024 {
		return 0, false, false
	}
	step := n / samples
	sample := scratch[:samples]
	for i := range sample {
		sample[i] = abs32(x[i*step])
	}
	q := float64(k) / float64(n)
	rank := q * float64(samples)
	spread := bracketSigmas*math.Sqrt(float64(samples)*q*(1-q)) + 2
	t.hi, t.lo = float32(math.Inf(1)), 0
	if r := int(math.Floor(rank - spread)); r >= 1 {
		t.hi = SelectKthLargest(sample, r)
	}
	if r := int(math.Ceil(rank + spread)); r <= samples {
		t.lo = SelectKthLargest(sample, r)
	}
	t.scratch = scratch
	t.runPhase(topKBracket)
	t.scratch = nil
	above, m := 0, 0
	for p := range t.parts {
		above += t.bAbove[p]
		m += t.bCount[p]
	}
	if above >= k || above+m < k {
		return 0, false, false
	}
	// Gather the parts' collected values, in part order, at the front.
	for p := range t.parts {
		lo, _ := t.partRange(p)
		copy(scratch[t.offsetOf(p):], scratch[lo:lo+t.bCount[p]])
	}
	vals := scratch[:m]
	counted = withCounts && 2*m <= len(scratch)
	sel := vals
	if counted {
		sel = scratch[m : 2*m]
		copy(sel, vals)
	}
	thr = SelectKthLargest(sel, k-above)
	if counted {
		for p := range t.parts {
			a, e := t.bAbove[p], 0
			off := t.offsetOf(p)
			for _, v := range vals[off : off+t.bCount[p]] {
				a += b2i(v > thr)
				e += b2i(v == thr)
			}
			t.above[p], t.equal[p] = a, e
		}
	}
	t.x = nil
	return thr, counted, true
}

// offsetOf is where part p's bracket values start once gathered.
func (t *topKTask) offsetOf(p int) int {
	off := 0
	for q := range p {
		off += t.bCount[q]
	}
	return off
}

// kth is KthLargestMagnitude for len(x) ≥ radixSelectMin. When withCounts is
// set and scratch has room for two copies of the threshold's bin, it also fills
// t.above and t.equal (per part, |x| above and equal to the result) from the
// histogram and the bin values, so no further pass over x is needed; it reports
// whether it did.
func (t *topKTask) kth(x []float32, k int, scratch []float32, withCounts bool) (float32, bool) {
	t.setup(x)
	if thr, counted, ok := t.kthBracket(x, k, scratch, withCounts); ok {
		return thr, counted
	}
	t.runPhase(topKHistogram)
	above, bin := 0, 0
	for b := magnitudeBins - 1; b >= 0; b-- {
		c := 0
		for p := range t.parts {
			c += int(t.hist[p][b])
		}
		if above+c >= k {
			bin = b
			break
		}
		above += c
	}
	t.bin = uint32(bin)
	m := 0
	for p := range t.parts {
		t.offset[p] = m
		m += int(t.hist[p][bin])
	}
	t.scratch = scratch[:m]
	t.runPhase(topKCollect)
	counted := withCounts && 2*m <= len(scratch)
	sel := t.scratch
	if counted {
		// Select on a copy; the bin values stay in part order for the counts.
		sel = scratch[m : 2*m]
		copy(sel, t.scratch)
	}
	thr := SelectKthLargest(sel, k-above)
	if counted {
		for p := range t.parts {
			// Values in higher bins are all above thr.
			a := 0
			for b := bin + 1; b < magnitudeBins; b++ {
				a += int(t.hist[p][b])
			}
			e := 0
			end := m
			if p+1 < t.parts {
				end = t.offset[p+1]
			}
			for _, v := range t.scratch[t.offset[p]:end] {
				a += b2i(v > thr)
				e += b2i(v == thr)
			}
			t.above[p], t.equal[p] = a, e
		}
	}
	t.x, t.scratch = nil, nil
	return thr, counted
}

func medianOfThree(a, b, c float32) float32 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	if a > b {
		b = a
	}
	return b
}

func insertionSortDesc(s []float32) {
	for i := 1; i < len(s); i++ {
		v := s[i]
		j := i
		for j > 0 && s[j-1] < v {
			s[j] = s[j-1]
			j--
		}
		s[j] = v
	}
}

// TopKMagnitude sets dst to x where |x| is among the k largest magnitudes and
// to 0 elsewhere, using scratch (len ≥ len(x)) for the selection. Exactly k
// entries are kept: entries tied with the k-th magnitude are kept in index
// order until k is reached. k ≤ 0 zeroes dst; k ≥ len(x) copies x. dst may
// alias x. Large inputs are processed in parallel over fixed parts (the tie
// budget of each part comes from the counts of the parts before it), with the
// same result for any GOMAXPROCS.
func TopKMagnitude(dst, x []float32, k int, scratch []float32) {
	n := len(x)
	if len(dst) != n {
		panic("tensor: TopKMagnitude: lengths differ")
	}
	if k <= 0 {
		clear(dst)
		return
	}
	if k >= n {
		copy(dst, x)
		return
	}
	if n < radixSelectMin {
		thr := KthLargestMagnitude(x, k, scratch)
		ties := k - countAbove(x, thr)
		for i, v := range x {
			a := abs32(v)
			switch {
			case a > thr:
				dst[i] = v
			case a == thr && ties > 0:
				dst[i] = v
				ties--
			default:
				dst[i] = 0
			}
		}
		return
	}
	t := topKTasks.Get()
	defer topKTasks.Put(t)
	thr, counted := t.kth(x, k, scratch, true)
	t.thr = thr
	t.setup(x)
	if !counted {
		t.runPhase(topKCount)
	}
	above := 0
	for p := range t.parts {
		above += t.above[p]
	}
	ties := k - above
	for p := range t.parts {
		t.ties[p] = min(ties, t.equal[p])
		ties -= t.ties[p]
	}
	t.dst = dst
	t.runPhase(topKMask)
	t.x, t.dst = nil, nil
}

// KeepMagnitudeAbove sets dst to x where |x| > thr, keeps the first ties
// entries (in index order) with |x| == thr, and zeroes the rest: the mask of a
// top-k selection whose threshold and tie count were found elsewhere (a
// model-wide trim). A read-only scan finds where the kept ties end; the rest
// of x needs only the comparison with thr, which is vectorised where the CPU
// allows. dst may alias x.
func KeepMagnitudeAbove(dst, x []float32, thr float32, ties int) {
	if len(dst) != len(x) {
		panic("tensor: KeepMagnitudeAbove: lengths differ")
	}
	end := 0
	for left := ties; left > 0 && end < len(x); end++ {
		if abs32(x[end]) == thr {
			left--
		}
	}
	for i, v := range x[:end] {
		a := abs32(v)
		keep := a >= thr
		dst[i] = math.Float32frombits(math.Float32bits(v) & -uint32(b2i(keep)))
	}
	maskAbove(dst[end:], x[end:], thr)
}

// BandMagnitude keeps the entries of x whose magnitude rank is in
// [top, top+keep) and zeroes the rest: it drops the top largest magnitudes
// (outliers) and everything below the band. Ranks order entries by descending
// magnitude, ties by ascending index, so exactly min(keep, len(x)−top) entries
// survive and the set kept by TopKMagnitude(k) is always the rank prefix [0,k).
// scratch needs len(x) elements. dst may alias x.
func BandMagnitude(dst, x []float32, top, keep int, scratch []float32) {
	n := len(x)
	if len(dst) != n {
		panic("tensor: BandMagnitude: lengths differ")
	}
	top = max(top, 0)
	if keep <= 0 || top >= n {
		clear(dst)
		return
	}
	keep = min(keep, n-top)
	// prefix(k) is the rank prefix [0,k): |x| > thr_k, plus the first
	// (k − above_k) entries equal to thr_k in index order.
	hiThr, hiTies := float32(math.Inf(1)), 0
	if top > 0 {
		hiThr = KthLargestMagnitude(x, top, scratch)
		hiTies = top - countAbove(x, hiThr)
	}
	loThr, loTies := float32(0), n
	if top+keep < n {
		loThr = KthLargestMagnitude(x, top+keep, scratch)
		loTies = top + keep - countAbove(x, loThr)
	} else {
		loThr = float32(math.Inf(-1))
	}
	for i, v := range x {
		a := abs32(v)
		inLo := a > loThr
		if a == loThr {
			inLo = loTies > 0
			loTies--
		}
		inHi := a > hiThr
		if a == hiThr {
			inHi = hiTies > 0
			hiTies--
		}
		if inLo && !inHi {
			dst[i] = v
		} else {
			dst[i] = 0
		}
	}
}

func countAbove(x []float32, thr float32) int {
	c := 0
	for _, v := range x {
		if abs32(v) > thr {
			c++
		}
	}
	return c
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// DisjointMerge is TIES's elect + disjoint merge on weighted entries
// Δ_i = w[i]·xs[i][e], as mergekit. For each element e it elects the sign
// γ = sign(Σ_i Δ_i) (a zero sum elects +), then combines the entries that are
// non-zero and have sign γ: num = Σ_agree Δ_i; with
// mean, dst[e] = num / Σ_agree w[i] (0 when nothing agrees), else dst[e] = num.
// The sums run in float32 in model order.
func DisjointMerge(dst []float32, w []float32, xs [][]float32, mean bool) {
	checkVecs(len(dst), xs, w, "DisjointMerge")
	if len(dst) < vecParallelMin {
		disjointBlock(dst, w, xs, mean, 0)
		return
	}
	j := getVecJob(vecDisjoint, len(dst))
	j.dst, j.w, j.xs, j.mean = dst, w, xs, mean
	j.start()
	putVecJob(j)
}

func disjointBlock(dst []float32, w []float32, xs [][]float32, mean bool, off int) {
	const chunk = 1024
	var sum, num, den, sign [chunk]float32
	for c0 := 0; c0 < len(dst); c0 += chunk {
		c1 := min(c0+chunk, len(dst))
		m := c1 - c0
		su, nu, de, sg := sum[:m], num[:m], den[:m], sign[:m]
		clear(su)
		clear(nu)
		clear(de)
		for i, x := range xs {
			axpy(su, x[off+c0:off+c1], w[i])
		}
		// sg = +1 where the elected sign is + (Σ ≥ 0), else −1.
		electSign(sg, su)
		for i, x := range xs {
			disjointAcc(nu, de, x[off+c0:off+c1], sg, w[i])
		}
		if mean {
			divOrZero(dst[c0:c1], nu, de)
		} else {
			copy(dst[c0:c1], nu)
		}
	}
}

// SlerpCoefficients returns (ca, cb) such that ca·a + cb·b is the spherical
// interpolation at t between vectors a and b whose cosine is cos:
// ca = sin((1−t)Ω)/sin Ω, cb = sin(tΩ)/sin Ω with Ω = arccos(cos). When
// |cos| > threshold (near-colinear or anti-parallel, where arccos is
// ill-conditioned) it returns the linear coefficients (1−t, t) and linear=true.
func SlerpCoefficients(t, cos, threshold float64) (ca, cb float64, linear bool) {
	cos = math.Max(-1, math.Min(1, cos))
	if math.Abs(cos) > threshold {
		return 1 - t, t, true
	}
	omega := math.Acos(cos)
	so := math.Sin(omega)
	return math.Sin((1-t)*omega) / so, math.Sin(t*omega) / so, false
}
