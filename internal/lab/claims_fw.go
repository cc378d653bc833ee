package lab

// The fw-scaling claim: FW-Merging's scaling study with irrelevant models
// added to the pool.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evomerge/evomerge/evaluate/gradient"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/fw"
)

// afFWModels are the irrelevant models of one seed: experts fine-tuned on
// other tasks and randomly perturbed copies of the experts, interleaved.
type afFWModels struct {
	paths []string
	kinds []string
}

// irrelevantModels writes n irrelevant backbones for a seed into dir.
func (e *afClaimEnv) irrelevantModels(ctx context.Context, dir string, n int, seed uint64, trainExamples int) (*afFWModels, error) {
	mn, err := e.b.MNIST()
	if err != nil {
		return nil, err
	}
	trainLen := mn.Len(data.Train)
	lo := max(0, trainLen-trainExamples)
	plain, err := mn.SplitRange(data.Train, lo, trainLen)
	if err != nil {
		return nil, err
	}
	out := &afFWModels{}
	pixels := plain.Features()
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var tensors []checkpoint.Tensor
		var kind string
		if i%2 == 0 {
			// An expert of another task: digits under a pixel permutation
			// no target task uses, fine-tuned from the base.
			perm := data.PixelPermutation(pixels, rng.Derive(seed, "claims", "fw", "perm", fmt.Sprint(i)), "claims/fw/other-task")
			d, err := data.PermutePixels(plain, perm)
			if err != nil {
				return nil, err
			}
			m, err := e.withHeads(e.base)
			if err != nil {
				return nil, err
			}
			head := e.b.Tasks[0].Head
			if err := model.Train(ctx, m, d.X, d.Y, d.Len(), model.TrainConfig{Head: head, Epochs: 2, BatchSize: 64, LR: 1e-3,
				Seed: rng.Derive(seed, "claims", "fw", "train", fmt.Sprint(i))}); err != nil {
				return nil, err
			}
			tensors, kind = afBackbone(model.Tensors(m)), "other-task expert"
		} else {
			// A perturbed copy of an expert: Gaussian noise per tensor with
			// the standard deviation of that expert's task vector.
			k := (i / 2) % len(e.expertBone)
			r := rng.New(seed, "claims", "fw", "noise", fmt.Sprint(i))
			for ti, t := range e.expertBone[k] {
				var ss float64
				for j, v := range t.Data {
					d := float64(v - e.base[ti].Data[j])
					ss += d * d
				}
				sd := math.Sqrt(ss / float64(len(t.Data)))
				vals := make([]float32, len(t.Data))
				for j, v := range t.Data {
					vals[j] = v + float32(sd*r.NormFloat64())
				}
				tensors = append(tensors, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: vals})
			}
			kind = "noisy copy of expert-" + e.names[k]
		}
		path := filepath.Join(dir, fmt.Sprintf("irrelevant-%02d.safetensors", i))
		if err := checkpoint.Write(path, tensors, nil, checkpoint.WriteOptions{}); err != nil {
			return nil, err
		}
		out.paths = append(out.paths, path)
		out.kinds = append(out.kinds, kind)
	}
	return out, nil
}

