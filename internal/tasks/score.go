package tasks

import (
	"context"
	"fmt"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
)

// DefaultBatch is the number of examples per forward pass when
// ScoreOptions.Batch is 0.
const DefaultBatch = 500

// ScoreOptions tune Score. The zero value scores in batches of
// DefaultBatch and records no per-example correctness.
type ScoreOptions struct {
	// Batch is the number of examples per forward pass (0: DefaultBatch).
	// Results do not depend on it.
	Batch int
	// Correct, when not nil, receives the per-example correctness: bit i
	// (word i/64, bit i%64, least significant first: population.Bitset's
	// layout) is set when example i is answered correctly. It needs
	// (Len()+63)/64 words; Score only sets bits, so pass zeroed words.
	Correct []uint64
}

// Result is a model's score on one task's examples.
type Result struct {
	// Accuracy is the fraction of examples whose arg-max logit (ties to
	// the lowest class) is the label.
	Accuracy float64
	// Loss is the mean softmax cross-entropy, summed in float64 in example
	// order.
	Loss float64
	// Examples is the number of examples scored.
	Examples int
}

// Score runs net on the task's examples of split through the task's head
// and returns accuracy and mean cross-entropy, writing per-example
// correctness where opt asks. It is the one scoring loop of evomerge:
// ScoreDataset with the task's data and head.
func Score(ctx context.Context, net model.Network, t *Task, split data.Split, opt ScoreOptions) (Result, error) {
	d := t.Splits[split]
	if d == nil {
		return Result{}, fmt.Errorf("tasks: task %s has no %s examples", t.Name, split)
	}
	return ScoreDataset(ctx, net, d, t.Head, opt)
}

// ScoreDataset runs net on d in batches of opt.Batch examples through head
// and returns accuracy and mean cross-entropy (summed in float64 in example
// order), setting the opt.Correct bit of every correct example. Results do
// not depend on the batch size or the thread count. It does not allocate
// beyond what net.Logits does, checks the context between batches and
// refuses, without running anything, a head net lacks, an empty or
// mis-sized input, labels outside the head's classes and a Correct too
// short. net's buffers are used: it must not run elsewhere meanwhile.
func ScoreDataset(ctx context.Context, net model.Network, d *data.Dataset, head string, opt ScoreOptions) (Result, error) {
	if d.Kind != data.Images {
		return Result{}, fmt.Errorf("tasks: dataset %q holds %s: the models score images only", d.Name, d.Kind)
	}
	n := d.Len()
	if err := model.CheckBatch(net, d.X, n, head); err != nil {
		return Result{}, err
	}
	batch := opt.Batch
	if batch == 0 {
		batch = DefaultBatch
	}
	if batch < 1 {
		return Result{}, fmt.Errorf("tasks: evaluation batch size %d: use at least 1 (0 means %d)", opt.Batch, DefaultBatch)
	}
	classes := net.Classes(head)
	if err := model.CheckLabels(d.Y, n, classes, head); err != nil {
		return Result{}, err
	}
	bits := opt.Correct
	if bits != nil && len(bits) < (n+63)/64 {
		return Result{}, fmt.Errorf("tasks: %d correctness words for %d examples: pass (n+63)/64 = %d", len(bits), n, (n+63)/64)
	}
	size := net.InputSize()
	correct := 0
	var lossSum float64
	for i0 := 0; i0 < n; i0 += batch {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		i1 := min(n, i0+batch)
		logits, err := net.Logits(d.X[i0*size:i1*size], i1-i0, head)
		if err != nil {
			return Result{}, err
		}
		for i := i0; i < i1; i++ {
			row := logits[(i-i0)*classes : (i-i0+1)*classes]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			y := d.Y[i]
			lossSum += model.LogSumExp(row) - float64(row[y])
			if int32(best) == y {
				if bits != nil {
					bits[i>>6] |= 1 << (uint(i) & 63)
				}
				correct++
			}
		}
	}
	return Result{Accuracy: float64(correct) / float64(n), Loss: lossSum / float64(n), Examples: n}, nil
}
