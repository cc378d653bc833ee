package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	evalnats "github.com/evomerge/evomerge/evaluate/nats"
	"github.com/evomerge/evomerge/internal/registry"
)

const workerSynopsis = `worker --server nats://HOST:PORT [--concurrency N] [--source-cache DIR] [--cache-dir DIR] [--name NAME] [--grace DURATION]

Evaluates candidates for runs whose evaluator is "nats" (a run started with
--serve-nats, or one pointed at an external NATS server). The worker takes
requests from the shared JetStream queue, builds each run's merge in memory
from its source checkpoints (found at the coordinator's path, in the
content-addressed --source-cache as sha256/<digest>, or in the prepared
benchmark), scores it with the run's evaluator kind (native; or command,
whose command then runs on the worker machine and must be installed there)
and stores the result in the results bucket keyed by candidate id, then
acknowledges. While it works
it heartbeats, so evaluations may take longer than the ack wait; a worker
killed mid-evaluation has its request redelivered to another worker.

A token-protected server takes nats://TOKEN@HOST:PORT. Several URLs may be
given, separated by commas (a cluster). Until a server answers, the worker
waits for one; a server that refuses its token (wrong or missing) ends it
at once with exit code 1 and the reason.

The first SIGTERM or Ctrl-C drains: no new request is taken, the
evaluations in progress finish and are stored, and the worker exits 0. A
second signal exits at once (the unfinished requests are redelivered after
the ack wait). An evaluation that runs past its time limit is cancelled and
recorded failed; one that does not stop within --grace after that ends the
worker with exit code 3 (the watchdog), for its supervisor to restart it.

Each event prints one line: ready, build, start ID delivery=N,
done ID status=S, skip ID (result already stored), retry ID: reason,
exhausted ID (recorded failed after its attempts), watchdog ID.`

func cmdWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("worker", workerSynopsis, stderr)
	server := fs.String("server", os.Getenv("EVOMERGE_NATS_URL"), "NATS server URL, nats://HOST:PORT (default $EVOMERGE_NATS_URL)")
	concurrency := fs.Int("concurrency", 1, "evaluations at once (each holds one copy of the merged model)")
	defaultCache, _ := evalnats.DefaultSourceCache()
	sourceCache := fs.String("source-cache", defaultCache, "content-addressed source cache: checkpoints stored as DIR/sha256/<sha256 of the file>")
	cacheDir := fs.String("cache-dir", "", "benchmark cache root (default: the coordinator's if it exists here, else $EVOMERGE_CACHE/bench or the user cache dir)")
	name := fs.String("name", "", "worker name in results and logs (default host/pid)")
	grace := fs.Duration("grace", 30*time.Second, "how long an evaluation may run past its time limit before the watchdog ends the worker")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("worker takes no positional arguments, got %q (use --server URL)", pos)
	case *server == "":
		return usagef("worker needs --server nats://HOST:PORT (the address a run's --serve-nats gives, or a NATS cluster)")
	case *concurrency < 1:
		return usagef("--concurrency %d: give at least 1", *concurrency)
	case *grace <= 0:
		return usagef("--grace %v: give a positive duration", *grace)
	}
	nc, err := evalnats.ConnectWaiting(*server, "evomerge-worker")
	if err != nil {
		return err
	}
	defer nc.Close()

	// A second signal ends the worker at once; the first one (ctx) drains.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	drained := make(chan struct{})
	defer close(drained)
	go func() {
		seen := 0
		for {
			select {
			case <-drained:
				return
			case <-signals:
				if seen++; seen == 1 {
					fmt.Fprintln(stderr, "evomerge worker: draining: finishing the evaluations in progress (signal again to stop now)")
					continue
				}
				fmt.Fprintln(stderr, "evomerge worker: stopped; unfinished requests are redelivered after the ack wait")
				os.Exit(exitInterrupted)
			}
		}
	}()

	st, err := evalnats.RunWorker(ctx, nc, evalnats.WorkerOptions{
		Concurrency:   *concurrency,
		Name:          *name,
		Build:         evalnats.BuildOptions{SourceCache: *sourceCache, BenchmarkCache: *cacheDir, Log: stderr, Kinds: registry.WorkerKinds()},
		WatchdogGrace: *grace,
		Log:           &timestamped{w: stdout},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "worker stopped: %d evaluated, %d already stored, %d retried, %d failed after their attempts\n", st.Evaluated, st.Skipped, st.Retried, st.Exhausted)
	return nil
}

// timestamped prefixes each write (one event line) with the UTC time.
type timestamped struct{ w io.Writer }

func (t *timestamped) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(t.w, "%s %s", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), p); err != nil {
		return 0, err
	}
	return len(p), nil
}
