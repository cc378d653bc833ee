package nats

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/evomerge/evomerge/population"
)

func TestStartCoordinatorRefusesUnsafeOrMissingServer(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	local := localNative(t, s)
	tests := []struct {
		name string
		opt  CoordinatorOptions
		want string
	}{
		{"routable without token", CoordinatorOptions{Serve: "0.0.0.0:0", StoreDir: t.TempDir()}, "set a token"},
		{"no server", CoordinatorOptions{}, "no server"},
		{"bad address", CoordinatorOptions{Serve: "4222", StoreDir: t.TempDir()}, "give HOST:PORT"},
		{"nothing listening", CoordinatorOptions{Server: "nats://127.0.0.1:1"}, "connect to nats://127.0.0.1:1"},
	}
	for _, tc := range tests {
		c, err := StartCoordinator(context.Background(), s, local, tc.opt)
		if err == nil {
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if got := redact("nats://s3cret@h1:4222,nats://h2:4222"); got != "nats://REDACTED@h1:4222,nats://h2:4222" {
		t.Errorf("redact: %s", got)
	}
}

// An embedded token-protected server: a worker without the token cannot
// join, one with it evaluates the run's candidates.
func TestStartCoordinatorWithToken(t *testing.T) {
	s := writePool(t, t.TempDir(), 10)
	local := localNative(t, s)
	c, err := StartCoordinator(context.Background(), s, local, CoordinatorOptions{
		Serve: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "s3cret",
		Evaluator: Options{Topology: testTopology(3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url := c.WorkerURL()
	if !strings.HasPrefix(url, "nats://TOKEN@127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("worker URL %q", url)
	}
	if nc, err := Connect(strings.Replace(url, "TOKEN@", "", 1), "intruder"); err == nil {
		nc.Close()
		t.Fatal("a client without the token connected")
	}
	nc := connect(t, strings.Replace(url, "TOKEN", "s3cret", 1))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := RunWorker(ctx, nc, WorkerOptions{Build: BuildOptions{Kinds: testKinds, Tasks: syntheticTasks}}); err != nil {
			t.Error(err)
		}
	}()
	batch := candidatesOf([]float64{0.7, 0.2}, []float64{0.7, 0.2}, []float64{-1, 1})
	if err := c.Evaluator().Evaluate(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	ref := candidatesOf([]float64{0.7, 0.2}, []float64{0.7, 0.2}, []float64{-1, 1})
	if err := local.Evaluate(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		if batch[i].Status != population.StatusOK || !reflect.DeepEqual(batch[i].Scores, ref[i].Scores) || batch[i].ID != batch[0].ID && i == 1 {
			t.Errorf("candidate %d: %s %v, in-process %v", i, batch[i].Status, batch[i].Scores, ref[i].Scores)
		}
	}
	if st := c.Evaluator().Stats(); st.Published != 2 {
		t.Errorf("stats %+v: the repeated genome must be requested once", st)
	}
}
