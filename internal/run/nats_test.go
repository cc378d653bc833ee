package run

import (
	"context"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	natsev "github.com/evomerge/evomerge/evaluate/nats"

	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
)

// TestNATSWorkersGiveTheLocalFront runs the smoke experiment on a worker
// behind a NATS server: the front must be the one of the in-process run
// (same candidate ids, same scores), since workers build the same evaluator.
func TestNATSWorkersGiveTheLocalFront(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and a worker")
	}
	ref := referenceRun(t)
	srv, err := natsev.StartServer(natsev.ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := natsev.Connect(srv.ClientURL(), "test-worker")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := natsev.RunWorker(ctx, nc, natsev.WorkerOptions{
			Concurrency: 1, Name: "test-worker", Log: io.Discard, WatchdogGrace: time.Minute,
			Build: natsev.BuildOptions{BenchmarkCache: smokeCache, Kinds: registry.WorkerKinds()},
			Exit:  func(code int) { t.Errorf("worker watchdog exit %d", code) },
		})
		done <- err
	}()
	defer func() {
		cancel()
		<-done
	}()

	dir := filepath.Join(t.TempDir(), "run")
	exp := decodeSmoke(t, dir, func(s string) string {
		s = strings.Replace(s, "concurrency = 1", "concurrency = 4", 1)
		return strings.Replace(s, "[evaluator]\n", "[evaluator]\nkind = \"nats\"\nserver = \""+srv.ClientURL()+"\"\ntimeout = \"2m\"\n", 1)
	})
	res, err := Start(context.Background(), exp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != rundir.StateFinished || res.Result.Evaluations != 44 {
		t.Fatalf("status %s after %d evaluations", res.Status, res.Result.Evaluations)
	}
	if got, want := frontKey(res.Front), frontKey(ref.Front); !reflect.DeepEqual(got, want) {
		t.Errorf("front through NATS\n%v\nwant the local front\n%v", got, want)
	}
}
