package rundir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/population"
)

func testRecord(t testing.TB, x float64, ok bool) Record {
	t.Helper()
	g := population.VectorGenome([]float64{x, 1 - x})
	id, err := population.ID(g, "spec", "v")
	if err != nil {
		t.Fatal(err)
	}
	c := &population.Candidate{ID: id, Genome: g, Lineage: population.Lineage{Operator: "sample", Generation: 2, Parents: []string{"p"}}}
	if ok {
		c.Status, c.Scores = population.StatusOK, []float64{x, 0.5}
		c.Correct = []population.TaskCorrectness{{Task: "t", Bits: population.BitsetOf([]bool{true, false, true})}}
	} else {
		c.Status, c.Error = population.StatusFailed, "merge exploded"
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	return RecordOf(c, start, start.Add(1500*time.Millisecond))
}

// withSum returns r with its checksum, as Journal.Append writes it.
func withSum(t testing.TB, r Record) Record {
	t.Helper()
	sum, err := r.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	r.Sum = sum
	return r
}

// encodeLines encodes records as journal lines with their checksums, as
// Journal.Append writes them.
func encodeLines(t testing.TB, recs ...Record) []byte {
	t.Helper()
	summed := make([]Record, len(recs))
	for i, r := range recs {
		summed[i] = withSum(t, r)
	}
	return encodeLegacy(t, summed...)
}

// encodeLegacy encodes records as they are (without a checksum unless they
// carry one), as journals were written before records had checksums.
func encodeLegacy(t testing.TB, recs ...Record) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, r := range recs {
		line, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestJournalAppendReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testRecord(t, 0.25, true), testRecord(t, 0.75, false)
	for _, r := range []Record{a, b} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.Len() != 2 || j.Dropped != 0 {
		t.Fatalf("reopened journal: %d records, %d bytes dropped; want 2, 0", j.Len(), j.Dropped)
	}
	got, ok := j.Lookup(a.ID)
	if want := withSum(t, a); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Lookup(a) = %+v, %v; want %+v", got, ok, want)
	}
	c := got.Candidate()
	if c.ID != a.ID || !c.OK() || c.Scores[0] != 0.25 || c.Correct[0].Bits.Count() != 2 || c.Lineage.Generation != 2 {
		t.Errorf("candidate from record = %+v", c)
	}
	if got, _ := j.Lookup(b.ID); got.Status != population.StatusFailed || got.Error != "merge exploded" {
		t.Errorf("failed record = %+v", got)
	}
	if _, ok := j.Lookup(strings.Repeat("0", 64)); ok {
		t.Error("Lookup of an unknown id succeeded")
	}
}

func TestParseJournal(t *testing.T) {
	a, b := testRecord(t, 0.1, true), testRecord(t, 0.2, true)
	good := encodeLines(t, a, b)
	badVersion := strings.Replace(string(encodeLines(t, a)), `"v":1`, `"v":9`, 1)
	tests := []struct {
		name    string
		data    string
		records int
		valid   int
		torn    bool
		errHas  string
	}{
		{"empty", "", 0, 0, false, ""},
		{"two records", string(good), 2, len(good), false, ""},
		{"blank lines", "\n" + string(good) + "\n", 2, len(good) + 2, false, ""},
		{"torn last line", string(good) + `{"v":1,"id":"ab`, 2, len(good), true, ""},
		{"torn but parseable last line", string(good) + strings.TrimSuffix(string(encodeLines(t, a)), "\n"), 2, len(good), true, ""},
		{"corrupt middle line", string(encodeLines(t, a)) + "{not json}\n" + string(encodeLines(t, b)), 0, 0, false, "j.jsonl:2: corrupt journal record"},
		{"unknown field", strings.Replace(string(encodeLines(t, a)), `"v":1`, `"v":1,"extra":3`, 1), 0, 0, false, "j.jsonl:1: corrupt"},
		{"wrong version", badVersion, 0, 0, false, "j.jsonl:1: invalid journal record: record version 9"},
		{"pending status", strings.Replace(string(encodeLines(t, a)), `"status":"ok"`, `"status":"pending"`, 1), 0, 0, false, "has status \"pending\""},
		{"no genome", strings.Replace(string(encodeLines(t, a)), `"genome":{"values":[0.1,0.9]},`, ``, 1), 0, 0, false, "neither values nor a recipe"},
		{"upper-case id", strings.Replace(string(encodeLines(t, a)), a.ID, strings.ToUpper(a.ID), 1), 0, 0, false, "not a sha256 hex digest"},
		{"trailing data", strings.TrimSuffix(string(encodeLines(t, a)), "\n") + " {}\n", 0, 0, false, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJournal("j.jsonl", strings.NewReader(tt.data))
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Records) != tt.records || got.Valid != int64(tt.valid) || got.Torn != tt.torn {
				t.Errorf("got %d records, valid %d, torn %v; want %d, %d, %v", len(got.Records), got.Valid, got.Torn, tt.records, tt.valid, tt.torn)
			}
		})
	}
}

func TestOpenJournalTruncatesTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	a, b, c := testRecord(t, 0.1, true), testRecord(t, 0.2, true), testRecord(t, 0.3, true)
	good := encodeLines(t, a, b)
	torn := encodeLines(t, c)
	if err := os.WriteFile(path, append(append([]byte{}, good...), torn[:len(torn)/2]...), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if j.Len() != 2 || j.Dropped != int64(len(torn)/2) {
		t.Fatalf("%d records, dropped %d; want 2, %d", j.Len(), j.Dropped, len(torn)/2)
	}
	if err := j.Append(c); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte{}, good...), torn...); !bytes.Equal(data, want) {
		t.Errorf("journal after truncation and append:\n%s\nwant\n%s", data, want)
	}
}

func TestOpenJournalRejectsCorruptLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	data := append(encodeLines(t, testRecord(t, 0.1, true)), []byte("garbage\n")...)
	data = append(data, encodeLines(t, testRecord(t, 0.2, true))...)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenJournal(path)
	if err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Fatalf("error %v, want one naming %s:2", err, path)
	}
}

func FuzzParseJournal(f *testing.F) {
	a, b := testRecord(f, 0.1, true), testRecord(f, 0.9, false)
	good := encodeLines(f, a, b)
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"v":1}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseJournal("fuzz", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if got.Valid > int64(len(data)) || (got.Valid < int64(len(data))) != got.Torn {
			t.Fatalf("valid %d of %d bytes, torn %v", got.Valid, len(data), got.Torn)
		}
		// The records re-encode to a journal that parses to the same records.
		again, err := ParseJournal("again", bytes.NewReader(encodeLines(t, got.Records...)))
		if err != nil {
			t.Fatalf("re-encoded records do not parse: %v", err)
		}
		if len(again.Records) != len(got.Records) {
			t.Fatalf("%d records re-encode to %d", len(got.Records), len(again.Records))
		}
		for i := range got.Records {
			x, y := got.Records[i], again.Records[i]
			if x.ID != y.ID || !x.Genome.Equal(y.Genome) || x.Status != y.Status || !x.Started.Equal(y.Started) {
				t.Fatalf("record %d changed on re-encoding: %+v vs %+v", i, x, y)
			}
		}
	})
}

