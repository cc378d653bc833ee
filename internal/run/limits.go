package run

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/search"
)

// Memory limits of configuration values. Every concurrent evaluation holds
// a merged model (and the evaluator's buffers, about as large again); every
// member of a population holds a few vectors of the searched dimensions.
// A run whose values would need more than memoryShare of the memory the
// machine has available is refused before anything is allocated, naming
// the key and what it would need, instead of dying with out of memory.
const (
	memoryShare = 0.8
	// evalBuffersPerModel is the memory of one concurrent evaluation in
	// merged-model sizes: the merged parameters and the evaluator's
	// buffers.
	evalBuffersPerModel = 2
	// memberVectors is how many float64 vectors of the searched dimensions
	// one population member costs (its point, its genome, parents' and
	// offspring copies), and memberOverhead its fixed bytes (candidate id,
	// scores, bookkeeping); populations are held twice (parents and
	// offspring).
	memberVectors  = 3
	memberOverhead = 512
)

// memAvailable is the memory the kernel says new allocations can use
// (MemAvailable of /proc/meminfo); ok is false where it is unknown.
var memAvailable = func() (uint64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		return kb * 1024, err == nil
	}
	return 0, false
}

// modelBytes is the float32 size of one merged model of the source.
func modelBytes(src operators.Source) uint64 {
	var n uint64
	for _, t := range src.Tensors() {
		n += uint64(t.NumElements())
	}
	return 4 * n
}

// checkMemoryLimits refuses search.concurrency and population sizes whose
// buffers would not fit the machine's available memory. model is the size
// of one merged model, dims the number of searched dimensions.
func checkMemoryLimits(exp *configs.Experiment, model uint64, dims int, workers int) error {
	avail, ok := memAvailable()
	if !ok {
		return nil
	}
	budget := uint64(memoryShare * float64(avail))
	var ps configs.Problems
	if workers > 1 {
		per := evalBuffersPerModel * model
		if need, over := mulBytes(workers, per); over || need > budget {
			ps = append(ps, exp.Problem("search.concurrency", fmt.Sprintf(
				"%d concurrent evaluations need about %s (%d × %s for a merged model and its buffers) but %s is available: lower it (each native evaluation already uses every core, so 1 or 2 is usually fastest)",
				workers, formatNeed(need, over), workers, configs.FormatByteSize(per), configs.FormatByteSize(avail))))
		}
	}
	for _, p := range populationKeys(exp, model, dims) {
		need, over := mulBytes(p.size, p.each)
		extra := ""
		if p.sorted {
			// Non-dominated sorting of parents and offspring (2N points)
			// keeps, per point, the points it dominates: up to (2N)²/2
			// indices of 8 bytes.
			sq, o1 := mulBytes(p.size, 8*uint64(p.size))
			sort, o2 := mulBytes(2, sq)
			over = over || o1 || o2 || need+sort < need
			need += sort
			extra = fmt.Sprintf(", plus up to %s for non-dominated sorting", formatNeed(sort, o1 || o2))
		}
		if over || need > budget {
			ps = append(ps, exp.Problem(p.key, fmt.Sprintf(
				"%d needs about %s (%s per %s%s) but %s is available: give a smaller size",
				p.size, formatNeed(need, over), configs.FormatByteSize(p.each), p.what, extra, configs.FormatByteSize(avail))))
		}
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

type populationKey struct {
	key    string
	size   int
	each   uint64 // bytes per unit of size
	what   string // what one unit is
	sorted bool   // NSGA-II: non-dominated sorting adds 16·size² bytes
}

// populationKeys lists the population-like sizes of the chosen algorithm
// (its Traits) with the memory each unit costs.
func populationKeys(exp *configs.Experiment, model uint64, dims int) []populationKey {
	settings, err := registry.Settings(exp)
	if err != nil {
		return nil
	}
	member := 2 * (memberVectors*8*uint64(max(dims, 1)) + memberOverhead)
	what := fmt.Sprintf("member over %d searched dimensions, parents and offspring", dims)
	var keys []populationKey
	for _, sz := range settings.Traits().Sizes {
		k := populationKey{key: "search." + exp.Search.Algorithm + "." + sz.Key, size: sz.N, each: member, what: cmpOr(sz.What, what)}
		switch sz.Kind {
		case search.SizeSortedMembers:
			k.sorted = true
		case search.SizeChildModels:
			k.each = evalBuffersPerModel * model
		case search.SizeArchivedModels:
			k.each = model
		}
		keys = append(keys, k)
	}
	return keys
}

// mulBytes is n × each, with over reporting an overflow of uint64.
func mulBytes(n int, each uint64) (need uint64, over bool) {
	if n <= 0 || each == 0 {
		return 0, false
	}
	if uint64(n) > ^uint64(0)/each {
		return 0, true
	}
	return uint64(n) * each, false
}

func formatNeed(need uint64, over bool) string {
	if over {
		return "more than 16 EiB"
	}
	return configs.FormatByteSize(need)
}
