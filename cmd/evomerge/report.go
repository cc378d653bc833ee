package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/evomerge/evomerge/internal/rundir"
)

const reportSynopsis = `report RUN_DIR [--out FILE]

Regenerates the run's HTML report (RUN_DIR/report.html) from its config,
journal, state and front files. It works while the run is going: an
incomplete last journal line (a write in progress) is skipped and the front
is computed from the journal until the run writes its final front. The page
is one self-contained file that opens from disk with no network.`

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportSynopsis, stderr)
	out := fs.String("out", "", "write the report to this file instead of RUN_DIR/report.html")
	pos, err := parseArgsAnyOrder(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("report needs exactly one run directory, got %d arguments", len(pos))
	}
	start := time.Now()
	res, err := rundir.WriteReport(ctx, pos[0], *out)
	if err != nil {
		return err
	}
	state := "in progress"
	if res.Finished {
		state = "finished"
	}
	fmt.Fprintf(stdout, "wrote %s: %d evaluations (run %s), %d bytes in %v\n", res.Path, res.Evaluations, state, res.Bytes, time.Since(start).Round(time.Millisecond))
	return nil
}

// renderRunReport writes RUN_DIR/report.html; it is the run package's
// report hook (run.Options.RenderReport).
func renderRunReport(ctx context.Context, dir string) error { return rundir.RenderReport(ctx, dir) }

// parseArgsAnyOrder parses flags placed before, between or after the
// positional arguments and returns the positional ones.
func parseArgsAnyOrder(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
