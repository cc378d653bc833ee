package rundir

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/population"
)

// VerifyReport is what Verify checked in a run directory and what it found
// wrong.
type VerifyReport struct {
	Dir string `json:"dir"`
	// Checked says, one line per file, what was verified.
	Checked []string `json:"checked"`
	// Problems each name the file (and line) at fault and what to do.
	Problems []string `json:"problems"`
}

// OK reports that no problem was found.
func (v *VerifyReport) OK() bool { return len(v.Problems) == 0 }

func (v *VerifyReport) checked(format string, args ...any) {
	v.Checked = append(v.Checked, fmt.Sprintf(format, args...))
}

func (v *VerifyReport) problem(format string, args ...any) {
	v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
}

// Verify checks a whole run directory without changing it (it works while
// the run is going): config.toml reads back; every journal line is a
// record whose checksum matches and whose scores agree with its
// per-example results (Record.CheckScores), one score per objective, and a
// candidate journaled twice has the same scores; state.json reads and its
// best scores are journal records' scores; front.json reads, has the run's
// objectives, and every member is a journaled candidate with the same
// fitness scores (and per-task fitness accuracies agreeing with its
// per-example results). The error is only for a directory that is not a
// run directory; problems are in the report.
func Verify(dir string) (*VerifyReport, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(cfgPath); err != nil {
		return nil, fmt.Errorf("%s is not a run directory (no %s)", dir, ConfigFile)
	}
	v := &VerifyReport{Dir: dir, Checked: []string{}, Problems: []string{}}

	exp, err := configs.LoadResolved(cfgPath, registry.Catalog())
	if err != nil {
		v.problem("%v", err)
		exp = nil
	} else {
		v.checked("%s: reads back (experiment %s, algorithm %s)", cfgPath, exp.Experiment.Name, exp.Search.Algorithm)
	}

	statePath := filepath.Join(dir, StateFile)
	st, haveState, stateErr := ReadState(dir)
	if stateErr != nil {
		v.problem("%v", stateErr)
	}

	// The journal, every line, past the first problem.
	journalPath := filepath.Join(dir, JournalFile)
	var recs []journalEntry
	c := lineChecker{name: journalPath}
	var lineProblems []string
	var valid int64
	var torn bool
	f, err := os.Open(journalPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		v.problem("%s: %v", journalPath, err)
	default:
		valid, torn, err = scanJournal(journalPath, f, func(line int, body []byte) error {
			rec, err := c.check(line, body)
			if err != nil {
				lineProblems = append(lineProblems, err.Error())
				return nil
			}
			recs = append(recs, journalEntry{rec, line})
			return nil
		})
		f.Close()
		if err != nil {
			v.problem("%v", err)
		}
	}
	var plain []Record
	for _, e := range recs {
		plain = append(plain, e.rec)
	}

	objs := st.Objectives
	objSource := StateFile
	if !haveState {
		objs, objSource = journalObjectives(dir, exp, plain), "front.json or config.toml"
	}

	summed, crossChecked := 0, 0
	byID := map[string]int{}
	for i, e := range recs {
		r := &e.rec
		if r.Sum != "" {
			summed++
		}
		if r.Status == population.StatusOK && objs != nil && len(r.Scores) != len(objs) {
			v.problem("%s:%d: record %s has %d scores, the run has %d objectives (%s): the record belongs to another configuration", journalPath, e.line, ShortID(r.ID), len(r.Scores), len(objs), objSource)
			continue
		}
		if objs != nil {
			if err := r.CheckScores(objs); err != nil {
				v.problem("%s:%d: %v: %s", journalPath, e.line, err, fixJournalLine(journalPath))
				continue
			}
			if r.Status == population.StatusOK && len(r.Correct) > 0 {
				crossChecked++
			}
		}
		if k, dup := byID[r.ID]; dup {
			p := &recs[k].rec
			if p.Status != r.Status || !slices.Equal(p.Scores, r.Scores) {
				v.problem("%s:%d: candidate %s was journaled on line %d with other results (%s %v, now %s %v): one of the lines was edited, or two processes wrote the journal", journalPath, e.line, ShortID(r.ID), recs[k].line, p.Status, p.Scores, r.Status, r.Scores)
			}
			continue
		}
		byID[r.ID] = i
	}
	v.Problems = append(v.Problems, lineProblems...)
	if _, err := os.Stat(journalPath); err == nil {
		what := fmt.Sprintf("%s: %d records (%d bytes of complete lines); %d checksums verified", journalPath, len(recs)+len(lineProblems), valid, summed)
		if n := len(recs) - summed; n > 0 {
			what += fmt.Sprintf(", %d records without a checksum (written before journals had them)", n)
		}
		switch {
		case objs == nil:
			what += "; scores not cross-checked (the objectives are unknown without state.json)"
		default:
			what += fmt.Sprintf("; the scores of %d records cross-checked against their per-example results", crossChecked)
		}
		if torn {
			what += "; the last line is incomplete (a write in progress, or one cut short: resume drops it)"
		}
		v.checked("%s", what)
	}

	// state.json against the journal.
	switch {
	case haveState:
		what := fmt.Sprintf("%s: %s, %d evaluations, %d objectives", statePath, st.Status, st.Evaluations, len(st.Objectives))
		switch st.Status {
		case StateRunning, StateFinished, StateInterrupted, StateFailed:
		default:
			v.problem("%s: unknown status %q (want %s, %s, %s or %s): restore the file or remove it (`evomerge resume %s` rewrites it)", statePath, st.Status, StateRunning, StateFinished, StateInterrupted, StateFailed, dir)
		}
		for i, b := range st.Best {
			if b == nil || i >= len(st.Objectives) {
				continue
			}
			found := false
			for _, e := range recs {
				if e.rec.Status == population.StatusOK && i < len(e.rec.Scores) && e.rec.Scores[i] == *b {
					found = true
					break
				}
			}
			if !found {
				v.problem("%s: best score %v of objective %s is no journaled candidate's score: state.json or the journal was edited", statePath, *b, st.Objectives[i].Name)
			}
		}
		v.checked("%s; best scores are journaled candidates' scores", what)
	case stateErr == nil && len(recs)+len(lineProblems) > 0:
		v.problem("%s is missing though the journal holds evaluations: `evomerge resume %s` rewrites it", statePath, dir)
	case stateErr == nil:
		v.checked("%s: none yet (the run has not started evaluating)", statePath)
	}

	// front.json against the journal and state.json.
	frontPath := filepath.Join(dir, FrontFile)
	front, err := ReadFront(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if haveState && st.Status == StateFinished {
			v.problem("%s is missing though %s says the run finished: `evomerge resume %s` writes it again", frontPath, StateFile, dir)
		} else {
			v.checked("%s: none yet (it is written when a session ends)", frontPath)
		}
	case err != nil:
		v.problem("%v (restore it, or remove it and `evomerge resume %s` writes it again)", err, dir)
	default:
		v.verifyFront(front, frontPath, st, haveState, recs, byID)
	}
	return v, nil
}

