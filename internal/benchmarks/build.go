package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/operators"
)

// builder accumulates what a benchmark build produces.
type builder struct {
	dir          string
	recipe       Recipe
	logf         func(format string, args ...any)
	members      []Member
	accuracy     map[data.Split]map[string]map[string]float64
	loss         map[data.Split]map[string]map[string]float64
	interference *Interference
	digitSubsets map[string]map[string]float64
}

// trainConfig describes one training run of a member.
type trainConfig struct {
	head      string
	epochs    int
	batchSize int // 0 = full batch
	lr        float64
	seed      uint64
}

// train runs Adam on d and returns the number of optimizer steps.
func (bd *builder) train(ctx context.Context, m model.Network, d *data.Dataset, cfg trainConfig) (int, error) {
	batch := cfg.batchSize
	if batch <= 0 || batch > d.Len() {
		batch = d.Len()
	}
	err := model.Train(ctx, m, d.X, d.Y, d.Len(), model.TrainConfig{
		Head:      cfg.head,
		Epochs:    cfg.epochs,
		BatchSize: batch,
		Optimizer: "adam",
		LR:        cfg.lr,
		Seed:      cfg.seed,
	})
	if err != nil {
		return 0, err
	}
	return cfg.epochs * ((d.Len() + batch - 1) / batch), nil
}

// save writes a trained member into the build directory and registers it
// with the benchmark.
func (bd *builder) save(b *Benchmark, m model.Network, mem Member) error {
	mem.File = mem.Name + ".safetensors"
	mem.Path = filepath.Join(bd.dir, mem.File)
	meta := map[string]string{
		MetaBenchmark: b.Name,
		MetaVersion:   b.Version,
		MetaRole:      mem.Role,
	}
	if mem.Task != "" {
		meta[MetaTask] = mem.Task
	}
	if err := model.Save(mem.Path, m, meta); err != nil {
		return fmt.Errorf("save %s: %w", mem.Name, err)
	}
	sum, err := FileSHA256(mem.Path)
	if err != nil {
		return err
	}
	mem.SHA256 = sum
	bd.members = append(bd.members, mem)
	b.Members = append(b.Members, mem)
	b.mu.Lock()
	b.memberMd[mem.Name] = m
	b.mu.Unlock()
	return nil
}

// scoreMembers evaluates every member on every task on validation and test,
// filling the accuracy and loss tables and b.Manifest's copy of them (which
// normalized accuracies read).
func (bd *builder) scoreMembers(ctx context.Context, b *Benchmark) error {
	bd.accuracy = map[data.Split]map[string]map[string]float64{}
	bd.loss = map[data.Split]map[string]map[string]float64{}
	for _, split := range []data.Split{data.Validation, data.Test} {
		bd.accuracy[split] = map[string]map[string]float64{}
		bd.loss[split] = map[string]map[string]float64{}
		for _, mem := range bd.members {
			m, err := b.LoadMember(mem.Name)
			if err != nil {
				return err
			}
			s, err := b.Evaluate(ctx, m, split)
			if err != nil {
				return fmt.Errorf("score %s: %w", mem.Name, err)
			}
			acc, loss := map[string]float64{}, map[string]float64{}
			for _, ts := range s.Tasks {
				acc[ts.Task], loss[ts.Task] = ts.Accuracy, ts.Loss
			}
			bd.accuracy[split][mem.Name], bd.loss[split][mem.Name] = acc, loss
		}
	}
	b.Manifest.Accuracy = bd.accuracy
	b.Manifest.Loss = bd.loss
	return nil
}

// combine returns a network of the config (the benchmark's architecture) whose non-head
// parameters are Σ coef[i]·models[i] (computed in float64, one pass per
// tensor) and whose heads are copied from headSource. It measures reference
// merges during preparation.
func combine(cfg model.Config, models []model.Network, coef []float64, headSource func(tensor string) model.Network) (model.Network, error) {
	out, err := cfg.New(0)
	if err != nil {
		return nil, err
	}
	var acc []float64
	xs := make([][]float32, len(models))
	for _, p := range out.Params() {
		if IsHeadTensor(p.Name) {
			src := headSource(p.Name)
			if src == nil || src.Param(p.Name) == nil {
				return nil, fmt.Errorf("no model provides head tensor %s", p.Name)
			}
			copy(p.Data, src.Param(p.Name).Data)
			continue
		}
		for i, m := range models {
			q := m.Param(p.Name)
			if q == nil || len(q.Data) != len(p.Data) {
				return nil, fmt.Errorf("model %d lacks tensor %s of shape %v", i, p.Name, p.Shape)
			}
			xs[i] = q.Data
		}
		acc = operators.LinearCombination(p.Data, coef, xs, acc)
	}
	return out, nil
}

