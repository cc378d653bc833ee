package lineage

import (
	"context"
	"testing"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search/m2n2"
)

// BenchmarkChild materialises and scores one M2N2 child of the reference
// model (64-256-10, 19,210 parameters) on 1000 synthetic 8×8 examples:
// the cost of one M2N2 step, by storage.
func BenchmarkChild(b *testing.B) {
	r := rng.New(1, "bench")
	d := &data.Dataset{Name: "bench", C: 1, H: 8, W: 8, Classes: 10}
	for range 1000 {
		for range 64 {
			d.X = append(d.X, r.Float32())
		}
		d.Y = append(d.Y, int32(r.IntN(10)))
	}
	for _, st := range []Storage{StorageRAM, StorageDisk} {
		b.Run(string(st), func(b *testing.B) {
			var seeds []model.Network
			for i := range 2 {
				m, err := benchmarks.M2N2Config().New(uint64(i))
				if err != nil {
					b.Fatal(err)
				}
				seeds = append(seeds, m)
			}
			e, err := New(Config{Seeds: seeds, Tasks: []tasks.Task{tasks.New("digits", "digits", data.Train, d)}, Storage: st, Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			var ids []string
			for i := range 2 {
				g := population.VectorGenome([]float64{float64(i)})
				id, _ := population.ID(g, e.EvalSpec(), e.Version())
				ids = append(ids, id)
				if err := e.Evaluate(context.Background(), []*population.Candidate{{ID: id, Genome: g}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				g := population.Genome{Recipe: &population.Recipe{Operator: m2n2.Operator, Parents: ids,
					Params: map[string]float64{m2n2.ParamSplit: float64(i % 19210), m2n2.ParamRatio: 0.3, m2n2.ParamSigma: 0.01, m2n2.ParamNoise: float64(i)}}}
				id, _ := population.ID(g, e.EvalSpec(), e.Version())
				c := &population.Candidate{ID: id, Genome: g}
				if err := e.Evaluate(context.Background(), []*population.Candidate{c}); err != nil || !c.OK() {
					b.Fatal(err, c.Error)
				}
				e.ArchiveChanged(ids)
			}
		})
	}
}
