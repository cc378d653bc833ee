package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evomerge/evomerge/internal/lab"
)

// claimFlags parse the flags of each claim (lab.Claims) into its options.
var claimFlags = map[string]func(args []string, stderr io.Writer) (lab.ClaimOptions, error){
	"m2n2-scratch":     parseM2N2ScratchFlags,
	"m2n2-specialists": parseM2N2SpecialistsFlags,
	"map":              parseMAPFlags,
	"adamerging":       parseAdaMergingFlags,
	"fw-scaling":       parseFWScalingFlags,
}

const claimsSynopsis = `claims NAME [flags]

Each claim reproduces a published result on the built-in benchmarks, over
several seeds, and writes its table (with the command) into docs/results.md
when --out is given. Run 'evomerge claims NAME --help' for a claim's flags.`

func cmdClaims(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	claims := lab.Claims()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintf(stderr, "Usage: evomerge %s\n\nClaims:\n", claimsSynopsis)
		for _, c := range claims {
			fmt.Fprintf(stderr, "  %-17s %s\n", c.Name, c.Summary)
		}
		if len(args) == 0 {
			return usagef("claims needs a claim name")
		}
		return nil
	}
	names := make([]string, 0, len(claims))
	for _, c := range claims {
		if c.Name != args[0] {
			names = append(names, c.Name)
			continue
		}
		parse, ok := claimFlags[c.Name]
		if !ok {
			return fmt.Errorf("claim %q has no command-line flags: add its parser to claimFlags in cmd/evomerge/claims.go", c.Name)
		}
		o, err := parse(args[1:], stderr)
		if err != nil {
			return err
		}
		o.Output, o.Log = stdout, stderr
		return lab.RunClaim(ctx, c.Name, o)
	}
	return usagef("unknown claim %q: choose one of %q", args[0], names)
}
