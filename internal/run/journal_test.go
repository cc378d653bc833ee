package run

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

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

func encodeLines(t testing.TB, recs ...Record) []byte {
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
	if !ok || !reflect.DeepEqual(got, a) {
		t.Errorf("Lookup(a) = %+v, %v; want %+v", got, ok, a)
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
