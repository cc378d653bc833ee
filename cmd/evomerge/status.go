package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/evomerge/evomerge/internal/rundir"
)

const statusSynopsis = `status RUN_DIR [--json] [--verify]

Shows where a run stands: state, evaluations (of the budget), failures,
the best score of each objective with its candidate, the size of the
current Pareto front, evaluations per second and, once the run has written
its final front, the chosen front member (picked on validation scores, as
the run's summary names it and export takes it by default). It reads the journal
without changing it (and takes no lock), so it works while the run is
going.

With --verify it checks the whole run directory instead and lists what it
checked: every journal line's checksum and the scores its per-example
results determine, state.json and front.json (that they read, and that
every front member is journaled with the same scores). It exits 1 with the
list of problems when there are any.`

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", statusSynopsis, stderr)
	asJSON := fs.Bool("json", false, "print the status (or the verification) as JSON")
	verify := fs.Bool("verify", false, "check the run directory's files (checksums, scores, state.json, front.json) and list the problems")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("status needs exactly one run directory, got %d arguments", len(pos))
	}
	if *verify {
		return verifyRun(pos[0], *asJSON, stdout)
	}
	st, err := rundir.Status(pos[0])
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

// verifyRun prints what rundir.Verify checked and found; problems make it
// fail (exit 1).
func verifyRun(dir string, asJSON bool, stdout io.Writer) error {
	v, err := rundir.Verify(dir)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		printVerify(stdout, v)
	}
	if !v.OK() {
		return fmt.Errorf("%s: %d problem(s) found (listed above)", dir, len(v.Problems))
	}
	return nil
}

func printVerify(w io.Writer, v *rundir.VerifyReport) {
	fmt.Fprintf(w, "verified %s:\n", v.Dir)
	for _, c := range v.Checked {
		fmt.Fprintf(w, "  %s\n", c)
	}
	if v.OK() {
		fmt.Fprintln(w, "no problems found")
		return
	}
	fmt.Fprintf(w, "%d problem(s):\n", len(v.Problems))
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

func printStatus(w io.Writer, st *rundir.StatusReport) {
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
	if st.State == rundir.StateUnknown {
		fmt.Fprintf(w, "evaluations: %s journaled, failed %d (generations and sessions unknown)\n", progress, st.Failed)
	} else {
		fmt.Fprintf(w, "evaluations: %s (%d evaluated, %d repeats answered from the journal), failed %d, generations %d, sessions %d\n", progress, st.Journaled, max(st.Evaluations-st.Journaled, 0), st.Failed, st.Generations, st.Sessions)
	}
	if len(st.Failures) > 0 {
		fmt.Fprintln(w, "failures (first of each reason):")
		for _, f := range st.Failures {
			fmt.Fprintf(w, "  %s ×%d: %s\n", rundir.ShortID(f.ID), f.Count, f.Error)
		}
	}
	fmt.Fprintf(w, "speed: %.2f evaluations/s over %s of evaluation time\n", st.PerSecond, (time.Duration(st.EvaluationSeconds * float64(time.Second))).Round(time.Second))
	fmt.Fprintf(w, "front: %s\n", plural(st.FrontSize, "non-dominated candidate"))
	fmt.Fprintln(w, "best so far:")
	for _, b := range st.Best {
		if b.Value == nil {
			fmt.Fprintf(w, "  %-28s -\n", b.Objective)
			continue
		}
		fmt.Fprintf(w, "  %-28s %.4f  (%s)\n", b.Objective, *b.Value, b.ID[:12])
	}
	if st.Chosen != "" {
		fmt.Fprintf(w, "chosen front member: %s (%s); export it: evomerge export %s\n", st.Chosen[:min(12, len(st.Chosen))], st.ChosenBy, st.Dir)
	}
	if !st.Updated.IsZero() {
		fmt.Fprintf(w, "updated: %s\n", st.Updated.Format(time.RFC3339))
	}
	if st.State == rundir.StateUnknown {
		fmt.Fprintf(w, "note: %s is missing, so the state, generations and sessions are unknown; the figures above come from the journal (%d records); `evomerge resume %s` writes it again\n", filepath.Join(st.Dir, rundir.StateFile), st.Journaled, st.Dir)
	}
	if st.TornTail {
		fmt.Fprintln(w, "note: the journal ends in an incomplete record (a write in progress or a crash); resume drops it")
	}
}
