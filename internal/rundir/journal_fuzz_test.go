package rundir

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/population"
)

// FuzzJournalRecord feeds one journal line (or anything) to the reader. It
// must never panic; a record it accepts must, encoded again the way
// Journal.Append writes it, read back with a checksum that verifies and the
// same canonical form; and cross-checking its scores must not panic.
func FuzzJournalRecord(f *testing.F) {
	ok, failed := testRecord(f, 0.25, true), testRecord(f, 0.75, false)
	recipe := testRecord(f, 0.5, true)
	recipe.Genome = population.Genome{Recipe: &population.Recipe{Operator: "split-slerp", Parents: []string{ok.ID, failed.ID}, Params: map[string]float64{"t": 0.5, "split": 3}}}
	for _, seed := range [][]byte{
		encodeLines(f, ok), encodeLines(f, failed), encodeLines(f, recipe),
		encodeLegacy(f, ok), encodeLegacy(f, failed),
		bytes.Replace(encodeLines(f, ok), []byte(`"scores":[0.25`), []byte(`"scores":[0.5`), 1),
		[]byte(`{"v":1,"id":"` + strings.Repeat("0", 64) + `","genome":{"values":[-0,1e300]},"lineage":{"generation":0},"status":"failed","error":"\u00ff\xff","started":"2026-01-02T03:04:05+02:00","finished":"0001-01-01T00:00:00Z","sum":"0000000000000000"}` + "\n"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseJournal("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, rec := range got.Records {
			objs := make([]fitness.Objective, len(rec.Scores))
			for i := range objs {
				task, metric := "t", "accuracy"
				switch i % 3 {
				case 1:
					task = "mean"
				case 2:
					metric = "loss"
				}
				if len(rec.Correct) > 0 && i%2 == 0 {
					task = rec.Correct[i%len(rec.Correct)].Task
				}
				objs[i] = fitness.Objective{Name: task + "/" + metric, Task: task, Metric: metric, Direction: fitness.Maximize}
			}
			_ = rec.CheckScores(objs)

			sum, err := rec.Checksum()
			if err != nil {
				t.Fatalf("an accepted record has no checksum: %v", err)
			}
			if rec.Sum != "" && rec.Sum != sum {
				t.Fatalf("accepted record with sum %s, its checksum is %s", rec.Sum, sum)
			}
			rec.Sum = sum
			line, err := json.Marshal(&rec)
			if err != nil {
				t.Fatalf("an accepted record does not encode: %v", err)
			}
			again, err := ParseJournal("again", bytes.NewReader(append(line, '\n')))
			if err != nil {
				t.Fatalf("re-encoded record %s does not read back: %v", line, err)
			}
			if len(again.Records) != 1 || again.Unsummed != 0 {
				t.Fatalf("re-encoded record read back as %d records, %d without checksum", len(again.Records), again.Unsummed)
			}
			back := again.Records[0]
			if err := back.checkSum(); err != nil {
				t.Fatalf("re-encoded record fails its checksum: %v", err)
			}
			if s2, _ := back.Checksum(); s2 != sum {
				t.Fatalf("checksum changed on re-encoding: %s, then %s", sum, s2)
			}
		}
	})
}