func TestJournalAppendsLandAtTheEnd(t *testing.T) {
	// Two journals open on one file, as two processes without the run lock
	// would have them: each append must land after the other's, never over
	// it (O_APPEND), so no record is lost or cut.
	path := filepath.Join(t.TempDir(), JournalFile)
	first, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	recs := []Record{testRecord(t, 0.1, true), testRecord(t, 0.2, false), testRecord(t, 0.3, true)}
	for i, r := range recs {
		j := first
		if i == 1 {
			j = second
		}
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got.Records {
		ids = append(ids, ShortID(r.ID))
	}
	if want := []string{ShortID(recs[0].ID), ShortID(recs[1].ID), ShortID(recs[2].ID)}; !reflect.DeepEqual(ids, want) {
		t.Errorf("journal holds %v, want %v", ids, want)
	}
}

func TestParseJournalChecksums(t *testing.T) {
	a, b := testRecord(t, 0.1, true), testRecord(t, 0.2, true)
	la, lb := string(encodeLines(t, a)), string(encodeLines(t, b))
	legacy := string(encodeLegacy(t, a, b))
	const name = "runs/x/journal.jsonl"
	fix := "the line was edited or damaged; restore it from a backup or delete the line and everything after it, then `evomerge resume runs/x`"
	tests := []struct {
		name     string
		data     string
		lines    []int // line of each record read
		unsummed int
		torn     bool
		err      string // the whole error message
	}{
		{"records with checksums", la + "\n" + lb, []int{1, 3}, 0, false, ""},
		{"records without checksums (older journals)", legacy, []int{1, 2}, 2, false, ""},
		{"an older journal resumed by this version", string(encodeLegacy(t, a)) + lb, []int{1, 2}, 1, false, ""},
		{"values respelled, not changed", la + strings.Replace(lb, `"scores":[0.2,0.5]`, `"scores": [0.20, 5e-1]`, 1), nil, 0, false,
			name + ":2: record " + ShortID(b.ID) + " fails its checksum: " + fix},
		{"checksum moved to another field's place", strings.Replace(strings.Replace(la, `,"sum":"`+withSum(t, a).Sum+`"`, "", 1), `{"v":1`, `{"sum":"`+withSum(t, a).Sum+`","v":1`, 1), nil, 0, false,
			name + ":1: record " + ShortID(a.ID) + " fails its checksum: " + fix},
		{"edited score", la + strings.Replace(lb, `"scores":[0.2,0.5]`, `"scores":[0.9,0.5]`, 1), nil, 0, false,
			name + ":2: record " + ShortID(b.ID) + " fails its checksum: " + fix},
		{"edited correctness", strings.Replace(la, `"words":[5]`, `"words":[7]`, 1), nil, 0, false,
			name + ":1: record " + ShortID(a.ID) + " fails its checksum: " + fix},
		{"damaged checksum", strings.Replace(la, `"sum":"`, `"sum":"0`, 1), nil, 0, false,
			name + ":1: record " + ShortID(a.ID) + " fails its checksum: " + fix},
		{"checksum removed after records that have one", la + string(encodeLegacy(t, b)), nil, 0, false,
			name + ":2: record " + ShortID(b.ID) + " has no checksum though the records before it have one: " + fix},
		{"torn last line with an edited score", la + strings.TrimSuffix(strings.Replace(lb, `"scores":[0.2`, `"scores":[0.9`, 1), "\n"), []int{1}, 0, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJournal(name, strings.NewReader(tt.data))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error\n%v\nwant\n%s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Lines, tt.lines) || got.Unsummed != tt.unsummed || got.Torn != tt.torn {
				t.Errorf("lines %v, %d without checksum, torn %v; want %v, %d, %v", got.Lines, got.Unsummed, got.Torn, tt.lines, tt.unsummed, tt.torn)
			}
			for _, r := range got.Records {
				if err := r.checkSum(); err != nil {
					t.Errorf("record read back fails its checksum: %v", err)
				}
			}
		})
	}
}

// scoredRecord is an ok record over tasks a (3 examples, 2 correct) and b
// (4 examples, 1 correct) with the given scores.
func scoredRecord(t *testing.T, scores ...float64) Record {
	t.Helper()
	r := testRecord(t, 0.5, true)
	r.Scores = scores
	r.Correct = []population.TaskCorrectness{
		{Task: "a", Bits: population.BitsetOf([]bool{true, false, true})},
		{Task: "b", Bits: population.BitsetOf([]bool{false, false, true, false})},
	}
	return r
}

