package nats

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

// Environment of a re-executed test binary acting as a worker process.
const (
	envWorker  = "EVOMERGE_NATS_TEST_WORKER" // set: run a worker, not tests
	envURL     = "EVOMERGE_NATS_TEST_URL"
	envDelay   = "EVOMERGE_NATS_TEST_DELAY"   // per evaluation, e.g. "300ms"
	envGrace   = "EVOMERGE_NATS_TEST_GRACE"   // watchdog grace
	envConc    = "EVOMERGE_NATS_TEST_CONC"    // concurrency
	envSources = "EVOMERGE_NATS_TEST_SOURCES" // content-addressed source cache
	envNative  = "EVOMERGE_NATS_TEST_NATIVE"  // "1": plain native evaluator on benchmark data
)

// Genome values that make the test evaluator misbehave (first gene).
const (
	poisonValue = 1.875  // the worker process crashes (exit 7)
	hangValue   = -1.875 // the evaluation ignores its context forever
)

func TestMain(m *testing.M) {
	if os.Getenv(envWorker) != "" {
		os.Exit(workerMain())
	}
	os.Exit(m.Run())
}

// workerMain is a worker process: SIGTERM drains, stdout gets the event
// lines.
func workerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	nc, err := Connect(os.Getenv(envURL), "test-worker")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	delay, _ := time.ParseDuration(os.Getenv(envDelay))
	grace, _ := time.ParseDuration(os.Getenv(envGrace))
	conc, _ := strconv.Atoi(os.Getenv(envConc))
	out := &syncWriter{w: os.Stdout}
	opt := WorkerOptions{
		Concurrency: conc, Name: fmt.Sprintf("w%d", os.Getpid()),
		Build:         BuildOptions{Kinds: testKinds, SourceCache: os.Getenv(envSources), Tasks: syntheticTasks},
		Builder:       testBuilder(delay),
		WatchdogGrace: grace,
		Log:           out,
	}
	if os.Getenv(envNative) == "1" {
		opt.Build.Tasks, opt.Builder = nil, NativeBuilder
	}
	st, err := RunWorker(ctx, nc, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(out, "exit evaluated=%d skipped=%d\n", st.Evaluated, st.Skipped)
	return 0
}

type syncWriter struct {
	mu sync.Mutex
	w  *os.File
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// testBuilder builds the setup's native evaluator and wraps it with the
// test behaviours: a delay per evaluation, a crashing and a hanging genome.
func testBuilder(delay time.Duration) Builder {
	return func(ctx context.Context, s *Setup, opt BuildOptions) (ScoringEvaluator, error) {
		ev, err := s.Build(ctx, opt)
		if err != nil {
			return nil, err
		}
		return &behaving{ScoringEvaluator: ev, delay: delay}, nil
	}
}

type behaving struct {
	ScoringEvaluator
	delay time.Duration
}

func (b *behaving) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	for _, c := range batch {
		if len(c.Genome.Values) > 0 {
			switch c.Genome.Values[0] {
			case poisonValue:
				os.Exit(7)
			case hangValue:
				select {} // a hung kernel: ignores the context
			}
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.delay):
	}
	return b.ScoringEvaluator.Evaluate(ctx, batch)
}

// Synthetic pool: a base and two experts of a tiny MLP on 1x3x3 inputs
// (testkit.WritePool).
var synthHeads = testkit.TinyHeads

