package main

import (
	"context"
	"io"
	"os"

	"github.com/evomerge/evomerge/internal/run"
)

const resumeSynopsis = `resume RUN_DIR [--workers N] [--serve-nats HOST:PORT]

Continues the run in RUN_DIR from its config.toml: the search is replayed
with the same seed, evaluations found in journal.jsonl are answered from it
and the rest are evaluated, so a run interrupted at any moment (Ctrl-C, kill
-9, power loss) ends with the same front as one never interrupted. A torn
last journal line is dropped and evaluated again; a journal line that fails
its checksum (edited or damaged) stops the resume, naming the line.

One run or resume writes a run directory at a time: while one holds
RUN_DIR/run.lock, another is refused at once with the holder's pid and
command. The lock ends with its process, even a killed one.`

func cmdResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("resume", resumeSynopsis, stderr)
	workers := fs.Int("workers", 0, "candidates evaluated at once (overrides search.concurrency; results do not depend on it)")
	serveNATS := fs.String("serve-nats", "", "HOST:PORT of a NATS server to embed for evaluator kind \"nats\" (a non-loopback address needs $EVOMERGE_NATS_TOKEN)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("resume needs exactly one run directory, got %d arguments", len(pos))
	}
	if *workers < 0 {
		return usagef("--workers %d: give a positive count or 0", *workers)
	}
	_, err = run.Resume(ctx, pos[0], run.Options{Out: stdout, Terminal: isTerminal(stdout), Workers: *workers, RenderReport: renderRunReport, ServeNATS: *serveNATS, NATSToken: os.Getenv(natsTokenEnv)})
	return err
}