func TestRecordCheckScores(t *testing.T) {
	obj := func(task, metric string) fitness.Objective {
		return fitness.Objective{Name: task + "/" + metric, Task: task, Metric: metric, Direction: fitness.Maximize}
	}
	perTask := []fitness.Objective{obj("a", "accuracy"), obj("b", "accuracy")}
	mean := (2.0/3 + 1.0/4) / 2
	failed := testRecord(t, 0.5, false)
	noCorrect := scoredRecord(t, 0.9, 0.9)
	noCorrect.Correct = nil
	tests := []struct {
		name string
		rec  Record
		objs []fitness.Objective
		err  string
	}{
		{"per-task accuracies agree", scoredRecord(t, 2.0/3, 0.25), perTask, ""},
		{"edited per-task accuracy", scoredRecord(t, 2.0/3, 0.5), perTask,
			"record " + ShortID(scoredRecord(t).ID) + ": score 0.5 of objective b/accuracy is not the fraction of correct examples of task b (0.25)"},
		{"mean accuracy agrees", scoredRecord(t, mean), []fitness.Objective{obj("mean", "accuracy")}, ""},
		{"edited mean accuracy", scoredRecord(t, 0.5), []fitness.Objective{obj("mean", "accuracy")},
			"record " + ShortID(scoredRecord(t).ID) + fmt.Sprintf(": score 0.5 of objective mean/accuracy is not the mean over its 2 tasks of the fraction of correct examples (%v)", mean)},
		{"loss is not derivable", scoredRecord(t, 2.0/3, 0.123), []fitness.Objective{obj("a", "accuracy"), obj("b", "loss")}, ""},
		{"normalized accuracy is not derivable", scoredRecord(t, 0.7), []fitness.Objective{obj("a", "normalized_accuracy")}, ""},
		{"another configuration's scores", scoredRecord(t, 0.1, 0.2, 0.3), perTask, ""},
		{"a task without correctness", scoredRecord(t, 0.3), []fitness.Objective{obj("c", "accuracy")}, ""},
		{"failed record", failed, perTask, ""},
		{"no correctness (command evaluator)", noCorrect, perTask, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rec.CheckScores(tt.objs)
			if got := fmt.Sprint(err); (tt.err == "" && err != nil) || (tt.err != "" && got != tt.err) {
				t.Errorf("error\n%v\nwant\n%s", err, tt.err)
			}
		})
	}
}

func TestJournalCheckScoresNamesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", JournalFile)
	os.MkdirAll(filepath.Dir(path), 0o755)
	good, bad := scoredRecord(t, 2.0/3, 0.25), scoredRecord(t, 2.0/3, 0.75)
	bad.Genome = population.VectorGenome([]float64{0.1, 0.2})
	bad.ID = strings.Repeat("ab", 32)
	// An older journal (no checksums) whose second score was edited.
	if err := os.WriteFile(path, encodeLegacy(t, good, bad), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	err = j.CheckScores([]fitness.Objective{{Name: "a/accuracy", Task: "a", Metric: "accuracy"}, {Name: "b/accuracy", Task: "b", Metric: "accuracy"}})
	want := path + ":2: record abababababab: score 0.75 of objective b/accuracy is not the fraction of correct examples of task b (0.25): " +
		"the line was edited or damaged; restore it from a backup or delete the line and everything after it, then `evomerge resume " + filepath.Dir(path) + "`"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

func TestRecordSumIsTheLastField(t *testing.T) {
	// Readers verify a line by hashing it without its trailing sum field
	// (checkLineSum): the sum must be the last field encoding/json writes.
	rt := reflect.TypeOf(Record{})
	if last := rt.Field(rt.NumField() - 1); last.Name != "Sum" {
		t.Fatalf("the last field of Record is %s, want Sum", last.Name)
	}
	r := withSum(t, testRecord(t, 0.4, true))
	line, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkLineSum(line, r.ID, r.Sum); err != nil {
		t.Errorf("encoded record %s: %v", line, err)
	}
}

func TestJournalStopsAtTheFirstFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var told []error
	j.onFail = func(err error) { told = append(told, err) }
	testkit.SetWriteFault(t, InjectWriteFault, func(base string, n int, full bool) bool { return n == 2 })
	recs := []Record{testRecord(t, 0.1, true), testRecord(t, 0.2, true), testRecord(t, 0.3, true)}
	want := "writing " + path + ": no space left on device"
	var errs []string
	for _, r := range recs {
		errs = append(errs, fmt.Sprint(j.Append(r)))
	}
	// The second write fails; the third would work, but nothing is written
	// after a gap: it returns the first failure.
	if !reflect.DeepEqual(errs, []string{"<nil>", want, want}) {
		t.Errorf("Append errors %q, want <nil>, %q, %q", errs, want, want)
	}
	if len(told) != 1 || !errors.Is(j.Err(), syscall.ENOSPC) || j.Len() != 1 {
		t.Errorf("onFail told %v, Err %v, %d records; want one ENOSPC failure and 1 record", told, j.Err(), j.Len())
	}
	got, err := ReadJournal(path)
	if err != nil || len(got.Records) != 1 || got.Records[0].ID != recs[0].ID || got.Torn {
		t.Errorf("journal holds %d records (torn %v, %v), want the first only", len(got.Records), got.Torn, err)
	}
}
