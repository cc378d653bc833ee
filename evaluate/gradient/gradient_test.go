package gradient

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/fw"
)

// fixture is a tiny two-task MLP: a base and experts that perturb it.
type fixture struct {
	spec    model.Config
	base    model.Network
	experts []model.Network
	tasks   []tasks.Task
}

func newFixture(t testing.TB, experts int, hidden []int) *fixture {
	t.Helper()
	heads := []model.Head{{Name: "a", Classes: 3}, {Name: "b", Classes: 4}}
	spec := mlp.Config{Input: [3]int{1, 3, 3}, Hidden: hidden, Heads: heads}
	base, err := spec.New(1)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{spec: spec, base: base}
	for k := range experts {
		m := base.Clone()
		r := rng.New(7, "expert", fmt.Sprint(k))
		for _, p := range m.Params() {
			for i := range p.Data {
				p.Data[i] += float32(0.3 * r.NormFloat64())
			}
		}
		f.experts = append(f.experts, m)
	}
	r := rng.New(3, "inputs")
	for ti, h := range heads {
		n := 12 + 3*ti
		d := &data.Dataset{Name: "task-" + h.Name, C: 1, H: 3, W: 3, Classes: h.Classes, X: make([]float32, n*9), Y: make([]int32, n)}
		for i := range d.X {
			d.X[i] = float32(r.Float64())
		}
		for i := range d.Y {
			d.Y[i] = int32(r.IntN(h.Classes))
		}
		f.tasks = append(f.tasks, tasks.New("task-"+h.Name, h.Name, data.Validation, d))
	}
	return f
}

func (f *fixture) taskVectors(t testing.TB) *TaskVectors {
	t.Helper()
	var models [][]checkpoint.Tensor
	for _, e := range f.experts {
		models = append(models, model.Tensors(e))
	}
	src, err := operators.NewMemSource(model.Tensors(f.base), models...)
	if err != nil {
		t.Fatal(err)
	}
	tv, err := NewTaskVectors(src, operators.TaskTensors{})
	if err != nil {
		t.Fatal(err)
	}
	return tv
}

func TestTaskVectorsExcludeHeads(t *testing.T) {
	f := newFixture(t, 2, []int{5})
	tv := f.taskVectors(t)
	want := []string{"layers.1.bias", "layers.1.weight"}
	if !slices.Equal(tv.Names, want) {
		t.Fatalf("mergeable tensors %v, want %v", tv.Names, want)
	}
	p := f.experts[1].Param("layers.1.weight")
	b := f.base.Param("layers.1.weight")
	if got, w := tv.Tau[1][1][4], p.Data[4]-b.Data[4]; got != w {
		t.Fatalf("τ = %v, want %v", got, w)
	}
}

// checkGradient compares LossGrad's dL/dc with central differences.
func checkGradient(t *testing.T, kind string, supervised bool) {
	f := newFixture(t, 3, []int{6})
	tv := f.taskVectors(t)
	lay, err := NewLayout(kind, tv, func(name string) string { return checkpoint.LayerGroup(name) })
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewAdaMerging(f.base.Clone(), tv, lay, f.tasks, AdaMergingOptions{Full: true, Supervised: supervised})
	if err != nil {
		t.Fatal(err)
	}
	n := lay.Len()
	c := make([]float64, n)
	r := rng.New(11, "coefficients")
	for i := range c {
		c[i] = 0.1 + 0.6*r.Float64()
	}
	grad := make([]float64, n)
	if _, err := ev.LossGrad(context.Background(), c, grad); err != nil {
		t.Fatal(err)
	}
	const h = 1e-2
	tmp := make([]float64, n)
	for i := range c {
		copy(tmp, c)
		tmp[i] = c[i] + h
		lp, err := ev.LossGrad(context.Background(), tmp, make([]float64, n))
		if err != nil {
			t.Fatal(err)
		}
		tmp[i] = c[i] - h
		lm, _ := ev.LossGrad(context.Background(), tmp, make([]float64, n))
		fd := (lp - lm) / (2 * h)
		if math.Abs(fd-grad[i]) > 2e-3+2e-2*math.Abs(fd) {
			t.Errorf("%s coefficient %d: dL/dλ = %.6g, finite difference %.6g", kind, i, grad[i], fd)
		}
	}
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	for _, kind := range []string{LayoutTask, LayoutTensor, LayoutGroup} {
		for _, supervised := range []bool{false, true} {
			name := kind + "/entropy"
			if supervised {
				name = kind + "/cross-entropy"
			}
			t.Run(name, func(t *testing.T) { checkGradient(t, kind, supervised) })
		}
	}
}

