package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/evomerge/evomerge/fitness"
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
	// Failures are the first failed evaluations with distinct reasons (at
	// most MaxFailureReasons), in journal order.
	Failures []FailureReason `json:"failures,omitempty"`
}

// FailureReason is a failed evaluation and why it failed.
type FailureReason struct {
	ID    string `json:"id"`
	Error string `json:"error"`
	// Count is the number of failed evaluations with this reason.
	Count int `json:"count"`
}

// MaxFailureReasons bounds the distinct failure reasons a status lists.
const MaxFailureReasons = 5

// Failures collects failure reasons: the first evaluation of each distinct
// reason (at most MaxFailureReasons), with how many failed with it.
type Failures struct {
	list  []FailureReason
	other int
}

// Add records a failed evaluation. It reports whether its reason is new
// and listed.
func (f *Failures) Add(id, reason string) bool {
	for i := range f.list {
		if f.list[i].Error == reason {
			f.list[i].Count++
			return false
		}
	}
	if len(f.list) >= MaxFailureReasons {
		f.other++
		return false
	}
	f.list = append(f.list, FailureReason{ID: id, Error: reason, Count: 1})
	return true
}

// List returns the listed reasons.
func (f *Failures) List() []FailureReason { return append([]FailureReason(nil), f.list...) }

// Unlisted counts the failures whose reasons did not fit in the list.
func (f *Failures) Unlisted() int { return f.other }

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
	clock := NewEvalClock()
	var failures Failures
	cands := make([]*population.Candidate, 0, len(j.Records))
	for k := range j.Records {
		rec := &j.Records[k]
		clock.Add(rec)
		if rec.Status != population.StatusOK {
			r.Failed++
			failures.Add(rec.ID, rec.Error)
			continue
		}
		if len(dirs) == 0 {
			continue // objectives unknown (no state.json; see stateFromJournal)
		}
		if len(rec.Scores) != len(dirs) {
			return nil, fmt.Errorf("%s: record %s has %d scores for %d objectives", filepath.Join(dir, JournalFile), ShortID(rec.ID), len(rec.Scores), len(dirs))
		}
		cands = append(cands, rec.Candidate())
		for i, v := range rec.Scores {
			if best[i] < 0 || dirs[i].Better(v, j.Records[best[i]].Scores[i]) {
				best[i] = k
			}
		}
	}
	r.Failures = failures.List()
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
	r.EvaluationSeconds = clock.Spent().Seconds()
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
