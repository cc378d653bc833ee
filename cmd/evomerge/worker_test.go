package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	evalnats "github.com/evomerge/evomerge/evaluate/nats"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

func TestWorkerUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"worker"}, "worker needs --server"},
		{[]string{"worker", "--server", "nats://127.0.0.1:1", "--concurrency", "0"}, "--concurrency 0"},
		{[]string{"worker", "--server", "nats://127.0.0.1:1", "--grace", "0s"}, "--grace 0s"},
		{[]string{"worker", "--server", "nats://127.0.0.1:1", "extra"}, "no positional arguments"},
		{[]string{"worker", "--bogus"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		code := execute(context.Background(), tc.args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(), exitUsage, tc.want)
		}
	}
	// No server yet: the worker waits for one until stopped.
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if code := execute(ctx, []string{"worker", "--server", "nats://127.0.0.1:1"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "waiting for the server nats://127.0.0.1:1") {
		t.Errorf("no server: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

type fixedIdentity struct{ spec, version string }

func (f fixedIdentity) EvalSpec() string { return f.spec }
func (f fixedIdentity) Version() string  { return f.version }

// `evomerge worker` joins a server, takes a request whose source
// checkpoint it cannot find, hands it back with the reason until its
// attempts are spent, records it failed, and drains to exit 0 when its
// context ends.
func TestWorkerCommandJoinsAndDrains(t *testing.T) {
	srv, err := evalnats.StartServer(evalnats.ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := evalnats.Connect(srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	digest := strings.Repeat("0", 64)
	setup := &evalnats.Setup{
		V: evalnats.SetupVersion, Operator: "linear",
		Experts:    []evalnats.ModelRef{{Name: "gone", Path: "/nonexistent/gone.safetensors", Digest: digest}},
		Objectives: []fitness.Objective{{Name: "a", Task: "a", Metric: "accuracy", Direction: fitness.Maximize}},
	}
	topo := evalnats.DefaultTopology()
	topo.AckWait, topo.Attempts = time.Second, 2
	ev, err := evalnats.NewEvaluator(context.Background(), nc, setup, fixedIdentity{"spec", "v1"}, evalnats.Options{Topology: topo, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	var wg sync.WaitGroup
	code := -1
	wg.Add(1)
	go func() {
		defer wg.Done()
		code = execute(ctx, []string{"worker", "--server", srv.ClientURL(), "--source-cache", t.TempDir(), "--name", "cli"}, &stdout, &stderr)
	}()
	batch := []*population.Candidate{{Genome: population.VectorGenome([]float64{1}), Status: population.StatusPending}}
	evalCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := ev.Evaluate(evalCtx, batch); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	c := batch[0]
	if c.Status != population.StatusFailed || !strings.Contains(c.Error, "no result after 2 attempts") || !strings.Contains(c.Error, `model "gone"`) {
		t.Errorf("candidate: %s %q", c.Status, c.Error)
	}
	out := stdout.String()
	if code != exitOK || !strings.Contains(out, "ready cli") || !strings.Contains(out, "worker stopped: 0 evaluated, 0 already stored, 2 retried, 1 failed after their attempts") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
}

// `evomerge worker` with a token the server refuses, or none, exits 1 at
// once and says what to pass, instead of waiting for the server forever.
func TestWorkerCommandRefusedToken(t *testing.T) {
	srv, err := evalnats.StartServer(evalnats.ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	hostport := strings.TrimPrefix(srv.ClientURL(), "nats://")
	for _, tc := range []struct{ name, url, want string }{
		{"missing token", "nats://" + hostport, "the URL carries no token"},
		{"wrong token", "nats://wrong@" + hostport, "the token in the URL is not the server's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := execute(ctx, []string{"worker", "--server", tc.url, "--source-cache", t.TempDir()}, &stdout, &stderr)
			if took := time.Since(start); code != exitFailure || took > 5*time.Second {
				t.Fatalf("exit %d after %v, want %d at once; stdout %q stderr %q", code, took, exitFailure, stdout.String(), stderr.String())
			}
			for _, w := range []string{"refused the worker's credentials (authorization violation)", tc.want, "--server nats://TOKEN@" + hostport} {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
		})
	}
}
