package lineage

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/m2n2"
)

// tinySpec: 2×2 input, 3 hidden units, 2 classes: 4·3+3+3·2+2 = 23 parameters.
func tinySpec() model.Config {
	return mlp.Config{Input: [3]int{1, 2, 2}, Hidden: []int{3}, Heads: []model.Head{{Name: "h", Classes: 2}}}
}

func tinyData(n int) *data.Dataset {
	r := rng.New(5, "lineage-test", "data")
	d := &data.Dataset{Name: "tiny", C: 1, H: 2, W: 2, Classes: 2}
	for range n {
		x := []float32{r.Float32(), r.Float32(), r.Float32(), r.Float32()}
		d.X = append(d.X, x...)
		y := int32(0)
		if x[0]+x[1] > x[2]+x[3] {
			y = 1
		}
		d.Y = append(d.Y, y)
	}
	return d
}

func newEvaluator(t *testing.T, cfg Config) *Evaluator {
	t.Helper()
	if cfg.Seeds == nil {
		for s := range 2 {
			m, err := tinySpec().New(uint64(10 + s))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Seeds = append(cfg.Seeds, m)
		}
	}
	if cfg.Tasks == nil {
		cfg.Tasks = []tasks.Task{tasks.New("t", "h", data.Train, tinyData(64))}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func seedCands(t *testing.T, e *Evaluator) []*population.Candidate {
	t.Helper()
	var out []*population.Candidate
	for i := range 2 {
		g := population.VectorGenome([]float64{float64(i)})
		id, _ := population.ID(g, e.EvalSpec(), e.Version())
		out = append(out, &population.Candidate{ID: id, Genome: g})
	}
	if err := e.Evaluate(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	for _, c := range out {
		if !c.OK() {
			t.Fatalf("seed failed: %s", c.Error)
		}
	}
	return out
}

func childCand(t *testing.T, e *Evaluator, a, b string, params map[string]float64) *population.Candidate {
	t.Helper()
	g := population.Genome{Recipe: &population.Recipe{Operator: m2n2.Operator, Parents: []string{a, b}, Params: params}}
	id, err := population.ID(g, e.EvalSpec(), e.Version())
	if err != nil {
		t.Fatal(err)
	}
	return &population.Candidate{ID: id, Genome: g}
}

// expectedChild computes split-point SLERP in float64 by the formula of
// search-algorithms.md §1.5.
func expectedChild(a, b []float32, split int, w float64, segment bool) []float64 {
	dots := func(lo, hi int) (aa, ab, bb float64) {
		for i := lo; i < hi; i++ {
			aa += float64(a[i]) * float64(a[i])
			ab += float64(a[i]) * float64(b[i])
			bb += float64(b[i]) * float64(b[i])
		}
		return
	}
	coef := func(t, aa, ab, bb float64) (float64, float64) {
		omega := math.Acos(math.Max(-1, math.Min(1, ab/math.Sqrt(aa*bb))))
		s := math.Sin(omega)
		if s <= 1e-6 {
			return 1 - t, t
		}
		return math.Sin((1-t)*omega) / s, math.Sin(t*omega) / s
	}
	out := make([]float64, len(a))
	for seg, lo, hi := 0, 0, split; seg < 2; seg, lo, hi = seg+1, split, len(a) {
		if lo == hi {
			continue
		}
		t := w
		if seg == 1 {
			t = 1 - w
		}
		aa, ab, bb := dots(0, len(a))
		if segment {
			aa, ab, bb = dots(lo, hi)
		}
		ca, cb := coef(t, aa, ab, bb)
		for i := lo; i < hi; i++ {
			out[i] = ca*float64(a[i]) + cb*float64(b[i])
		}
	}
	return out
}

func TestSplitPointSLERPThroughEvaluator(t *testing.T) {
	ctx := context.Background()
	e := newEvaluator(t, Config{})
	if e.Parameters() != 23 {
		t.Fatalf("D = %d, want 23", e.Parameters())
	}
	seeds := seedCands(t, e)
	a, _ := e.Weights(ctx, seeds[0].ID)
	b, _ := e.Weights(ctx, seeds[1].ID)
	for _, tc := range []struct {
		split   int
		w       float64
		segment bool
	}{{0, 0.3, false}, {7, 0.3, false}, {12, 0.8, false}, {23, 0.25, false}, {7, 0.3, true}, {15, 0.6, true}} {
		params := map[string]float64{m2n2.ParamSplit: float64(tc.split), m2n2.ParamRatio: tc.w}
		if tc.segment {
			params[m2n2.ParamSegment] = 1
		}
		c := childCand(t, e, seeds[0].ID, seeds[1].ID, params)
		if err := e.Evaluate(ctx, []*population.Candidate{c}); err != nil || !c.OK() {
			t.Fatalf("child: %v %s", err, c.Error)
		}
		got, err := e.Weights(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := expectedChild(a, b, tc.split, tc.w, tc.segment)
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-5 {
				t.Fatalf("split %d w %v segment %v: parameter %d = %v, want %v", tc.split, tc.w, tc.segment, i, got[i], want[i])
			}
		}
		// The scores are those of the materialised model.
		m, err := e.Model(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		d := e.tasks[0].Fitness()
		bits := population.NewBitset(d.Len())
		met, err := tasks.ScoreDataset(ctx, m, d, "h", tasks.ScoreOptions{Batch: 7, Correct: bits.Words})
		if err != nil {
			t.Fatal(err)
		}
		if c.Scores[0] != met.Accuracy || !slices.Equal(c.Correct[0].Bits.Words, bits.Words) {
			t.Errorf("scores %v, model accuracy %v", c.Scores, met.Accuracy)
		}
	}
	// Segment and global angle differ once the cut is inside the model.
	g1 := expectedChild(a, b, 7, 0.3, false)
	g2 := expectedChild(a, b, 7, 0.3, true)
	if slices.Equal(g1, g2) {
		t.Error("segment and global angles agree: the test does not tell them apart")
	}
}

func TestMutationIsDeterministicAndRebuildable(t *testing.T) {
	ctx := context.Background()
	ram := newEvaluator(t, Config{})
	reb := newEvaluator(t, Config{Storage: StorageRebuild, CacheSize: 1})
	disk := newEvaluator(t, Config{Storage: StorageDisk, Dir: t.TempDir(), Workers: 3})
	var lastRAM []float32
	for _, e := range []*Evaluator{ram, reb, disk} {
		seeds := seedCands(t, e)
		// A chain of three generations with mutation.
		p0, p1 := seeds[0].ID, seeds[1].ID
		var chain []*population.Candidate
		for gen := range 3 {
			c := childCand(t, e, p0, p1, map[string]float64{m2n2.ParamSplit: float64(5 + 6*gen), m2n2.ParamRatio: 0.4,
				m2n2.ParamSigma: 0.01, m2n2.ParamNoise: float64(100 + gen)})
			if err := e.Evaluate(ctx, []*population.Candidate{c}); err != nil || !c.OK() {
				t.Fatalf("gen %d: %v %s", gen, err, c.Error)
			}
			chain = append(chain, c)
			p0, p1 = p1, c.ID
		}
		last, err := e.Weights(ctx, chain[2].ID)
		if err != nil {
			t.Fatal(err)
		}
		if e == ram {
			lastRAM = last
			// Noise: the child minus the noiseless crossover of its parents.
			pa, _ := e.Weights(ctx, chain[0].ID)
			pb, _ := e.Weights(ctx, chain[1].ID)
			clean := expectedChild(pa, pb, 17, 0.4, false)
			var sum, sq float64
			for i := range clean {
				d := float64(last[i]) - clean[i]
				sum += d
				sq += d * d
			}
			sd := math.Sqrt(sq / float64(len(clean)))
			if sd < 0.004 || sd > 0.02 {
				t.Errorf("mutation sd %.4f, want about 0.01", sd)
			}
			continue
		}
		if !slices.Equal(last, lastRAM) {
			t.Errorf("%s storage: weights differ from RAM storage", e.storage)
		}
	}
	if reb.Rebuilds() == 0 {
		t.Error("rebuild storage with a cache of 1 rebuilt nothing")
	}
	if reb.Resident() > 1 {
		t.Errorf("rebuild storage holds %d vectors, cache size 1", reb.Resident())
	}
}

func TestStorageRelease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, st := range []Storage{StorageRAM, StorageDisk} {
		e := newEvaluator(t, Config{Storage: st, Dir: dir})
		seeds := seedCands(t, e)
		c1 := childCand(t, e, seeds[0].ID, seeds[1].ID, map[string]float64{m2n2.ParamSplit: 3, m2n2.ParamRatio: 0.5})
		c2 := childCand(t, e, seeds[1].ID, seeds[0].ID, map[string]float64{m2n2.ParamSplit: 9, m2n2.ParamRatio: 0.5})
		if err := e.Evaluate(ctx, []*population.Candidate{c1, c2}); err != nil {
			t.Fatal(err)
		}
		if st == StorageDisk {
			files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
			if len(files) != 2 {
				t.Errorf("disk storage wrote %d files, want 2 children", len(files))
			}
		}
		e.ArchiveChanged([]string{seeds[0].ID, c2.ID})
		if _, err := e.Weights(ctx, c1.ID); err == nil || !strings.Contains(err.Error(), "not available") {
			t.Errorf("%s: released member still available: %v", st, err)
		}
		if _, err := e.Weights(ctx, c2.ID); err != nil {
			t.Errorf("%s: archive member lost: %v", st, err)
		}
		// A child of a released parent fails with the reason.
		orphan := childCand(t, e, c1.ID, c2.ID, map[string]float64{m2n2.ParamSplit: 1, m2n2.ParamRatio: 0.5})
		if err := e.Evaluate(ctx, []*population.Candidate{orphan}); err != nil {
			t.Fatal(err)
		}
		if orphan.OK() || !strings.Contains(orphan.Error, "not available") {
			t.Errorf("%s: orphan %v %q", st, orphan.Status, orphan.Error)
		}
		if st == StorageDisk {
			e.Close()
			files, _ := os.ReadDir(dir)
			if len(files) != 0 {
				t.Errorf("close left %d files", len(files))
			}
		}
	}
}

func TestWorkersDoNotChangeResults(t *testing.T) {
	ctx := context.Background()
	run := func(workers int) [][]float64 {
		e := newEvaluator(t, Config{Workers: workers})
		seeds := seedCands(t, e)
		var batch []*population.Candidate
		for k := range 8 {
			batch = append(batch, childCand(t, e, seeds[k%2].ID, seeds[1-k%2].ID, map[string]float64{
				m2n2.ParamSplit: float64(3 * k), m2n2.ParamRatio: 0.1 * float64(k), m2n2.ParamSigma: 0.05, m2n2.ParamNoise: float64(k)}))
		}
		if err := e.Evaluate(ctx, batch); err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for _, c := range batch {
			w, err := e.Weights(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			row := append([]float64{}, c.Scores...)
			for _, v := range w {
				row = append(row, float64(v))
			}
			out = append(out, row)
		}
		return out
	}
	one, three := run(1), run(3)
	for i := range one {
		if !slices.Equal(one[i], three[i]) {
			t.Fatalf("candidate %d differs between 1 and 3 workers", i)
		}
	}
}

func TestBadInputs(t *testing.T) {
	ctx := context.Background()
	e := newEvaluator(t, Config{})
	seeds := seedCands(t, e)
	for name, params := range map[string]map[string]float64{
		"split past D":  {m2n2.ParamSplit: 24, m2n2.ParamRatio: 0.5},
		"ratio":         {m2n2.ParamSplit: 2, m2n2.ParamRatio: 1.5},
		"unknown param": {m2n2.ParamSplit: 2, m2n2.ParamRatio: 0.5, "temperature": 1},
		"no split":      {m2n2.ParamRatio: 0.5},
	} {
		c := childCand(t, e, seeds[0].ID, seeds[1].ID, params)
		if err := e.Evaluate(ctx, []*population.Candidate{c}); err != nil {
			t.Fatal(err)
		}
		if c.OK() {
			t.Errorf("%s: accepted", name)
		}
	}
	bad := &population.Candidate{ID: "x", Genome: population.VectorGenome([]float64{5})}
	if e.Evaluate(ctx, []*population.Candidate{bad}); bad.OK() {
		t.Error("seed index 5 of 2 accepted")
	}
	other, _ := mlp.Config{Input: [3]int{1, 2, 2}, Hidden: []int{4}, Heads: []model.Head{{Name: "h", Classes: 2}}}.New(1)
	first, _ := tinySpec().New(1)
	for name, cfg := range map[string]Config{
		"one seed":       {Seeds: []model.Network{first}, Tasks: []tasks.Task{tasks.New("t", "h", data.Train, tinyData(4))}},
		"architectures":  {Seeds: []model.Network{first, other}, Tasks: []tasks.Task{tasks.New("t", "h", data.Train, tinyData(4))}},
		"no head":        {Seeds: []model.Network{first, first}, Tasks: []tasks.Task{tasks.New("t", "zz", data.Train, tinyData(4))}},
		"disk, no dir":   {Seeds: []model.Network{first, first}, Tasks: []tasks.Task{tasks.New("t", "h", data.Train, tinyData(4))}, Storage: StorageDisk},
		"unknown store":  {Seeds: []model.Network{first, first}, Tasks: []tasks.Task{tasks.New("t", "h", data.Train, tinyData(4))}, Storage: "tape"},
		"no tasks":       {Seeds: []model.Network{first, first}},
		"empty task":     {Seeds: []model.Network{first, first}, Tasks: []tasks.Task{tasks.New("t", "h", data.Train, &data.Dataset{C: 1, H: 2, W: 2})}},
		"twice the task": {Seeds: []model.Network{first, first}, Tasks: []tasks.Task{tasks.New("t", "h", data.Train, tinyData(4)), tasks.New("t", "h", data.Train, tinyData(4))}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A resumed run: a fresh rebuild-storage evaluator learns the lineage of
// candidates it never scored and rebuilds a parent bit for bit.
func TestRememberRebuildsAfterResume(t *testing.T) {
	ctx := context.Background()
	first := newEvaluator(t, Config{})
	seeds := seedCands(t, first)
	c := childCand(t, first, seeds[0].ID, seeds[1].ID, map[string]float64{m2n2.ParamSplit: 9, m2n2.ParamRatio: 0.7, m2n2.ParamSigma: 0.02, m2n2.ParamNoise: 5})
	if err := first.Evaluate(ctx, []*population.Candidate{c}); err != nil || !c.OK() {
		t.Fatal(err, c.Error)
	}
	want, _ := first.Weights(ctx, c.ID)

	resumed := newEvaluator(t, Config{Storage: StorageRebuild})
	for _, k := range append(seeds, c) {
		if err := resumed.Remember(k.ID, k.Genome); err != nil {
			t.Fatal(err)
		}
	}
	got, err := resumed.Weights(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Error("rebuilt weights differ from the evaluated ones")
	}
	if err := resumed.Remember("x", population.VectorGenome([]float64{7})); err == nil {
		t.Error("a seed index out of range accepted")
	}
}

// M2N2 driven by search.Run against this evaluator gives the same run
// whatever the worker count, in every storage.
func TestM2N2RunIsDeterministic(t *testing.T) {
	run := func(workers int, st Storage) ([]string, []string) {
		e := newEvaluator(t, Config{Workers: workers, Storage: st, Dir: t.TempDir(), CacheSize: 2})
		cfg := m2n2.DefaultConfig(e.Parameters())
		cfg.ArchiveSize, cfg.BatchSize, cfg.MutationSigma, cfg.Observer = 5, 4, 0.05, e
		m, err := m2n2.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		space, _ := m2n2.SeedSpace(2)
		res, err := search.Run(context.Background(), m, e, search.Problem{Space: space, Directions: e.Objectives(), Seed: 3},
			search.Settings{MaxEvaluations: 42, EvalSpec: e.EvalSpec(), Version: e.Version()})
		if err != nil || res.Status != search.StatusEvaluationLimit {
			t.Fatalf("%v %v %v", err, res.Status, res.Err)
		}
		var ids []string
		for _, c := range res.Candidates {
			if !c.OK() {
				t.Fatalf("candidate failed: %s", c.Error)
			}
			ids = append(ids, c.ID+fmt.Sprint(c.Scores))
		}
		return ids, m.IDs()
	}
	ids1, arch1 := run(1, StorageRAM)
	for _, tc := range []struct {
		workers int
		st      Storage
	}{{3, StorageRAM}, {2, StorageRebuild}, {2, StorageDisk}} {
		ids, arch := run(tc.workers, tc.st)
		if !slices.Equal(ids, ids1) || !slices.Equal(arch, arch1) {
			t.Errorf("%d workers, %s storage: the run differs from 1 worker in RAM", tc.workers, tc.st)
		}
	}
}
