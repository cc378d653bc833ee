package evaluate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/rng"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/population"
)

// largePoolDirEnv names a directory that keeps the large synthetic pool
// between benchmark runs (written once); unset, each run writes it into a
// temporary directory.
const largePoolDirEnv = "EVOMERGE_LARGE_POOL_DIR"

// largeConfig is an MLP of three square hidden layers of the given width
// on 1×64×64 inputs, with one head: width 4096 is 50.3M parameters, about
// 201 MB as F32; width 6144 is 100.7M, about 201 MB as BF16.
func largeConfig(width int, head string) mlp.Config {
	return mlp.Config{Input: [3]int{1, 64, 64}, Hidden: []int{width, width, width}, Heads: []model.Head{{Name: head, Classes: 10}}}
}

// writeLargePool writes n synthetic experts of largeConfig(width) stored
// as dt into dir (keeping files already there), tensor by tensor through a
// checkpoint.ShardedWriter, so writing holds one tensor in memory, not a
// model. It returns their paths.
func writeLargePool(tb testing.TB, dir string, n, width int, dt checkpoint.DType) []string {
	tb.Helper()
	var paths []string
	for i := range n {
		head := fmt.Sprintf("t%d", i)
		cfg := largeConfig(width, head)
		out := filepath.Join(dir, fmt.Sprintf("expert%d-%s-%d", i, strings.ToLower(string(dt)), width))
		paths = append(paths, out)
		if r, err := checkpoint.Open(out); err == nil {
			r.Close()
			continue
		}
		var plan []checkpoint.TensorInfo
		in := 64 * 64
		for k, w := range cfg.Hidden {
			name := "layers." + strconv.Itoa(2*k+1)
			plan = append(plan, checkpoint.TensorInfo{Name: name + ".weight", DType: dt, Shape: []int{w, in}},
				checkpoint.TensorInfo{Name: name + ".bias", DType: dt, Shape: []int{w}})
			in = w
		}
		plan = append(plan, checkpoint.TensorInfo{Name: "heads." + head + ".weight", DType: dt, Shape: []int{10, in}},
			checkpoint.TensorInfo{Name: "heads." + head + ".bias", DType: dt, Shape: []int{10}})
		w, err := checkpoint.NewShardedWriter(out, plan, cfg.Metadata(), checkpoint.ShardOptions{DType: dt})
		if err != nil {
			tb.Fatal(err)
		}
		var buf []float32
		for _, t := range plan {
			size := t.NumElements()
			if cap(buf) < size {
				buf = make([]float32, size)
			}
			buf = buf[:size]
			r := rng.New(uint64(100+i), "test", "large", t.Name)
			for j := range buf {
				buf[j] = float32(r.NormFloat64() * 0.02)
			}
			if err := w.WriteTensor(t.Name, buf); err != nil {
				w.Abort()
				tb.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
	return paths
}

// memory is the process's resident memory (Linux /proc/self/status:
// anonymous and file-backed pages) and its peak resident size so far
// (getrusage), in bytes; zeros where unavailable.
type memory struct{ anon, file, peak uint64 }

func readMemory() memory {
	var m memory
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.peak = uint64(ru.Maxrss) << 10 // KiB on Linux
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for key, dst := range map[string]*uint64{"RssAnon:": &m.anon, "RssFile:": &m.file} {
			if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
				if fields := strings.Fields(rest); len(fields) > 0 {
					kb, _ := strconv.ParseUint(fields[0], 10, 64)
					*dst = kb << 10
				}
			}
		}
	}
	return m
}

// BenchmarkLargePool loads a pool of three synthetic experts of about
// 200 MB each (f32: stored F32; bf16: stored BF16, 400 MB each as float32)
// and reports what the loaded pool holds: Go heap, anonymous and
// file-backed resident memory right after LoadPool (load), and after one
// linear merge of the three into a network (load+merge), plus the
// process's peak RSS. Run one sub-benchmark per process for a clean peak
// (-test.bench 'LargePool/f32/load$' -test.benchtime 1x) and set
// EVOMERGE_LARGE_POOL_DIR to write the 600 MB of checkpoints once.
func BenchmarkLargePool(b *testing.B) {
	for _, c := range []struct {
		name  string
		width int
		dt    checkpoint.DType
	}{{"f32", 4096, checkpoint.F32}, {"bf16", 6144, checkpoint.BF16}} {
		for _, merge := range []bool{false, true} {
			name := c.name + "/load"
			if merge {
				name += "+merge"
			}
			b.Run(name, func(b *testing.B) {
				dir := os.Getenv(largePoolDirEnv)
				if dir == "" {
					dir = b.TempDir()
				}
				paths := writeLargePool(b, dir, 3, c.width, c.dt)
				var heap, anon, file uint64
				b.ResetTimer()
				for range b.N {
					runtime.GC()
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					m0 := readMemory()
					p, err := LoadPool(PoolFiles{Models: paths})
					if err != nil {
						b.Fatal(err)
					}
					var net model.Network // the merged model, kept through the measurement
					if merge {
						e, err := NewMerger(linearMerge(b, p, true))
						if err != nil {
							b.Fatal(err)
						}
						if net, err = e.Materialize(context.Background(), population.VectorGenome([]float64{1, 1, 1})); err != nil {
							b.Fatal(err)
						}
					}
					runtime.GC()
					runtime.ReadMemStats(&after)
					m1 := readMemory()
					heap = after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
					anon, file = m1.anon-min(m1.anon, m0.anon), m1.file-min(m1.file, m0.file)
					runtime.KeepAlive(p)
					runtime.KeepAlive(net)
					if c, ok := any(p).(io.Closer); ok {
						c.Close()
					}
				}
				b.StopTimer()
				const mb = 1 << 20
				b.ReportMetric(float64(heap)/mb, "heap-MiB")
				b.ReportMetric(float64(anon)/mb, "rss-anon-MiB")
				b.ReportMetric(float64(file)/mb, "rss-file-MiB")
				b.ReportMetric(float64(readMemory().peak)/mb, "peak-rss-MiB")
			})
		}
	}
}

// BenchmarkNativeEvaluateBF16 is BenchmarkNativeEvaluate/mnist-tasks with
// the pool stored as BF16: each evaluation converts the tensors it merges
// (an F32 pool is read in place), the cost of not holding the pool in
// memory as float32.
func BenchmarkNativeEvaluateBF16(b *testing.B) {
	bm := testkit.PreparedMNISTTasks(b)
	dir := b.TempDir()
	conv := func(path string) string {
		ts, meta, err := checkpoint.LoadAll(path)
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, filepath.Base(path))
		if err := checkpoint.Write(out, ts, meta, checkpoint.WriteOptions{DType: checkpoint.BF16}); err != nil {
			b.Fatal(err)
		}
		return out
	}
	f := PoolFiles{Benchmark: bm.Name, BenchmarkVersion: bm.Version}
	if base, ok := bm.Base(); ok {
		f.Base = conv(base.Path)
	}
	for _, m := range bm.Pool() {
		f.Models = append(f.Models, conv(m.Path))
		f.Names = append(f.Names, m.Task)
	}
	pool, err := LoadPool(f)
	if err != nil {
		b.Fatal(err)
	}
	ts, err := bm.LoadTasks(context.Background(), benchmarks.TaskOptions{})
	if err != nil {
		b.Skipf("mnist-tasks data: %v", err)
	}
	benchWorkers(b, NativeConfig{Merge: groupTaskArithmetic(b, pool), Tasks: ts, Objectives: meanAndTaskObjectives(ts)})
}