// runClaimFWScaling is the fw-scaling claim.
func runClaimFWScaling(ctx context.Context, o ClaimOptions) error {
	stderr, added := o.Log, o.Added
	start := time.Now()
	b, err := prepare(ctx, benchmarks.MNISTTasksName, o.CacheDir, o.MNISTDir, o.Smoke, stderr)
	if err != nil {
		return err
	}
	env, err := afLoadClaimEnv(ctx, b, stderr)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "evomerge-fw-claim-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The relevant experts as backbone checkpoints on disk.
	var relevant []string
	for k, bone := range env.expertBone {
		p := filepath.Join(tmp, "expert-"+env.names[k]+".safetensors")
		if err := checkpoint.Write(p, bone, nil, checkpoint.WriteOptions{}); err != nil {
			return err
		}
		relevant = append(relevant, p)
	}
	// The proxy: the first Proxy labelled validation examples of each task.
	proxyTasks := make([]tasks.Task, len(env.tasks))
	for i := range env.tasks {
		t := &env.tasks[i]
		v := t.Data(data.Validation)
		proxyTasks[i] = tasks.New(t.Name, t.Head, data.Validation, v.Head(min(o.Proxy, v.Len())))
	}
	maxAdded := slices.Max(added)
	trainExamples := 2000
	if o.Smoke {
		trainExamples = 100
	}
	methods := []string{"FW-Merging (hard, layer-wise)", "task arithmetic (λ on validation)", "TIES (λ on validation)", "layer-wise AdaMerging",
		"task arithmetic (λ = 0.3 fixed)", "TIES (λ = 0.3 fixed)"}
	table := map[string]map[int][]float64{}
	for _, m := range methods {
		table[m] = map[int][]float64{}
	}
	var selection []string
	var kinds []string
	for s := range o.Seeds {
		seed := rng.Derive(uint64(s+1), "claims", "fw")
		dir := filepath.Join(tmp, fmt.Sprintf("seed-%d", s+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		irr, err := env.irrelevantModels(ctx, dir, maxAdded, seed, trainExamples)
		if err != nil {
			return err
		}
		if s == 0 {
			kinds = irr.kinds
		}
		for _, n := range added {
			pool := append(slices.Clone(relevant), irr.paths[:n]...)
			names := slices.Clone(env.names)
			bones := slices.Clone(env.expertBone)
			for i := range n {
				names = append(names, fmt.Sprintf("irrelevant-%02d", i))
				ts, _, err := checkpoint.LoadAll(irr.paths[i])
				if err != nil {
					return err
				}
				bones = append(bones, ts)
			}
			tv, err := env.taskVectors(bones, names)
			if err != nil {
				return err
			}
			// FW-Merging: streams the pool from disk.
			ev, err := gradient.NewFrankWolfe(env.work, tv, nil, pool, proxyTasks, gradient.FWOptions{})
			if err != nil {
				return err
			}
			res, err := fw.Merge(ctx, ev, fw.Options{Iterations: o.Iterations, StepSize: o.Eta})
			if err != nil {
				return err
			}
			ev.LoadTheta()
			sc, err := b.Evaluate(ctx, env.work, data.Test)
			if err != nil {
				return err
			}
			table[methods[0]][n] = append(table[methods[0]][n], 100*meanNormalized(sc))
			if s == 0 {
				selection = append(selection, afDescribeSelection(n, len(relevant), irr.kinds, res))
			}
			env.logf("seed %d, +%d: FW %.2f", s+1, n, 100*meanNormalized(sc))
			src, err := operators.NewMemSource(env.base, bones...)
			if err != nil {
				return err
			}
			for mi, op := range []string{"task_arithmetic", "ties"} {
				sc, lambda, err := env.tunedOperator(ctx, src, op)
				if err != nil {
					return err
				}
				table[methods[1+mi]][n] = append(table[methods[1+mi]][n], 100*meanNormalized(sc))
				env.logf("seed %d, +%d: %s (λ = %g) %.2f", s+1, n, op, lambda, 100*meanNormalized(sc))
			}
			for mi, op := range []string{"task_arithmetic", "ties"} {
				sc, _, err := env.tuned(ctx, src, op, "lambda", []float64{0.3}, nil)
				if err != nil {
					return err
				}
				table[methods[4+mi]][n] = append(table[methods[4+mi]][n], 100*meanNormalized(sc))
			}
			sc, _, err = env.runAdaMerging(ctx, tv, gradient.LayoutTensor, o.Steps, rng.Derive(seed, "adamerging", fmt.Sprint(n)))
			if err != nil {
				return err
			}
			table[methods[3]][n] = append(table[methods[3]][n], 100*meanNormalized(sc))
			env.logf("seed %d, +%d: layer-wise AdaMerging %.2f", s+1, n, 100*meanNormalized(sc))
		}
	}
	cmd := o.Command
	var w bytes.Buffer
	fmt.Fprintf(&w, "## FW-Merging scaling on %s (version %s)\n\n", b.Name, b.Version)
	fmt.Fprintf(&w, "Produced by `%s` (%s on this machine, recipe %q, seeds: %d). ", cmd, time.Since(start).Round(time.Second), b.Manifest.Recipe.Name, o.Seeds)
	fmt.Fprintf(&w, "The pool holds the %d relevant experts plus N irrelevant models, alternately an expert fine-tuned from the base on another task (digits under a pixel permutation no target task uses, %d training images, 2 epochs) and a copy of an expert perturbed by Gaussian noise with its task vector's standard deviation per tensor; each seed draws new ones. ", len(relevant), trainExamples)
	fmt.Fprintf(&w, "FW-Merging: hard, layer-wise LMO (cosine of each vertex's direction with the gradient; the base is the null vertex), task-arithmetic update, %d iterations, η = %g, starts at the base, labelled proxy set of the first %d validation examples per task (cross-entropy); pool members are streamed from disk. ", o.Iterations, o.Eta, o.Proxy)
	fmt.Fprintf(&w, "Task arithmetic and TIES merge the whole pool with λ chosen on validation; layer-wise AdaMerging (%d steps) merges the whole pool and reads the unlabelled test inputs (test-time adaptation). ", o.Steps)
	w.WriteString("Cells: test-split mean normalized accuracy (%), mean ± sd over seeds.\n\n")
	w.WriteString("| method |")
	for _, n := range added {
		fmt.Fprintf(&w, " +%d |", n)
	}
	w.WriteString("\n|---|" + strings.Repeat("---:|", len(added)) + "\n")
	for _, m := range methods {
		fmt.Fprintf(&w, "| %s |", m)
		for _, n := range added {
			mean, sd := afMeanSD(table[m][n])
			fmt.Fprintf(&w, " %.1f ± %.1f |", mean, sd)
		}
		w.WriteString("\n")
	}
	w.WriteString("\n### The paper's claims, checked\n\n")
	ref, _ := afMeanSD(table[methods[0]][added[0]])
	for _, n := range added[1:] {
		fwm, _ := afMeanSD(table[methods[0]][n])
		ok := fwm >= ref-2
		mark := "holds"
		if !ok {
			mark = "**does not hold**"
		}
		fmt.Fprintf(&w, "- FW with +%d irrelevant models within 2 points of FW on the relevant experts only: %s (%.1f vs %.1f)\n", n, mark, fwm, ref)
	}
	last := added[len(added)-1]
	for _, m := range methods[1:] {
		a, _ := afMeanSD(table[m][added[0]])
		z, _ := afMeanSD(table[m][last])
		mark := "degrades"
		if z >= a {
			mark = "**does not degrade**"
		}
		fmt.Fprintf(&w, "- %s over the whole pool %s from +%d to +%d (%.1f → %.1f)\n", m, mark, added[0], last, a, z)
	}
	if len(kinds) > 0 {
		w.WriteString("\nIrrelevant models in pool order (seed 1): " + strings.Join(kinds, ", ") + ".\n")
	}
	w.WriteString("\n### FW selection per iteration (seed 1)\n\n")
	fmt.Fprintf(&w, "Per iteration t, the number of the %d mergeable tensors whose step went to a relevant expert (R), an expert of another task (O), a noisy copy of an expert (N), the base (B), or that stayed (S).\n\n", len(env.base))
	for _, s := range selection {
		w.WriteString(s)
	}
	return afEmit(o, "fw", w.String())
}

// afDescribeSelection summarises which vertices FW chose, per iteration:
// tensors that went to relevant experts (R), experts of other tasks (O),
// noisy copies of the experts (N), the base (B) or stayed (S).
func afDescribeSelection(added, relevant int, kinds []string, res *fw.Result) string {
	var w strings.Builder
	fmt.Fprintf(&w, "- +%d: ", added)
	var other, noisy int
	for _, it := range res.Iterations {
		var r, o, n, base, stay int
		for _, v := range it.Vertex {
			switch {
			case v == search.VertexBase:
				base++
			case v == search.VertexStay:
				stay++
			case v < relevant:
				r++
			case strings.HasPrefix(kinds[v-relevant], "other-task"):
				o++
			default:
				n++
			}
		}
		other, noisy = other+o, noisy+n
		fmt.Fprintf(&w, "t%d R%d O%d N%d B%d S%d; ", it.T, r, o, n, base, stay)
	}
	fmt.Fprintf(&w, "in total %d tensor steps went to experts of other tasks and %d to noisy copies\n", other, noisy)
	return w.String()
}
