package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/evomerge/evomerge/internal/run"
)

const statusSynopsis = `status RUN_DIR [--json]

Shows where a run stands: state, evaluations (of the budget), failures,
the best score of each objective with its candidate, the size of the
current Pareto front and evaluations per second. It reads the journal
without changing it, so it works while the run is going.`

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", statusSynopsis, stderr)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("status needs exactly one run directory, got %d arguments", len(pos))
	}
	st, err := run.Status(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(stdout, st)
	return nil
}

func printStatus(w io.Writer, st *run.StatusReport) {
	fmt.Fprintf(w, "run %s (%s, %s): %s", st.Dir, st.Experiment, st.Algorithm, st.State)
	if st.StopReason != "" {
		fmt.Fprintf(w, " (%s)", st.StopReason)
	}
	fmt.Fprintln(w)
	if st.Error != "" {
		fmt.Fprintf(w, "error: %s\n", st.Error)
	}
	progress := fmt.Sprintf("%d", st.Evaluations)
	if st.MaxEvaluations > 0 {
		progress = fmt.Sprintf("%d of %d (%.0f%%)", st.Evaluations, st.MaxEvaluations, 100*float64(st.Evaluations)/float64(st.MaxEvaluations))
	}
	fmt.Fprintf(w, "evaluations: %s (%d made, the rest repeats answered from the journal), failed %d, generations %d, sessions %d\n", progress, st.Journaled, st.Failed, st.Generations, st.Sessions)
	fmt.Fprintf(w, "speed: %.2f evaluations/s over %s of evaluation time\n", st.PerSecond, (time.Duration(st.EvaluationSeconds * float64(time.Second))).Round(time.Second))
	fmt.Fprintf(w, "front: %d non-dominated candidates\n", st.FrontSize)
	fmt.Fprintln(w, "best so far:")
	for _, b := range st.Best {
		if b.Value == nil {
			fmt.Fprintf(w, "  %-28s -\n", b.Objective)
			continue
		}
		fmt.Fprintf(w, "  %-28s %.4f  (%s)\n", b.Objective, *b.Value, b.ID[:12])
	}
	if !st.Updated.IsZero() {
		fmt.Fprintf(w, "updated: %s\n", st.Updated.Format(time.RFC3339))
	}
	if st.TornTail {
		fmt.Fprintln(w, "note: the journal ends in an incomplete record (a write in progress or a crash); resume drops it")
	}
}
