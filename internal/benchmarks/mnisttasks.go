package benchmarks

import (
	"context"
	"fmt"
	"time"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
)

// MNISTTasksName names the multi-task benchmark built from MNIST.
const MNISTTasksName = "mnist-tasks"

// MNISTTasksVersion is bumped whenever tasks, architecture, splits or the
// default recipe change, so caches of an older definition are not reused.
const MNISTTasksVersion = "1"

// mnistTasksHidden are the hidden widths of the benchmark's MLP backbone.
var mnistTasksHidden = []int{128, 128}

// permutedTaskSeed fixes the pixel permutation of the "permuted" task.
const permutedTaskSeed uint64 = 1

// pretrainHead is the head the base is pretrained with.
const pretrainHead = "pretrain"

// MNISTTasks returns the tasks of mnist-tasks (without their examples):
// ten-way digit recognition under three input domains (plain, rotated,
// pixel-permuted) and a label map (digit modulo 3) on plain images.
func MNISTTasks() []tasks.Task {
	defs := mnistTaskDefs()
	out := make([]tasks.Task, len(defs))
	for i, d := range defs {
		out[i] = d.task
	}
	return out
}

// mnistTaskDefs are the tasks of mnist-tasks with their derivations.
func mnistTaskDefs() []taskDef {
	perm := data.PixelPermutation(data.MNISTHeight*data.MNISTWidth, permutedTaskSeed, "mnist-tasks/permuted")
	task := func(name, desc string, classes int, f deriveFunc) taskDef {
		return taskDef{task: tasks.Task{Name: name, Description: desc, Classes: classes, Head: name}, derive: f}
	}
	return []taskDef{
		task("digits", "digits 0-9 on plain MNIST images", data.MNISTClasses,
			func(d *data.Dataset) (*data.Dataset, error) { return d, nil }),
		task("rotated", "digits 0-9 on images rotated a quarter turn clockwise", data.MNISTClasses,
			func(d *data.Dataset) (*data.Dataset, error) { return data.Rotate90(d), nil }),
		task("permuted", "digits 0-9 on images whose pixels are shuffled by one fixed permutation", data.MNISTClasses,
			func(d *data.Dataset) (*data.Dataset, error) { return data.PermutePixels(d, perm) }),
		task("mod3", "digit modulo 3 (three classes) on plain MNIST images", data.Mod3.Classes,
			data.Mod3.Apply),
	}
}

// MNISTTasksConfig returns the benchmark's architecture with the given
// heads: a 784-128-128 ReLU MLP backbone.
func MNISTTasksConfig(heads []model.Head) model.Config {
	return mlp.Config{Input: [3]int{1, data.MNISTHeight, data.MNISTWidth}, Hidden: mnistTasksHidden, Heads: heads}
}

func mnistTasksDefinition() definition {
	defs := mnistTaskDefs()
	heads := make([]model.Head, len(defs))
	for i, d := range defs {
		heads[i] = model.Head{Name: d.task.Head, Classes: d.task.Classes}
	}
	return definition{
		name:    MNISTTasksName,
		version: MNISTTasksVersion,
		description: "four tasks on MNIST: digits on plain, rotated and pixel-permuted images, and digit mod 3 on plain images; " +
			"a base MLP pretrained on plain digits and one fully fine-tuned expert per task with its own head",
		fitness: data.Validation,
		cfg:     MNISTTasksConfig(heads),
		heads:   heads,
		tasks:   defs,
		recipe: Recipe{
			Name: "full", Seed: 1,
			BaseExamples: 10000, BaseEpochs: 2, BaseLR: 1e-3,
			ExpertExamples: 10000, ExpertEpochs: 3, ExpertLR: 1e-3,
			BatchSize: 64,
			Lambdas:   []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0},
		},
		smoke: Recipe{
			Name: "smoke", Seed: 1,
			BaseExamples: 200, BaseEpochs: 1, BaseLR: 1e-3,
			ExpertExamples: 200, ExpertEpochs: 1, ExpertLR: 1e-3,
			BatchSize: 50, EvalExamples: 100, Lambdas: []float64{0.3, 0.6},
		},
		build: buildMNISTTasks,
	}
}