// journalEntry is a journal record and its line.
type journalEntry struct {
	rec  Record
	line int
}

// verifyFront checks front.json's members against the journal (recs,
// indexed by id in byID) and its objectives against state.json.
func (v *VerifyReport) verifyFront(front Front, path string, st State, haveState bool, recs []journalEntry, byID map[string]int) {
	fix := fmt.Sprintf("front.json or the journal was edited; remove front.json and `evomerge resume %s` writes it again", v.Dir)
	if haveState {
		if !sameObjectives(front.Objectives, st.Objectives) {
			v.problem("%s: objectives %s differ from %s's %s: %s", path, objectiveList(front.Objectives), StateFile, objectiveList(st.Objectives), fix)
		}
		if (st.Status == StateFinished || st.Status == StateInterrupted) && (front.Status != st.Status || front.Evaluations != st.Evaluations) {
			v.problem("%s: status %s after %d evaluations, %s says %s after %d: %s", path, front.Status, front.Evaluations, StateFile, st.Status, st.Evaluations, fix)
		}
	}
	for _, m := range front.Members {
		k, ok := byID[m.ID]
		if !ok {
			v.problem("%s: member %s is not in the journal: %s", path, ShortID(m.ID), fix)
			continue
		}
		r := &recs[k].rec
		if r.Status != population.StatusOK || !slices.Equal(m.Validation, r.Scores) {
			v.problem("%s: member %s has fitness scores %v, its journal record (line %d) %s %v: %s", path, ShortID(m.ID), m.Validation, recs[k].line, r.Status, r.Scores, fix)
			continue
		}
		if m.FitnessTasks != nil && len(m.FitnessTasks.Accuracy) == len(r.Correct) {
			for i, tc := range r.Correct {
				if tc.Bits.Len() == 0 {
					continue
				}
				if want := float64(tc.Bits.Count()) / float64(tc.Bits.Len()); math.Abs(m.FitnessTasks.Accuracy[i]-want) > 1e-12 {
					v.problem("%s: member %s has fitness accuracy %v on task %s, its journaled per-example results %v: %s", path, ShortID(m.ID), m.FitnessTasks.Accuracy[i], tc.Task, want, fix)
				}
			}
		}
	}
	v.checked("%s: %d members, each checked against its journal record (fitness scores and per-task fitness accuracies)", path, len(front.Members))
}

func objectiveList(objs []fitness.Objective) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func sameObjectives(a, b []fitness.Objective) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Direction != b[i].Direction {
			return false
		}
	}
	return true
}
