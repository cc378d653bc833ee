package layers

import (
	"testing"

	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
)

func benchmarkModel(b *testing.B, spec Spec, batch int, backward bool) {
	m, err := New(spec, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	x := randomValues(rng.New(1, "bench"), batch*m.InputSize(), 1)
	y := make([]int32, batch)
	head := spec.Heads[0].Name
	run := func() {
		var err error
		if backward {
			_, err = model.LossAndGrad(m, x, batch, head, y, model.CrossEntropy)
		} else {
			_, err = m.Logits(x, batch, head)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	run() // warm-up: buffers
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

var (
	benchMLP = mlpSpec([3]int{1, 28, 28}, []int{512, 512}, []model.Head{{Name: "digits", Classes: 10}})
	benchCNN = cnnSpec([3]int{1, 28, 28}, []int{16, 32}, []int{128}, []model.Head{{Name: "digits", Classes: 10}})
)

// BenchmarkMLPForward: 784-512-512-10 MLP, batch of 256 images.
func BenchmarkMLPForward(b *testing.B) { benchmarkModel(b, benchMLP, 256, false) }

// BenchmarkCNNForward: conv3x3(16)-relu-pool-conv3x3(32)-relu-pool-linear(128)-relu-linear(10)
// on 28×28 images, batch of 256.
func BenchmarkCNNForward(b *testing.B) { benchmarkModel(b, benchCNN, 256, false) }

// BenchmarkMLPLossAndGrad and BenchmarkCNNLossAndGrad: forward and backward (one
// training step without the optimizer), batch of 256.
func BenchmarkMLPLossAndGrad(b *testing.B) { benchmarkModel(b, benchMLP, 256, true) }
func BenchmarkCNNLossAndGrad(b *testing.B) { benchmarkModel(b, benchCNN, 256, true) }
