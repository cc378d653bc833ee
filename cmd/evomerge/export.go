package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evomerge/evomerge/internal/run"
	"github.com/evomerge/evomerge/internal/rundir"
)

const exportSynopsis = `export RUN_DIR [--candidate ID] [--out DIR]

Writes the merged checkpoint of a candidate of the run (model.safetensors,
float32, with the recipe in its metadata) and recipe.toml into DIR (default
RUN_DIR/exports/<id>). 'evomerge merge DIR/recipe.toml --out OTHER' writes
the same bytes. ID may be any unique prefix (at least 4 characters) of a
candidate id from 'evomerge status' or front.json. Without --candidate it
exports the run's chosen front member: the one the run's summary names,
picked on fitness-split scores only (the highest mean normalized accuracy,
or what the config's report.choose says), never on test scores.`

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", exportSynopsis, stderr)
	id := fs.String("candidate", "", "candidate id or unique prefix (default: the run's chosen front member)")
	out := fs.String("out", "", "output directory; must not hold a checkpoint yet (default RUN_DIR/exports/<id>)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("export needs exactly one run directory, got %d arguments", len(pos))
	}
	if *id == "" {
		m, c, ok, err := rundir.ChosenMember(pos[0])
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s has no front.json with a chosen member yet (the run is still going or stopped early): pass --candidate ID (ids: evomerge status %s)", pos[0], pos[0])
		}
		fmt.Fprintf(stdout, "exporting the chosen front member %s (%s)\n", m.ID[:min(12, len(m.ID))], c.By)
		*id = m.ID
	}
	res, err := run.Export(ctx, pos[0], *id, *out)
	if err != nil {
		return err
	}
	printExport(stdout, res)
	return nil
}

// printExport says what Export wrote and how the checkpoint is reproduced:
// with `evomerge merge` from the recipe, or, for a candidate without one
// (M2N2: built by its own crossover from its ancestors), by exporting it
// again from the run, which rebuilds it from its lineage.
func printExport(w io.Writer, res *run.ExportResult) {
	fmt.Fprintf(w, "exported candidate %s to %s\n", res.ID, res.Dir)
	for _, f := range res.Files {
		fmt.Fprintf(w, "  %s\n", f)
	}
	if res.RecipePath != "" {
		fmt.Fprintf(w, "  %s (reproduce with: evomerge merge %s --out DIR)\n", res.RecipePath, res.RecipePath)
		return
	}
	fmt.Fprintf(w, "  no merge recipe: the candidate was rebuilt from its lineage (its ancestors' recipes in the run's journal),\n"+
		"  which no `evomerge merge` recipe reproduces; its lineage recipe is in the checkpoint's metadata (evomerge.genome),\n"+
		"  and exporting it again from the run rebuilds the same weights\n")
}