// mergeScore scores a merged model on the split relative to the experts.
func mergeScore(ctx context.Context, b *Benchmark, m model.Network, split data.Split) (MergeScore, error) {
	s, err := b.Evaluate(ctx, m, split)
	if err != nil {
		return MergeScore{}, err
	}
	ms := MergeScore{Accuracy: map[string]float64{}, Normalized: map[string]float64{}}
	for _, ts := range s.Tasks {
		ms.Accuracy[ts.Task] = ts.Accuracy
		if ts.Normalized != nil {
			ms.Normalized[ts.Task] = *ts.Normalized
		}
	}
	if s.MeanNormalized != nil {
		ms.MeanNormalized = *s.MeanNormalized
	}
	return ms, nil
}

// measureInterference scores plain averaging of the pool members and, when
// the benchmark has a base, task arithmetic with λ chosen on validation.
func (bd *builder) measureInterference(ctx context.Context, b *Benchmark, lambdas []float64) error {
	start := time.Now()
	pool := b.Pool()
	models := make([]model.Network, len(pool))
	for i, mem := range pool {
		m, err := b.LoadMember(mem.Name)
		if err != nil {
			return err
		}
		models[i] = m
	}
	headSource := func(tensor string) model.Network {
		head, _ := headOf(tensor)
		exp, ok := b.Expert(b.taskForHead(head))
		if !ok {
			return nil
		}
		m, err := b.LoadMember(exp.Name)
		if err != nil {
			return nil
		}
		return m
	}
	inf := &Interference{Split: data.Test, ExpertAccuracy: map[string]float64{}}
	for _, t := range b.Tasks {
		if acc, ok := b.expertAccuracy(data.Test, t.Name); ok {
			inf.ExpertAccuracy[t.Name] = acc
		}
	}
	avgCoef := make([]float64, len(models))
	for i := range avgCoef {
		avgCoef[i] = 1 / float64(len(models))
	}
	avg, err := combine(b.cfg, models, avgCoef, headSource)
	if err != nil {
		return fmt.Errorf("average merge: %w", err)
	}
	if inf.Average, err = mergeScore(ctx, b, avg, data.Test); err != nil {
		return err
	}
	inf.DropPoints = 100 * (1 - inf.Average.MeanNormalized)
	bd.logf("  plain averaging: mean normalized accuracy %.3f (drop %.1f points)", inf.Average.MeanNormalized, inf.DropPoints)

	if baseMem, ok := b.Base(); ok && len(lambdas) > 0 {
		base, err := b.LoadMember(baseMem.Name)
		if err != nil {
			return err
		}
		all := append([]model.Network{base}, models...)
		taCoef := func(lambda float64) []float64 {
			c := make([]float64, len(all))
			c[0] = 1 - lambda*float64(len(models))
			for i := 1; i < len(c); i++ {
				c[i] = lambda
			}
			return c
		}
		best := math.Inf(-1)
		for _, lambda := range lambdas {
			m, err := combine(b.cfg, all, taCoef(lambda), headSource)
			if err != nil {
				return fmt.Errorf("task arithmetic: %w", err)
			}
			s, err := mergeScore(ctx, b, m, data.Validation)
			if err != nil {
				return err
			}
			inf.LambdaSweep = append(inf.LambdaSweep, LambdaScore{Lambda: lambda, MeanNormalized: s.MeanNormalized})
			if s.MeanNormalized > best {
				best, inf.Lambda = s.MeanNormalized, lambda
			}
		}
		m, err := combine(b.cfg, all, taCoef(inf.Lambda), headSource)
		if err != nil {
			return err
		}
		ta, err := mergeScore(ctx, b, m, data.Test)
		if err != nil {
			return err
		}
		inf.TaskArithmetic = &ta
		bd.logf("  task arithmetic (λ=%.2f chosen on validation): mean normalized accuracy %.3f", inf.Lambda, ta.MeanNormalized)
	}
	bd.interference = inf
	bd.logf("  reference merges measured in %.1fs", time.Since(start).Seconds())
	return nil
}

// manifest assembles the manifest of a finished build.
func (bd *builder) manifest(def definition, recipe Recipe) Manifest {
	spec := json.RawMessage(def.cfg.Metadata()[model.SpecMetadataKey])
	ts := make([]ManifestTask, len(def.tasks))
	for i, td := range def.tasks {
		t := td.task
		ts[i] = ManifestTask{Name: t.Name, Description: t.Description, Classes: t.Classes, Head: t.Head}
	}
	return Manifest{
		Benchmark:    def.name,
		Version:      def.version,
		Description:  def.description,
		Dataset:      "MNIST from " + data.MNISTModulePath + "@" + data.MNISTVersion(),
		SplitSeed:    data.SplitSeed,
		FitnessSplit: def.fitness,
		Recipe:       recipe,
		Spec:         spec,
		Tasks:        ts,
		Members:      bd.members,
		Accuracy:     bd.accuracy,
		Loss:         bd.loss,
		Interference: bd.interference,
		DigitSubsets: bd.digitSubsets,
	}
}