// BenchmarkPoolMerge measures the merge step of a native evaluation alone
// (task arithmetic per layer group into a worker's network, no scoring):
// the synthetic pool and, when it is prepared, mnist-tasks. One op is one
// merge.
func BenchmarkPoolMerge(b *testing.B) {
	run := func(b *testing.B, pool *Pool) {
		cfg := groupTaskArithmetic(b, pool)
		m, err := NewMerger(cfg)
		if err != nil {
			b.Fatal(err)
		}
		g := population.VectorGenome(make([]float64, cfg.Mapping.Space().Len()))
		for i := range g.Values {
			g.Values[i] = 0.3
		}
		ctx := context.Background()
		p, err := m.Plan(ctx, g)
		if err != nil {
			b.Fatal(err)
		}
		net, err := m.newModel()
		if err != nil {
			b.Fatal(err)
		}
		dst := destinations(net, p)
		var buf mergeBuffers
		if err := buf.merge(ctx, p, pool.src, dst); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := buf.merge(ctx, p, pool.src, dst); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("synthetic", func(b *testing.B) { run(b, newSynthetic(b, 10).pool(b)) })
	b.Run("mnist-tasks", func(b *testing.B) {
		pool, err := BenchmarkPool(testkit.PreparedMNISTTasks(b))
		if err != nil {
			b.Fatal(err)
		}
		run(b, pool)
	})
}
