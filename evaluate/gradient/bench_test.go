package gradient

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/evomerge/evomerge/search"
)

// BenchmarkAdaMergingLossGrad is one AdaMerging step (2 × 16 inputs per task,
// two tasks, layer-wise coefficients) on a 9-512-512 MLP.
func BenchmarkAdaMergingLossGrad(b *testing.B) {
	f := newFixture(b, 4, []int{512, 512})
	tv := f.taskVectors(b)
	lay, _ := NewLayout(LayoutTensor, tv, nil)
	ev, err := NewAdaMerging(f.base.Clone(), tv, lay, f.tasks, AdaMergingOptions{})
	if err != nil {
		b.Fatal(err)
	}
	c := make([]float64, lay.Len())
	for i := range c {
		c[i] = 0.3
	}
	grad := make([]float64, len(c))
	ev.LossGrad(context.Background(), c, grad)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ev.LossGrad(context.Background(), c, grad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrankWolfeIteration is one hard FW iteration (gradient, alignment
// of every streamed member, step) for pools of 4 and 24 members of a 1 MB
// model; retained-heap-B is the live heap after the iterations minus before.
func BenchmarkFrankWolfeIteration(b *testing.B) {
	for _, n := range []int{4, 24} {
		b.Run(fmt.Sprintf("pool=%d", n), func(b *testing.B) {
			f := newFixture(b, 4, []int{512, 512})
			tv := f.taskVectors(b)
			pool := writePool(b, f, n)
			ev, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{})
			if err != nil {
				b.Fatal(err)
			}
			align := make([][]float64, n+1)
			for i := range align {
				align[i] = make([]float64, tv.NumTensors())
			}
			vertex := []int{0, n - 1, 1, search.VertexBase}
			ev.Align(context.Background(), -1, align)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.GC() // twice: sync.Pool victims survive one cycle
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := ev.Align(context.Background(), -1, align); err != nil {
					b.Fatal(err)
				}
				if err := ev.Step(context.Background(), vertex, 0.01); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(ev)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)), "retained-heap-B")
		})
	}
}
