package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evomerge/evomerge/internal/run"
)

const exportSynopsis = `export RUN_DIR --candidate ID [--out DIR]

Writes the merged checkpoint of a candidate of the run (model.safetensors,
float32, with the recipe in its metadata) and recipe.toml into DIR (default
RUN_DIR/exports/<id>). 'evomerge merge DIR/recipe.toml --out OTHER' writes
the same bytes. ID may be any unique prefix (at least 4 characters) of a
candidate id from 'evomerge status' or front.json.`

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", exportSynopsis, stderr)
	id := fs.String("candidate", "", "candidate id or unique prefix (required)")
	out := fs.String("out", "", "output directory; must not hold a checkpoint yet (default RUN_DIR/exports/<id>)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("export needs exactly one run directory, got %d arguments", len(pos))
	}
	if *id == "" {
		return usagef("export needs --candidate ID")
	}
	res, err := run.Export(ctx, pos[0], *id, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported candidate %s to %s\n", res.ID, res.Dir)
	for _, f := range res.Files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	fmt.Fprintf(stdout, "  %s (reproduce with: evomerge merge %s --out DIR)\n", res.RecipePath, res.RecipePath)
	return nil
}
