package benchmarks

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
)

// The M2N2 settings (reference: search-algorithms.md §1.10), on real MNIST
// pooled to 8×8 instead of scikit-learn's 1,797-image digits.
const (
	// M2N2ScratchName: evolution from scratch of the 64-256-10 MLP; fitness
	// on the train split. Nothing is trained during preparation.
	M2N2ScratchName = "m2n2-scratch"
	// M2N2SpecialistsName: two 64-256-10 MLPs from one initialisation, trained
	// on digits 0-4 and on digits 5-9 (Adam, lr 3e-3, 10 full-batch steps).
	M2N2SpecialistsName = "m2n2-specialists"
	// M2N2Version versions both settings.
	M2N2Version = "1"
	// M2N2Head is the single head of the M2N2 model.
	M2N2Head = "digits"
	// M2N2Parameters is the parameter count of the M2N2 model:
	// 64·256 + 256 + 256·10 + 10.
	M2N2Parameters = 19210
)

// M2N2Config returns the reference code's model: 8×8 input, one hidden layer
// of 256 ReLU units, 10 logits. The output layer is the head "digits"
// (heads.digits.*): the architecture requires every classifier to be a head.
func M2N2Config() model.Config {
	return mlp.Config{Input: [3]int{1, 8, 8}, Hidden: []int{256}, Heads: m2n2Heads()}
}

func m2n2Heads() []model.Head { return []model.Head{{Name: M2N2Head, Classes: data.MNISTClasses}} }

// M2N2Task is the single task of both settings (without its examples):
// ten-way digit recognition on MNIST pooled to 8×8 (data.Pool8x8).
func M2N2Task() tasks.Task { return m2n2TaskDef().task }

func m2n2TaskDef() taskDef {
	return taskDef{
		task: tasks.Task{
			Name:        M2N2Head,
			Description: "digits 0-9 on MNIST average-pooled to 8x8 (padded to 32x32, 4x4 blocks)",
			Classes:     data.MNISTClasses,
			Head:        M2N2Head,
		},
		derive: data.Pool8x8,
	}
}

// PooledMNIST returns a split of MNIST pooled to 8×8.
func PooledMNIST(m *data.MNIST, s data.Split) (*data.Dataset, error) {
	d, err := m.SplitRange(s, 0, 0)
	if err != nil {
		return nil, err
	}
	return data.Pool8x8(d)
}

func m2n2ScratchDefinition() definition {
	return definition{
		name:    M2N2ScratchName,
		version: M2N2Version,
		description: "M2N2 from-scratch setting: evolve the 64-256-10 MLP (19,210 parameters) on MNIST pooled to 8x8; " +
			"fitness on the train split, final scores on test",
		fitness: data.Train,
		cfg:     M2N2Config(),
		heads:   m2n2Heads(),
		tasks:   []taskDef{m2n2TaskDef()},
		recipe:  Recipe{Name: "full"},
		smoke:   Recipe{Name: "smoke", EvalExamples: 100},
		build:   func(context.Context, *Benchmark, *builder) error { return nil },
	}
}

func m2n2SpecialistsDefinition() definition {
	return definition{
		name:    M2N2SpecialistsName,
		version: M2N2Version,
		description: "M2N2 pre-trained setting: two 64-256-10 MLPs on MNIST pooled to 8x8, from one initialisation, " +
			"trained on digits 0-4 and on digits 5-9 (Adam, lr 3e-3, 10 full-batch steps); merge them into one 10-digit model",
		fitness: data.Validation,
		cfg:     M2N2Config(),
		heads:   m2n2Heads(),
		tasks:   []taskDef{m2n2TaskDef()},
		recipe:  Recipe{Name: "full", Seed: 1, ExpertEpochs: 10, ExpertLR: 3e-3},
		smoke:   Recipe{Name: "smoke", Seed: 1, ExpertExamples: 400, ExpertEpochs: 2, ExpertLR: 3e-3, EvalExamples: 100},
		build:   buildM2N2Specialists,
	}
}

// buildM2N2Specialists trains both specialists from the same initialisation
// on the train split's examples [0, ExpertExamples) (0 = all) with the
// wanted digits, one full batch per step.
func buildM2N2Specialists(ctx context.Context, b *Benchmark, bd *builder) error {
	r := bd.recipe
	all, err := b.DataRange(M2N2Head, data.Train, 0, r.ExpertExamples)
	if err != nil {
		return err
	}
	initSeed := rng.Derive(r.Seed, M2N2SpecialistsName, "init")
	for _, half := range m2n2Halves {
		d := all.FilterLabels(half.digits...)
		if d.Len() == 0 {
			return fmt.Errorf("%s: no training examples with digits %v", half.name, half.digits)
		}
		m, err := M2N2Config().New(initSeed)
		if err != nil {
			return err
		}
		start := time.Now()
		steps, err := bd.train(ctx, m, d, trainConfig{
			head: M2N2Head, epochs: r.ExpertEpochs, batchSize: 0, lr: r.ExpertLR,
			seed: rng.Derive(r.Seed, M2N2SpecialistsName, half.name, "train"),
		})
		if err != nil {
			return fmt.Errorf("train %s: %w", half.name, err)
		}
		secs := time.Since(start).Seconds()
		bd.logf("  %s: %d full-batch steps on %d examples, %.1fs", half.name, steps, d.Len(), secs)
		if err := bd.save(b, m, Member{Name: half.name, Role: RoleSpecialist, Seed: initSeed,
			TrainExamples: d.Len(), Steps: steps, Seconds: secs}); err != nil {
			return err
		}
	}
	if err := bd.scoreMembers(ctx, b); err != nil {
		return err
	}
	return bd.scoreDigitSubsets(ctx, b)
}

// m2n2Halves are the digit subsets of the two specialists.
var m2n2Halves = []struct {
	name, subset string
	digits       []int32
}{
	{"specialist-0-4", "0-4", []int32{0, 1, 2, 3, 4}},
	{"specialist-5-9", "5-9", []int32{5, 6, 7, 8, 9}},
}

// scoreDigitSubsets records each member's test accuracy on digits 0-4 and
// on digits 5-9.
func (bd *builder) scoreDigitSubsets(ctx context.Context, b *Benchmark) error {
	test, err := b.Data(M2N2Head, data.Test)
	if err != nil {
		return err
	}
	bd.digitSubsets = map[string]map[string]float64{}
	for _, mem := range bd.members {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := b.LoadMember(mem.Name)
		if err != nil {
			return err
		}
		correct := make([]uint64, (test.Len()+63)/64)
		if _, err := tasks.ScoreDataset(ctx, m, test, M2N2Head, tasks.ScoreOptions{Batch: evalBatch, Correct: correct}); err != nil {
			return fmt.Errorf("score %s: %w", mem.Name, err)
		}
		bd.digitSubsets[mem.Name] = map[string]float64{}
		for _, half := range m2n2Halves {
			var right, total int
			for i, y := range test.Y {
				if slices.Contains(half.digits, y) {
					total++
					if correct[i>>6]&(1<<(uint(i)&63)) != 0 {
						right++
					}
				}
			}
			if total > 0 {
				bd.digitSubsets[mem.Name][half.subset] = float64(right) / float64(total)
			}
		}
	}
	return nil
}