func TestLayoutNamesAndIndex(t *testing.T) {
	f := newFixture(t, 2, []int{4, 4})
	tv := f.taskVectors(t)
	tv.Models = []string{"x", "y"}
	lay, _ := NewLayout(LayoutTensor, tv, nil)
	names := lay.Names(tv)
	if lay.Len() != 8 || names[lay.Index(1, 2)] != "layers.3.bias/weight[y]" {
		t.Fatalf("tensor layout: %d coefficients, names %v", lay.Len(), names)
	}
	grp, _ := NewLayout(LayoutGroup, tv, checkpoint.LayerGroup)
	if grp.Len() != 4 || grp.Index(1, 3) != 3 || grp.Names(tv)[1] != "layers.3/weight[x]" {
		t.Fatalf("group layout: %d, %v", grp.Len(), grp.Names(tv))
	}
	task, _ := NewLayout(LayoutTask, tv, nil)
	if task.Len() != 2 || task.Index(1, 3) != 1 || task.Names(tv)[0] != "weight[x]" {
		t.Fatalf("task layout: %v", task.Names(tv))
	}
	if _, err := NewLayout("block", tv, nil); err == nil {
		t.Fatal("unknown layout accepted")
	}
}

func TestTIESHandComputed(t *testing.T) {
	tv := &TaskVectors{
		Names:  []string{"w"},
		Shapes: [][]int{{4}},
		Base:   [][]float32{{0, 0, 0, 0}},
		Tau: [][][]float32{
			{{3, -1, 0.5, 2}},
			{{-4, 2, 1, -0.1}},
			{{1, -3, -2, 0.2}},
		},
	}
	got, err := tv.TIES(0.5, TrimTensor)
	if err != nil {
		t.Fatal(err)
	}
	// Trim to the top 2 of 4 per vector: {3,0,0,2}, {-4,2,0,0}, {0,-3,-2,0}.
	// Elected signs of the sums (−1, −1, −2, 2): −, −, −, +.
	want := [][]float32{{0, 0, 0, 2}, {-4, 0, 0, 0}, {0, -3, -2, 0}}
	for k := range want {
		if !slices.Equal(got.Tau[k][0], want[k]) {
			t.Errorf("τ'%d = %v, want %v", k, got.Tau[k][0], want[k])
		}
	}
	if tv.Tau[0][0][0] != 3 {
		t.Error("TIES modified its input")
	}
	// A zero sum takes the majority (total mass) sign.
	tie := &TaskVectors{Names: []string{"w"}, Shapes: [][]int{{2}}, Base: [][]float32{{0, 0}},
		Tau: [][][]float32{{{1, -5}}, {{-1, 0}}}}
	got, _ = tie.TIES(1, TrimModel)
	if !slices.Equal(got.Tau[0][0], []float32{0, -5}) || !slices.Equal(got.Tau[1][0], []float32{-1, 0}) {
		t.Errorf("majority sign: %v %v", got.Tau[0][0], got.Tau[1][0])
	}
	if _, err := tv.TIES(0, TrimModel); err == nil {
		t.Error("keep 0 accepted")
	}
}

