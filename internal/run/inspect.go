package run

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// BestScore is the best value of one objective so far.
type BestScore struct {
	Objective string   `json:"objective"`
	Value     *float64 `json:"value"`
	ID        string   `json:"id,omitempty"`
}

// StatusReport is where a run stands, read from its directory. It works
// while the run is going: the journal is read without being modified.
type StatusReport struct {
	Dir        string `json:"dir"`
	Experiment string `json:"experiment"`
	Algorithm  string `json:"algorithm"`
	// State is the state file's status (running, finished, interrupted,
	// failed); a run killed without a chance to say so shows "running".
	State      string `json:"state"`
	StopReason string `json:"stop_reason,omitempty"`
	Error      string `json:"error,omitempty"`
	// Evaluations counts the search's evaluations (candidates answered from
	// the journal included); Journaled the evaluations actually made, one
	// journal record each; Failed the failed ones.
	Evaluations    int         `json:"evaluations"`
	Journaled      int         `json:"journaled"`
	Failed         int         `json:"failed"`
	MaxEvaluations int         `json:"max_evaluations,omitempty"`
	Generations    int         `json:"generations"`
	Best           []BestScore `json:"best"`
	// FrontSize is the number of non-dominated successful evaluations.
	FrontSize int `json:"front_size"`
	// EvaluationSeconds is the time spent evaluating; PerSecond the
	// evaluations per second of it.
	EvaluationSeconds float64   `json:"evaluation_seconds"`
	PerSecond         float64   `json:"evaluations_per_second"`
	Sessions          int       `json:"sessions"`
	Updated           time.Time `json:"updated"`
	// TornTail reports an incomplete last journal line (a write in
	// progress, or a crash); resume drops it.
	TornTail bool `json:"torn_tail,omitempty"`
	// Chosen is the id of the run's chosen front member and ChosenBy what
	// it was chosen on (fitness-split scores; see ChooseMember), once the
	// run has written front.json.
	Chosen   string `json:"chosen,omitempty"`
	ChosenBy string `json:"chosen_by,omitempty"`
}

// Status reads a run directory's state and journal.
func Status(dir string) (*StatusReport, error) {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		return nil, fmt.Errorf("%s is not a run directory (no %s)", dir, ConfigFile)
	}
	st, ok, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	j, err := ReadJournal(filepath.Join(dir, JournalFile))
	if err != nil {
		return nil, err
	}
	if !ok {
		if len(j.Records) == 0 {
			return nil, fmt.Errorf("%s: the run has not started evaluating yet (no %s)", dir, StateFile)
		}
		// state.json is gone but evaluations were made: report what the
		// journal says, in state StateUnknown.
		st = stateFromJournal(dir, j)
	}
	r := &StatusReport{
		Dir: dir, Experiment: st.Experiment, Algorithm: st.Algorithm, State: st.Status,
		StopReason: st.StopReason, Error: st.Error, MaxEvaluations: st.MaxEvaluations,
		Generations: st.Generations, Sessions: st.Sessions, Updated: st.Updated, TornTail: j.Torn,
		Evaluations: max(st.Evaluations, len(j.Records)), Journaled: len(j.Records),
	}
	dirs := make([]fitness.Direction, len(st.Objectives))
	best := make([]int, len(st.Objectives))
	for i, o := range st.Objectives {
		dirs[i] = o.Direction
		best[i] = -1
	}
	clock := newEvalClock()
	cands := make([]*population.Candidate, 0, len(j.Records))
	for k := range j.Records {
		rec := &j.Records[k]
		clock.add(rec)
		if rec.Status != population.StatusOK {
			r.Failed++
			continue
		}
		if len(dirs) == 0 {
			continue // objectives unknown (no state.json; see stateFromJournal)
		}
		if len(rec.Scores) != len(dirs) {
			return nil, fmt.Errorf("%s: record %s has %d scores for %d objectives", filepath.Join(dir, JournalFile), short(rec.ID), len(rec.Scores), len(dirs))
		}
		cands = append(cands, rec.Candidate())
		for i, v := range rec.Scores {
			if best[i] < 0 || dirs[i].Better(v, j.Records[best[i]].Scores[i]) {
				best[i] = k
			}
		}
	}
	for i, o := range st.Objectives {
		b := BestScore{Objective: o.Name}
		if best[i] >= 0 {
			v := j.Records[best[i]].Scores[i]
			b.Value, b.ID = &v, j.Records[best[i]].ID
		}
		r.Best = append(r.Best, b)
	}
	if len(dirs) > 0 {
		r.FrontSize = len(search.Front(cands, dirs))
	}
	r.EvaluationSeconds = clock.spent.Seconds()
	if r.EvaluationSeconds > 0 {
		r.PerSecond = float64(r.Journaled) / r.EvaluationSeconds
	}
	m, c, ok, err := ChosenMember(dir)
	if err != nil {
		return nil, err
	}
	if ok {
		r.Chosen, r.ChosenBy = m.ID, c.By
	}
	return r, nil
}

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
	j, err := ReadJournal(filepath.Join(dir, JournalFile))
	if err != nil {
		return nil, err
	}
	var match *Record
	seen := map[string]bool{}
	for k := range j.Records {
		rec := &j.Records[k]
		if !strings.HasPrefix(rec.ID, strings.ToLower(idPrefix)) || seen[rec.ID] {
			continue
		}
		seen[rec.ID] = true
		if match != nil {
			return nil, fmt.Errorf("candidate id prefix %q matches several candidates (%s, %s, ...): give more characters", idPrefix, short(match.ID), short(rec.ID))
		}
		match = rec
	}
	if match == nil {
		return nil, fmt.Errorf("no candidate of %s has an id starting with %q", filepath.Join(dir, JournalFile), idPrefix)
	}
	if match.Status != population.StatusOK {
		return nil, fmt.Errorf("candidate %s failed its evaluation (%s): it has no scores worth exporting", short(match.ID), match.Error)
	}
	exp, err := configs.LoadResolved(filepath.Join(dir, ConfigFile), registry.Catalog())
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
		out = filepath.Join(dir, ExportsDir, short(match.ID))
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
		return nil, fmt.Errorf("export %s: %w", short(match.ID), err)
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
	if err := writeFileAtomic(recipePath, text); err != nil {
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
func exportLineage(ctx context.Context, comp *components, records []Record, match *Record, out string) (*ExportResult, error) {
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
		return nil, fmt.Errorf("export %s: %w", short(match.ID), err)
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