// buildMNISTTasks pretrains the base on plain digits (train-split examples
// [0, BaseExamples)), then fine-tunes all parameters of a copy of it on each
// task in turn, expert i seeing train-split examples
// [BaseExamples + i·ExpertExamples, BaseExamples + (i+1)·ExpertExamples).
// An expert's head starts as a copy of the base's pretraining head when the
// task has ten classes, and freshly initialised otherwise.
func buildMNISTTasks(ctx context.Context, b *Benchmark, bd *builder) error {
	r := bd.recipe
	mn, err := b.MNIST()
	if err != nil {
		return err
	}
	need := r.BaseExamples + len(b.Tasks)*r.ExpertExamples
	if r.BaseExamples <= 0 || r.ExpertExamples <= 0 || need > mn.Len(data.Train) {
		return fmt.Errorf("recipe %q needs %d base + %d×%d expert examples, the train split has %d", r.Name, r.BaseExamples, len(b.Tasks), r.ExpertExamples, mn.Len(data.Train))
	}

	baseSeed := rng.Derive(r.Seed, MNISTTasksName, "base", "init")
	base, err := MNISTTasksConfig([]model.Head{{Name: pretrainHead, Classes: data.MNISTClasses}}).New(baseSeed)
	if err != nil {
		return err
	}
	pre, err := mn.SplitRange(data.Train, 0, r.BaseExamples)
	if err != nil {
		return err
	}
	start := time.Now()
	steps, err := bd.train(ctx, base, pre, trainConfig{
		head: pretrainHead, epochs: r.BaseEpochs, batchSize: r.BatchSize, lr: r.BaseLR,
		seed: rng.Derive(r.Seed, MNISTTasksName, "base", "train"),
	})
	if err != nil {
		return fmt.Errorf("pretrain base: %w", err)
	}
	secs := time.Since(start).Seconds()
	bd.logf("  base: pretrained on %d plain digits, %d steps, %.1fs", pre.Len(), steps, secs)
	if err := bd.save(b, base, Member{Name: "base", Role: RoleBase, Seed: baseSeed,
		TrainExamples: pre.Len(), Steps: steps, Seconds: secs}); err != nil {
		return err
	}

	for i, t := range b.Tasks {
		lo := r.BaseExamples + i*r.ExpertExamples
		d, err := b.DataRange(t.Name, data.Train, lo, lo+r.ExpertExamples)
		if err != nil {
			return err
		}
		seed := rng.Derive(r.Seed, MNISTTasksName, "expert", t.Name, "train")
		expert, err := MNISTTasksConfig([]model.Head{{Name: t.Head, Classes: t.Classes}}).New(seed)
		if err != nil {
			return err
		}
		for _, p := range expert.Params() {
			src := p.Name
			if IsHeadTensor(p.Name) {
				if t.Classes != data.MNISTClasses {
					continue
				}
				src = HeadPrefix + pretrainHead + p.Name[len(HeadPrefix)+len(t.Head):]
			}
			q := base.Param(src)
			if q == nil || len(q.Data) != len(p.Data) {
				return fmt.Errorf("expert %s: base has no tensor %s shaped like %s", t.Name, src, p.Name)
			}
			copy(p.Data, q.Data)
		}
		start := time.Now()
		steps, err := bd.train(ctx, expert, d, trainConfig{
			head: t.Head, epochs: r.ExpertEpochs, batchSize: r.BatchSize, lr: r.ExpertLR, seed: seed,
		})
		if err != nil {
			return fmt.Errorf("fine-tune expert %s: %w", t.Name, err)
		}
		secs := time.Since(start).Seconds()
		bd.logf("  expert %s: fine-tuned on %d examples, %d steps, %.1fs", t.Name, d.Len(), steps, secs)
		if err := bd.save(b, expert, Member{Name: "expert-" + t.Name, Role: RoleExpert, Task: t.Name, Seed: seed,
			TrainExamples: d.Len(), Steps: steps, Seconds: secs}); err != nil {
			return err
		}
	}
	if err := bd.scoreMembers(ctx, b); err != nil {
		return err
	}
	return bd.measureInterference(ctx, b, r.Lambdas)
}