func TestAdaMergingBatchesDeterministicPerSeed(t *testing.T) {
	f := newFixture(t, 2, []int{5})
	tv := f.taskVectors(t)
	lay, _ := NewLayout(LayoutTensor, tv, nil)
	run := func(seed uint64) []float64 {
		ev, err := NewAdaMerging(f.base.Clone(), tv, lay, f.tasks, AdaMergingOptions{Batch: 4, Batches: 2, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		res, err := adamerging.Optimize(context.Background(), ev, lay.Len(), adamerging.Options{Steps: 20, LR: 0.05})
		if err != nil {
			t.Fatal(err)
		}
		return res.Coefficients
	}
	a, b, c := run(1), run(1), run(2)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different coefficients: %v vs %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds drew the same batches")
	}
}

func TestAdaMergingErrors(t *testing.T) {
	f := newFixture(t, 1, []int{5})
	tv := f.taskVectors(t)
	lay, _ := NewLayout(LayoutTask, tv, nil)
	bad := slices.Clone(f.tasks)
	bad[0].Head = "missing"
	if _, err := NewAdaMerging(f.base.Clone(), tv, lay, bad, AdaMergingOptions{}); err == nil || !strings.Contains(err.Error(), "head") {
		t.Errorf("missing head: %v", err)
	}
	other, _ := mlp.Config{Input: [3]int{1, 3, 3}, Hidden: []int{7}, Heads: []model.Head{{Name: "a", Classes: 3}}}.New(1)
	if _, err := NewAdaMerging(other, tv, lay, f.tasks[:1], AdaMergingOptions{}); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("shape mismatch: %v", err)
	}
	if _, err := NewAdaMerging(f.base.Clone(), tv, lay, f.tasks, AdaMergingOptions{Supervised: true, Split: data.Train}); err == nil || !strings.Contains(err.Error(), "no train examples") {
		t.Errorf("missing split: %v", err)
	}
	// The default objective (entropy) reads no labels at all.
	ev, err := NewAdaMerging(f.base.Clone(), tv, lay, f.tasks, AdaMergingOptions{})
	if err != nil {
		t.Fatalf("unlabelled tasks refused by the entropy objective: %v", err)
	}
	if _, err := ev.LossGrad(context.Background(), []float64{0.3}, make([]float64, 1)); err != nil {
		t.Fatalf("entropy step on unlabelled tasks: %v", err)
	}
	for _, in := range ev.tasks {
		if in.Y != nil {
			t.Fatalf("task %s: the entropy objective was handed labels", in.Name)
		}
	}
}

