package rundir

import (
	"reflect"
	"strings"
	"testing"
)

func TestStatusWithoutStateFile(t *testing.T) {
	want, err := Status(fixtureRun)
	if err != nil {
		t.Fatal(err)
	}
	for _, files := range [][]string{
		{ConfigFile, JournalFile, FrontFile}, // objectives from front.json
		{ConfigFile, JournalFile},            // objectives from config.toml
	} {
		t.Run(strings.Join(files, ","), func(t *testing.T) {
			dir := copyRun(t, fixtureRun, files...)
			got, err := Status(dir)
			if err != nil {
				t.Fatalf("status without state.json: %v", err)
			}
			if got.State != StateUnknown || got.Experiment != "smoke" || got.Algorithm != "map" || got.MaxEvaluations != want.MaxEvaluations ||
				got.Journaled != want.Journaled || got.Failed != want.Failed || got.FrontSize != want.FrontSize || got.Updated.IsZero() {
				t.Errorf("status = %+v\nwant state %q and the journal's figures of %+v", got, StateUnknown, want)
			}
			if !reflect.DeepEqual(got.Best, want.Best) {
				t.Errorf("best = %+v, want %+v", got.Best, want.Best)
			}
		})
	}
	// No state.json and no records: the run has not started.
	dir := copyRun(t, fixtureRun, ConfigFile)
	if _, err := Status(dir); err == nil || !strings.Contains(err.Error(), "has not started evaluating yet") {
		t.Errorf("status of a run without evaluations: %v", err)
	}
}
