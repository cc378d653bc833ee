package operators

import (
	"context"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/rng"
)

// benchInputs returns a base and n experts of one tensor with numel elements.
func benchInputs(n, numel int) ([]checkpoint.Tensor, [][]checkpoint.Tensor) {
	mk := func(who string) []checkpoint.Tensor {
		r := rng.New(1, "bench", who)
		d := make([]float32, numel)
		for i := range d {
			d[i] = float32(r.NormFloat64())
		}
		return []checkpoint.Tensor{{Name: "layers.0.weight", Shape: []int{numel / 1024, 1024}, Data: d}}
	}
	base := mk("base")
	models := make([][]checkpoint.Tensor, n)
	for i := range models {
		models[i] = mk(string(rune('a' + i)))
	}
	return base, models
}

// preparedMerge returns a closure merging the single tensor through a plan.
func preparedMerge(tb testing.TB, op Operator, n, numel int, s Settings, opt PlanOptions) (func() error, int64) {
	base, models := benchInputs(n, numel)
	src := mustSource(tb, base, models...)
	plan, err := NewPlan(op, src, s, opt)
	if err != nil {
		tb.Fatal(err)
	}
	if err := plan.Prepare(context.Background(), src); err != nil {
		tb.Fatal(err)
	}
	var in TensorInputs
	if err := src.Load("layers.0.weight", &in); err != nil {
		tb.Fatal(err)
	}
	in.Shape = []int{numel / 1024, 1024}
	if !op.Requirements().Base.uses() {
		in.Base = nil
	}
	dst := make([]float32, numel)
	var scratch Scratch
	read := int64(4 * numel * len(in.Models))
	if in.Base != nil {
		read += int64(4 * numel)
	}
	return func() error { return plan.MergeTensor(dst, &in, &scratch) }, read
}

func (b BaseNeed) uses() bool { return b != BaseUnused }

// The hot operators do not allocate per call once their scratch has grown.
func TestHotOperatorsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	const numel = 300 * 1024 // above the parallel threshold
	for _, tc := range []struct {
		op Operator
		s  Settings
		n  int
	}{
		{Linear(), Settings{}, 4},
		{TaskArithmetic(), globals("lambda", 0.4), 4},
		{TIES(), globals("density", 0.2), 4},
		{TIES(), globals("density", 0.2, "trim_scope", "model"), 3},
		{Breadcrumbs(), Settings{}, 3},
		{SLERP(), Settings{}, 2},
		{MultiSLERP(), Settings{}, 4},
		{ModelStock(), Settings{}, 3},
		{Consensus(), Settings{}, 3},
		{M2N2Crossover(), globals("split", 1000), 2},
		{MustLiNeS(TaskArithmetic()), Settings{}, 3},
	} {
		merge, _ := preparedMerge(t, tc.op, tc.n, numel, tc.s, PlanOptions{})
		if err := merge(); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(5, func() {
			if err := merge(); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s: %v allocations per merge", tc.op.Name(), a)
		}
	}
}

const benchNumel = 4 << 20 // 4M parameters per model

// benchStats gives every model a Fisher diagonal and a well-conditioned
// 1024×1024 Gram matrix for the benchmark tensor.
func benchStats(n, numel int) fakeStats {
	st := fakeStats{fisher: map[int]map[string][]float32{}, gram: map[int]map[string][]float64{}}
	const din = 1024
	for m := range n {
		f := make([]float32, numel)
		for i := range f {
			f[i] = float32(1 + (i+m)%5)
		}
		g := make([]float64, din*din)
		for i := range din {
			g[i*din+i] = float64(din + m)
			if i+1 < din {
				g[i*din+i+1], g[(i+1)*din+i] = 0.5, 0.5
			}
		}
		st.fisher[m] = map[string][]float32{"layers.0.weight": f}
		st.gram[m] = map[string][]float64{"layers.0.weight": g}
	}
	return st
}

// BenchmarkCopy is the memory-bandwidth reference: it reads (and writes) the
// same bytes as a 4-model merge reads.
func BenchmarkCopy(b *testing.B) {
	src := make([]float32, 4*benchNumel)
	dst := make([]float32, 4*benchNumel)
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		copy(dst, src)
	}
}

func BenchmarkOperators(b *testing.B) {
	cases := []struct {
		name string
		op   Operator
		s    Settings
		n    int
	}{
		{"linear", Linear(), Settings{}, 4},
		{"task_arithmetic", TaskArithmetic(), globals("lambda", 0.4), 4},
		{"ties", TIES(), globals("density", 0.2), 4},
		{"dare", DARE(), Settings{}, 4},
		{"dare_ties", DARETIES(), Settings{}, 4},
		{"slerp", SLERP(), Settings{}, 2},
		{"multislerp", MultiSLERP(), Settings{}, 4},
		{"breadcrumbs", Breadcrumbs(), Settings{}, 4},
		{"della", DELLA(), Settings{}, 4},
		{"model_stock", ModelStock(), Settings{}, 4},
		{"lines", MustLiNeS(TaskArithmetic()), Settings{}, 4},
		{"consensus", Consensus(), Settings{}, 4},
		{"m2n2", M2N2Crossover(), globals("split", benchNumel/3), 2},
		{"pcb", PCB(), Settings{}, 4},
		{"fisher", Fisher(), Settings{}, 4},
		{"regmean", RegMean(), Settings{}, 4},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			merge, read := preparedMerge(b, tc.op, tc.n, benchNumel, tc.s, PlanOptions{Seed: 1, Stats: benchStats(tc.n, benchNumel)})
			b.SetBytes(read)
			for b.Loop() {
				if err := merge(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
