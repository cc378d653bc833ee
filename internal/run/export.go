package run

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/population"
)

// ExportResult says what Export wrote.
type ExportResult struct {
	ID  string
	Dir string
	// RecipePath is the merge recipe that reproduces the checkpoint; empty
	// for M2N2 candidates (their lineage recipe is in the checkpoint's
	// metadata instead).
	RecipePath string
	Files      []string
}

// RecipeFileName is the recipe Export writes beside the checkpoint.
const RecipeFileName = "recipe.toml"

// Export writes the merged checkpoint of the journaled candidate whose id
// starts with idPrefix (unique) into out (default RUN_DIR/exports/<id>),
// with a recipe TOML that `evomerge merge` reproduces bit for bit.
func Export(ctx context.Context, dir, idPrefix, out string) (*ExportResult, error) {
	if len(idPrefix) < 4 {
		return nil, fmt.Errorf("candidate id %q: give at least 4 characters of an id (from `evomerge status` or front.json)", idPrefix)
	}
	j, err := rundir.ReadJournal(filepath.Join(dir, rundir.JournalFile))
	if err != nil {
		return nil, err
	}
	var match *rundir.Record
	seen := map[string]bool{}
	for k := range j.Records {
		rec := &j.Records[k]
		if !strings.HasPrefix(rec.ID, strings.ToLower(idPrefix)) || seen[rec.ID] {
			continue
		}
		seen[rec.ID] = true
		if match != nil {
			return nil, fmt.Errorf("candidate id prefix %q matches several candidates (%s, %s, ...): give more characters", idPrefix, rundir.ShortID(match.ID), rundir.ShortID(rec.ID))
		}
		match = rec
	}
	if match == nil {
		return nil, fmt.Errorf("no candidate of %s has an id starting with %q", filepath.Join(dir, rundir.JournalFile), idPrefix)
	}
	if match.Status != population.StatusOK {
		return nil, fmt.Errorf("candidate %s failed its evaluation (%s): it has no scores worth exporting", rundir.ShortID(match.ID), match.Error)
	}
	exp, err := configs.LoadResolved(filepath.Join(dir, rundir.ConfigFile), registry.Catalog())
	if err != nil {
		return nil, err
	}
	// Resuming: M2N2's lineage evaluator keeps recipes, so any journaled
	// candidate can be rebuilt from its ancestors.
	comp, err := compose(ctx, exp, composeOptions{Dir: dir, Resuming: true})
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = filepath.Join(dir, rundir.ExportsDir, rundir.ShortID(match.ID))
	}
	if comp.lineage != nil {
		return exportLineage(ctx, comp, j.Records, match, out)
	}
	merger := comp.eval.Merger()
	recipe, err := merger.Recipe(match.Genome)
	if err != nil {
		return nil, err
	}
	rep, err := merger.Export(ctx, match.Genome, out, evaluateExportOptions())
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", rundir.ShortID(match.ID), err)
	}
	cfg := configs.MergeRecipe{
		Method: recipe.Method, Seed: recipe.Seed, Base: recipe.Base, Params: recipe.Params,
		Groups: recipe.Groups, Tensors: recipe.Tensors, Grouping: recipe.Grouping, TaskTensors: recipe.TaskTensors,
	}
	for _, m := range recipe.Models {
		cfg.Models = append(cfg.Models, configs.MergeModel{Name: m.Name, Path: m.Path, Params: m.Params})
	}
	comment := fmt.Sprintf("Merge recipe of candidate %s of run %s (experiment %q).\nFitness scores (%s): %s\n`evomerge merge %s --out DIR` writes the same checkpoint bit for bit.",
		match.ID, dir, exp.Experiment.Name, objectiveNames(comp.objectives), fmtScores(match.Scores), RecipeFileName)
	text, err := configs.EncodeMergeRecipe(&cfg, comment)
	if err != nil {
		return nil, err
	}
	recipePath := filepath.Join(out, RecipeFileName)
	if err := rundir.WriteFile(recipePath, text); err != nil {
		return nil, err
	}
	return &ExportResult{ID: match.ID, Dir: out, RecipePath: recipePath, Files: rep.Files}, nil
}

func fmtScores(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		if math.IsNaN(x) {
			parts[i] = "NaN"
			continue
		}
		parts[i] = fmt.Sprintf("%.6g", x)
	}
	return strings.Join(parts, ", ")
}

// exportLineage writes an M2N2 candidate's weights, rebuilt from its
// recipe and its ancestors' in the journal, as one safetensors file. M2N2
// children are not operator merges of a pool, so there is no merge recipe;
// the lineage recipe is in the checkpoint's metadata.
func exportLineage(ctx context.Context, comp *components, records []rundir.Record, match *rundir.Record, out string) (*ExportResult, error) {
	for _, r := range records {
		if r.Status != population.StatusOK {
			continue
		}
		if err := comp.lineage.Remember(r.ID, r.Genome); err != nil {
			return nil, err
		}
	}
	m, err := comp.lineage.Model(ctx, match.ID)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", rundir.ShortID(match.ID), err)
	}
	genome, err := json.Marshal(match.Genome)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(out, "model.safetensors")
	meta := map[string]string{"evomerge.candidate": match.ID, "evomerge.genome": string(genome), "evomerge.scores": fmtScores(match.Scores)}
	if err := model.Save(path, m, meta); err != nil {
		return nil, err
	}
	return &ExportResult{ID: match.ID, Dir: out, Files: []string{path}}, nil
}
