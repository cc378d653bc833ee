package main

import (
	"context"
	"fmt"
	"io"
)

// claim is one reproducible paper claim: a command that runs the experiment
// over several seeds and writes its table into docs/results.md.
type claim struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func claimTable() []claim {
	return []claim{
		{"m2n2-scratch", "M2N2 from scratch on 8x8 MNIST vs the GA ablation and CMA-ES", runClaimM2N2Scratch},
		{"m2n2-specialists", "M2N2 from the digits 0-4 / 5-9 specialists vs a brute-force SLERP sweep", runClaimM2N2Specialists},
		{"map", "MAP's surrogate fronts on 2 and 3 mnist-tasks tasks vs brute force, random search and NSGA-II", runClaimMAP},
		{"adamerging", "AdaMerging's table on mnist-tasks (averaging, task arithmetic, TIES, AdaMerging(++), Fisher, RegMean, evolution)", runClaimAdaMerging},
		{"fw-scaling", "FW-Merging with 0, 4, 8, 16 irrelevant models added to the pool", runClaimFWScaling},
	}
}

const claimsSynopsis = `claims NAME [flags]

Each claim reproduces a published result on the built-in benchmarks, over
several seeds, and writes its table (with the command) into docs/results.md
when --out is given. Run 'evomerge claims NAME --help' for a claim's flags.`

func cmdClaims(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintf(stderr, "Usage: evomerge %s\n\nClaims:\n", claimsSynopsis)
		for _, c := range claimTable() {
			fmt.Fprintf(stderr, "  %-17s %s\n", c.name, c.summary)
		}
		if len(args) == 0 {
			return usagef("claims needs a claim name")
		}
		return nil
	}
	for _, c := range claimTable() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	names := make([]string, 0, len(claimTable()))
	for _, c := range claimTable() {
		names = append(names, c.name)
	}
	return usagef("unknown claim %q: choose one of %q", args[0], names)
}
