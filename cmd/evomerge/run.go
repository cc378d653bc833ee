package main

import (
	"context"
	"io"
	"os"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/run"
)

const runSynopsis = `run [CONFIG.toml] [--out DIR] [--force] [--workers N] [--serve-nats HOST:PORT]

Runs the experiment CONFIG.toml (with no argument, the embedded quickstart:
NSGA-II over per-layer-group task-arithmetic weights on mnist-tasks, a few
minutes on two cores). The run directory (runs/<experiment name>, or --out)
gets config.toml (resolved), journal.jsonl (one record per evaluation),
state.json, front.json and log.jsonl (exports/ once 'evomerge export' writes
one). A built-in benchmark is prepared the first time. One run or resume
writes a run directory at a time (run.lock): a second is refused, naming the
holder's pid. Ctrl-C stops cleanly (exit 130); continue with
'evomerge resume RUN_DIR'. With evaluator kind "nats", candidates go to
'evomerge worker' processes (docs/distributed.md). See configs/examples/
for every key.`

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", runSynopsis, stderr)
	out := fs.String("out", "", "run directory (default: experiment.output, else runs/<experiment name>)")
	force := fs.Bool("force", false, "start over in a run directory that already holds a run (its files are removed)")
	workers := fs.Int("workers", 0, "candidates evaluated at once (overrides search.concurrency; results do not depend on it)")
	serveNATS := fs.String("serve-nats", "", "HOST:PORT of a NATS server to embed for evaluator kind \"nats\" (a non-loopback address needs $EVOMERGE_NATS_TOKEN)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("run takes at most one config file, got %d arguments", len(pos))
	}
	if *workers < 0 {
		return usagef("--workers %d: give a positive count or 0", *workers)
	}
	var exp *configs.Experiment
	if len(pos) == 0 {
		exp, err = configs.DecodeExperiment(configs.QuickstartFile+" (embedded)", configs.Quickstart(), registry.Catalog())
	} else {
		exp, err = configs.LoadExperiment(pos[0], registry.Catalog())
	}
	if err != nil {
		return err
	}
	if *out != "" {
		exp.Experiment.Output = *out
	}
	_, err = run.Start(ctx, exp, run.Options{Out: stdout, Terminal: isTerminal(stdout), Force: *force, Workers: *workers, RenderReport: renderRunReport, ServeNATS: *serveNATS, NATSToken: os.Getenv(natsTokenEnv)})
	return err
}

// natsTokenEnv holds the token that protects an embedded NATS server.
const natsTokenEnv = "EVOMERGE_NATS_TOKEN"

// isTerminal reports whether w is a character device (a terminal), where a
// live progress line can be rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