// writePool writes the pool's checkpoints into dir and returns the setup
// (linear merge, per-model weights searched in [-2, 2]).
func writePool(t testing.TB, dir string, examples int) *Setup {
	t.Helper()
	p := testkit.WritePool(t, dir, testkit.TinyMLP, nil)
	s := &Setup{V: SetupVersion, Operator: "linear", Seed: 3, Examples: examples}
	ref, err := NewModelRef("base", p.Base)
	if err != nil {
		t.Fatal(err)
	}
	s.Base = &ref
	for i, h := range synthHeads {
		ref, err := NewModelRef(h.Name, p.Experts[i])
		if err != nil {
			t.Fatal(err)
		}
		s.Experts = append(s.Experts, ref)
		s.Objectives = append(s.Objectives, fitness.Objective{Name: h.Name + "/accuracy", Task: h.Name, Metric: tasks.MetricAccuracy, Direction: fitness.Maximize})
	}
	names := p.Names
	lo, hi := -2.0, 2.0
	s.Search = searchspace.Spec{
		Operator: "linear", Models: names,
		Targets: []searchspace.Target{{Param: "weight", PerModel: true, Lower: &lo, Upper: &hi}},
		Fixed:   operators.Settings{Default: operators.Values{Global: map[string]operators.Value{"normalize": operators.B(false)}}},
	}
	return s
}

// syntheticTasks is the TaskLoader of the synthetic pool: random inputs
// and labels from fixed seeds, Examples per task.
func syntheticTasks(_ context.Context, s *Setup, _ *benchmarks.Benchmark) ([]tasks.Task, error) {
	n := s.Examples
	var ts []tasks.Task
	for i, h := range synthHeads {
		d := testkit.RandomImages(h.Name+"/validation", n, h.Classes, [3]int{1, 3, 3}, uint64(30+i))
		ts = append(ts, tasks.New(h.Name, h.Name, data.Validation, d))
	}
	return ts, nil
}

// localNative builds the coordinator's own evaluator of a setup.
func localNative(t testing.TB, s *Setup) *evaluate.Native {
	t.Helper()
	ev, err := s.Build(context.Background(), BuildOptions{Kinds: testKinds, Tasks: syntheticTasks})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// startServer runs an embedded server on loopback with its store in dir.
func startServer(t testing.TB, addr, dir string) *Server {
	t.Helper()
	srv, err := StartServer(ServerOptions{Addr: addr, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func connect(t testing.TB, url string) *natsgo.Conn {
	t.Helper()
	nc, err := Connect(url, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testTopology has a short ack wait so redeliveries come quickly.
func testTopology(attempts int) Topology {
	t := DefaultTopology()
	t.AckWait = time.Second
	t.Attempts = attempts
	return t
}

// proc is a worker process: the test binary re-executed.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error // valid after done
	mu    sync.Mutex
	all   []string
}

func startWorker(t testing.TB, url string, delay, grace time.Duration, conc int, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envWorker+"=1", envURL+"="+url, envDelay+"="+delay.String(), envGrace+"="+grace.String(),
		envConc+"="+strconv.Itoa(conc))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.all = append(p.all, sc.Text())
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody reads (benchmarks): keep only p.all
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLine waits for a line with the prefix and returns it.
func (p *proc) waitLine(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-p.done:
			// drain what is left
			for {
				select {
				case l := <-p.lines:
					if strings.HasPrefix(l, prefix) {
						return l
					}
				default:
					t.Fatalf("worker exited (%v) before printing %q; it printed %q", p.err, prefix, p.output())
				}
			}
		case <-deadline:
			t.Fatalf("no %q line from the worker within %v; it printed %q", prefix, timeout, p.output())
		}
	}
}

func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.all...)
}

func (p *proc) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("worker still running after %v; it printed %q", timeout, p.output())
	}
}

func candidatesOf(points ...[]float64) []*population.Candidate {
	out := make([]*population.Candidate, len(points))
	for i, x := range points {
		out[i] = &population.Candidate{Genome: population.VectorGenome(x), Status: population.StatusPending}
	}
	return out
}

// testKinds are the kinds the tests' workers may score with: package
// evaluate's, as internal/registry lists them (which this package cannot
// import).
var testKinds = []InnerKind{
	{Name: evaluate.NativeKind, Benchmark: "the native evaluator scores on a built-in benchmark's task data",
		NewSettings: evaluate.NewNativeSettings, New: evaluate.BuildNative},
	{Name: evaluate.CommandKind, NewSettings: evaluate.NewCommandSettings, New: evaluate.BuildCommand},
}

// withKinds gives s the test kinds.
func withKinds(s *Settings) *Settings {
	s.kinds = testKinds
	return s
}
