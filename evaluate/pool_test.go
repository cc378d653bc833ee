package evaluate

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/population"
)

// storedAs rewrites the synthetic pool's checkpoints with tensors stored as
// dt (same names, metadata and values rounded to dt) and returns the base
// and expert paths.
func storedAs(t testing.TB, s *synthetic, dt checkpoint.DType) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	conv := func(path string) string {
		ts, meta, err := checkpoint.LoadAll(path)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, filepath.Base(path))
		if err := checkpoint.Write(out, ts, meta, checkpoint.WriteOptions{DType: dt}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	var experts []string
	for _, e := range s.experts {
		experts = append(experts, conv(e))
	}
	return conv(s.base), experts
}

// residentSource is the pool as LoadPool held it before it read lazily:
// every checkpoint converted to float32 in memory.
func residentSource(t testing.TB, base string, experts []string) *operators.MemSource {
	t.Helper()
	b, _, err := checkpoint.LoadAll(base)
	if err != nil {
		t.Fatal(err)
	}
	var ms [][]checkpoint.Tensor
	for _, e := range experts {
		m, _, err := checkpoint.LoadAll(e)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	src, err := operators.NewMemSource(b, ms...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func sameFloats(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if (got == nil) != (want == nil) || len(got) != len(want) {
		t.Fatalf("%s: %d values (nil %v), want %d (nil %v)", what, len(got), got == nil, len(want), want == nil)
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// The lazy pool reads, for every stored dtype, the values the resident
// pool held, and merges to the same bits.
func TestLazyPoolReadsAsResident(t *testing.T) {
	s := newSynthetic(t, 5)
	for _, dt := range []checkpoint.DType{checkpoint.F32, checkpoint.BF16, checkpoint.F16} {
		t.Run(string(dt), func(t *testing.T) {
			base, experts := storedAs(t, s, dt)
			pool, err := LoadPool(PoolFiles{Base: base, Models: experts, Names: []string{"alpha", "beta"}})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			res := residentSource(t, base, experts)
			if got, want := pool.Source().Tensors(), res.Tensors(); len(got) != len(want) {
				t.Fatalf("%d tensors, the resident pool has %d", len(got), len(want))
			}
			var in, want operators.TensorInputs
			for _, meta := range res.Tensors() {
				if err := pool.Source().Load(meta.Name, &in); err != nil {
					t.Fatal(err)
				}
				if err := res.Load(meta.Name, &want); err != nil {
					t.Fatal(err)
				}
				sameFloats(t, meta.Name+" base", in.Base, want.Base)
				for i := range want.Models {
					sameFloats(t, meta.Name+" model", in.Models[i], want.Models[i])
				}
			}
			for _, cfg := range []MergeConfig{taskArithmeticGroups(t, pool), linearMerge(t, pool, false)} {
				m, err := NewMerger(cfg)
				if err != nil {
					t.Fatal(err)
				}
				g := population.VectorGenome(make([]float64, cfg.Mapping.Space().Len()))
				for i := range g.Values {
					g.Values[i] = 0.3 + 0.2*float64(i)
				}
				net, err := m.Materialize(context.Background(), g)
				if err != nil {
					t.Fatal(err)
				}
				p, err := m.Plan(context.Background(), g)
				if err != nil {
					t.Fatal(err)
				}
				err = operators.MergeAll(context.Background(), p, res, func(meta operators.TensorMeta) []float32 {
					return make([]float32, meta.NumElements())
				}, func(meta operators.TensorMeta, v []float32) error {
					sameFloats(t, cfg.Operator.Name()+" "+meta.Name, net.Param(meta.Name).Data, v)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// The native evaluator's merge of a genome into its worker's network does
// not allocate once its buffers have grown, whether the pool's tensors are
// read in place (F32) or converted (BF16), with a method that uses the base
// and one that does not.
func TestLazyPoolMergeDoesNotAllocate(t *testing.T) {
	s := newSynthetic(t, 5)
	for _, dt := range []checkpoint.DType{checkpoint.F32, checkpoint.BF16} {
		base, experts := storedAs(t, s, dt)
		pool, err := LoadPool(PoolFiles{Base: base, Models: experts, Names: []string{"alpha", "beta"}})
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		for _, cfg := range []MergeConfig{taskArithmeticGroups(t, pool), linearMerge(t, pool, false)} {
			m, err := NewMerger(cfg)
			if err != nil {
				t.Fatal(err)
			}
			g := population.VectorGenome(make([]float64, cfg.Mapping.Space().Len()))
			p, err := m.Plan(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			net, err := m.newModel()
			if err != nil {
				t.Fatal(err)
			}
			dst := destinations(net, p)
			var buf mergeBuffers
			ctx := context.Background()
			merge := func() {
				if err := buf.merge(ctx, p, pool.src, dst); err != nil {
					t.Fatal(err)
				}
			}
			merge()
			if a := testing.AllocsPerRun(10, merge); a != 0 {
				t.Errorf("%s pool, %s: a merge allocates %.1f times", dt, cfg.Operator.Name(), a)
			}
		}
	}
}

// Tensors that do not read as float32 are refused when the pool loads, as
// when it was read whole; a closed pool reads nothing.
func TestLazyPoolRefusesAndCloses(t *testing.T) {
	s := newSynthetic(t, 5)
	dir := t.TempDir()
	ts, meta, err := checkpoint.LoadAll(s.experts[0])
	if err != nil {
		t.Fatal(err)
	}
	var plan []checkpoint.TensorInfo
	for _, x := range ts {
		plan = append(plan, checkpoint.TensorInfo{Name: x.Name, Shape: x.Shape})
	}
	plan = append(plan, checkpoint.TensorInfo{Name: "position_ids", DType: checkpoint.I64, Shape: []int{2}})
	out := filepath.Join(dir, "raw")
	w, err := checkpoint.NewShardedWriter(out, plan, meta, checkpoint.ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if err := w.WriteTensor(x.Name, x.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteRaw("position_ids", make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPool(PoolFiles{Models: []string{out}}); err == nil || !strings.Contains(err.Error(), `tensor "position_ids" has dtype I64, which evomerge cannot read as float32`) {
		t.Errorf("pool with an I64 tensor: error %v", err)
	}

	pool := s.pool(t)
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	var in operators.TensorInputs
	if err := pool.Source().Load(pool.Source().Tensors()[0].Name, &in); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("load from a closed pool: error %v", err)
	}
	if err := pool.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