// writePool writes the fixture's experts (cycled, each perturbed by its own
// noise so files differ) as n checkpoint files.
func writePool(t testing.TB, f *fixture, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range n {
		m := f.experts[i%len(f.experts)].Clone()
		if i >= len(f.experts) {
			r := rng.New(5, "noise", fmt.Sprint(i))
			for _, p := range m.Params() {
				for j := range p.Data {
					p.Data[j] += float32(0.05 * r.NormFloat64())
				}
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("member-%02d.safetensors", i))
		if err := model.Save(path, m, nil); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

func TestFrankWolfeAlignAndStep(t *testing.T) {
	f := newFixture(t, 2, []int{5})
	tv := f.taskVectors(t)
	pool := writePool(t, f, 2)
	ev, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{})
	if err != nil {
		t.Fatal(err)
	}
	align := make([][]float64, 3)
	for i := range align {
		align[i] = make([]float64, 2)
	}
	if _, err := ev.Align(context.Background(), -1, align); err != nil {
		t.Fatal(err)
	}
	// Reference: gradient of the summed cross-entropy at θ0, by nn directly.
	m := f.base.Clone()
	g := make([][]float32, 2)
	for ti, task := range f.tasks {
		d := task.Fitness()
		if _, err := model.LossAndGrad(m, d.X, d.Len(), task.Head, d.Y, model.CrossEntropy); err != nil {
			t.Fatal(err)
		}
		for l, name := range tv.Names {
			if ti == 0 {
				g[l] = make([]float32, len(m.Param(name).Grad))
			}
			for i, v := range m.Param(name).Grad {
				g[l][i] += v
			}
		}
	}
	for k := range 2 {
		for l, name := range tv.Names {
			// At θ = θ0 the direction of member k is its task vector.
			d := tv.Tau[k][l]
			want := dot(g[l], d) / math.Sqrt(dot(g[l], g[l])*dot(d, d))
			if math.Abs(align[k][l]-want) > 1e-5 {
				t.Errorf("align[%d][%s] = %v, want %v", k, name, align[k][l], want)
			}
			_ = f.experts[k].Param(name)
		}
	}
	if align[2][0] != 0 || align[2][1] != 0 {
		t.Errorf("the base vertex at θ = θ0 has a zero direction, alignment must be 0: %v", align[2])
	}
	// Step: tensor 0 toward member 1 by 0.25, tensor 1 stays.
	if err := ev.Step(context.Background(), []int{1, search.VertexStay}, 0.25); err != nil {
		t.Fatal(err)
	}
	for i, v := range ev.Theta()[0] {
		want := tv.Base[0][i] + 0.25*tv.Tau[1][0][i]
		if math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("θ[0][%d] = %v, want %v", i, v, want)
		}
	}
	if !slices.Equal(ev.Theta()[1], tv.Base[1]) {
		t.Fatal("a stayed tensor moved")
	}
	// Back to the base: the null vertex pulls toward θ0, not toward 0.
	if err := ev.Step(context.Background(), []int{search.VertexBase, search.VertexBase}, 1); err != nil {
		t.Fatal(err)
	}
	for i, v := range ev.Theta()[0] {
		if math.Abs(float64(v-tv.Base[0][i])) > 1e-6 {
			t.Fatalf("a full step to the base vertex must land on θ0: %v vs %v", v, tv.Base[0][i])
		}
	}
	if err := ev.Step(context.Background(), []int{7, 0}, 1); err == nil {
		t.Fatal("a vertex outside the pool was accepted")
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestFrankWolfeInitTaskArithmetic(t *testing.T) {
	f := newFixture(t, 2, []int{5})
	tv := f.taskVectors(t)
	pool := writePool(t, f, 2)
	ev, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.InitTaskArithmetic(context.Background(), 0.3); err != nil {
		t.Fatal(err)
	}
	for l := range tv.Names {
		for i, v := range ev.Theta()[l] {
			want := tv.Base[l][i] + 0.3*(tv.Tau[0][l][i]+tv.Tau[1][l][i])
			if math.Abs(float64(v-want)) > 1e-6 {
				t.Fatalf("θ[%d][%d] = %v, want %v", l, i, v, want)
			}
		}
	}
	if err := ev.InitTaskArithmetic(context.Background(), math.NaN()); err == nil {
		t.Fatal("NaN λ accepted")
	}
}

func TestFrankWolfeTIESRule(t *testing.T) {
	f := newFixture(t, 1, []int{5})
	tv := f.taskVectors(t)
	pool := writePool(t, f, 1)
	ev, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{Rule: RuleTIES, TIESKeep: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Step(context.Background(), []int{0, 0}, 0.5); err != nil {
		t.Fatal(err)
	}
	total, moved := 0, 0
	for l := range tv.Names {
		for i, v := range ev.Theta()[l] {
			total++
			if v != tv.Base[l][i] {
				moved++
				if want := tv.Base[l][i] + 0.5*tv.Tau[0][l][i]; math.Abs(float64(v-want)) > 1e-6 {
					t.Fatalf("kept entry moved to %v, want %v", v, want)
				}
			}
		}
	}
	if wantMoved := int(math.Ceil(0.25 * float64(total))); moved != wantMoved {
		t.Fatalf("%d of %d entries moved, want the top %d", moved, total, wantMoved)
	}
}

func TestFrankWolfeHardAndSoftImproveTheProxyLoss(t *testing.T) {
	f := newFixture(t, 2, []int{6})
	tv := f.taskVectors(t)
	pool := writePool(t, f, 4)
	for _, variant := range []string{fw.VariantHard, fw.VariantSoft} {
		ev, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{
			Unlabelled: f.tasks, Ada: AdaMergingOptions{Full: true}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := fw.Merge(context.Background(), ev, fw.Options{Iterations: 5, StepSize: 1, Variant: variant,
			Ada: adamerging.Options{Steps: 10, LR: 0.01}})
		if err != nil {
			t.Fatalf("%s: %v", variant, err)
		}
		align := make([][]float64, 5)
		for i := range align {
			align[i] = make([]float64, 2)
		}
		final, err := ev.Align(context.Background(), -1, align)
		if err != nil {
			t.Fatal(err)
		}
		start := res.Iterations[0].Loss
		if variant == fw.VariantSoft {
			// The soft iteration's loss is the sum of per-task losses.
			if len(res.Iterations[0].Selected) != 2 || res.Iterations[0].Selected[0] == res.Iterations[0].Selected[1] {
				t.Fatalf("soft selection %v: want two different members", res.Iterations[0].Selected)
			}
			continue
		}
		if !(final < start) {
			t.Errorf("%s: proxy loss %v → %v", variant, start, final)
		}
	}
}

// TestFrankWolfeMemoryFlatInPoolSize streams pools of 4 and 24 members of a
// 1 MB model and checks that neither the heap retained after an alignment
// pass nor the heap allocated during it grows by anything like a model per
// member: a member costs its file header, never its tensors.
func TestFrankWolfeMemoryFlatInPoolSize(t *testing.T) {
	f := newFixture(t, 4, []int{512, 512})
	tv := f.taskVectors(t)
	modelBytes := 0
	for _, b := range tv.Base {
		modelBytes += 4 * len(b)
	}
	measure := func(n int) (perPass, retained int64) {
		pool := writePool(t, f, n)
		ev, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{})
		if err != nil {
			t.Fatal(err)
		}
		align := make([][]float64, n+1)
		for i := range align {
			align[i] = make([]float64, tv.NumTensors())
		}
		ev.Align(context.Background(), -1, align) // warm up the model's buffers
		var before, after runtime.MemStats
		runtime.GC()
		runtime.GC() // twice: sync.Pool victims survive one cycle
		runtime.ReadMemStats(&before)
		const passes = 2
		for range passes {
			if _, err := ev.Align(context.Background(), -1, align); err != nil {
				t.Fatal(err)
			}
			if err := ev.Step(context.Background(), []int{0, 1, n - 1, search.VertexBase}, 0.1); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		perPass = int64(after.TotalAlloc-before.TotalAlloc) / passes
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(ev)
		return perPass, int64(after.HeapAlloc) - int64(before.HeapAlloc)
	}
	smallPass, smallHeld := measure(4)
	largePass, largeHeld := measure(24)
	t.Logf("model %d B; heap allocated per align+step: pool 4 %d B, pool 24 %d B; heap retained across the passes: pool 4 %d B, pool 24 %d B",
		modelBytes, smallPass, largePass, smallHeld, largeHeld)
	if perMember := (float64(largePass) - float64(smallPass)) / 20; perMember > float64(modelBytes)/8 {
		t.Fatalf("each extra pool member costs %.0f B per pass (a model is %d B): members are not streamed", perMember, modelBytes)
	}
	if largeHeld > int64(modelBytes)/4 {
		t.Fatalf("the passes over 24 members retained %d B (a model is %d B)", largeHeld, modelBytes)
	}
}

func TestFrankWolfeErrors(t *testing.T) {
	f := newFixture(t, 1, []int{5})
	tv := f.taskVectors(t)
	other, _ := mlp.Config{Input: [3]int{1, 3, 3}, Hidden: []int{7}, Heads: []model.Head{{Name: "a", Classes: 3}, {Name: "b", Classes: 4}}}.New(2)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	if err := model.Save(bad, other, nil); err != nil {
		t.Fatal(err)
	}
	_, err := NewFrankWolfe(f.base.Clone(), tv, nil, []string{bad}, f.tasks, FWOptions{})
	if err == nil || !strings.Contains(err.Error(), "shape") || !strings.Contains(err.Error(), "pool member 0") {
		t.Errorf("mismatched member: %v", err)
	}
	_, err = NewFrankWolfe(f.base.Clone(), tv, nil, []string{filepath.Join(dir, "none.safetensors")}, f.tasks, FWOptions{})
	if err == nil {
		t.Error("missing member accepted")
	}
	pool := writePool(t, f, 1)
	if _, err := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{Rule: "dare"}); err == nil {
		t.Error("unknown rule accepted")
	}
	ev, _ := NewFrankWolfe(f.base.Clone(), tv, nil, pool, f.tasks, FWOptions{})
	if _, err := ev.Adapt(context.Background(), []int{0}); err == nil || !strings.Contains(err.Error(), "unlabelled") {
		t.Errorf("soft without unlabelled data: %v", err)
	}
}
