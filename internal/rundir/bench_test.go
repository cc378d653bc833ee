package rundir

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/evomerge/evomerge/population"
)

// benchRecord is a journal record the size of a quickstart evaluation:
// 8 coefficients, 2 scores and 4 tasks × 5000 correctness bits.
func benchRecord(b *testing.B, i int) Record {
	b.Helper()
	x := make([]float64, 8)
	for k := range x {
		x[k] = float64((i*7+k)%100) / 100
	}
	g := population.VectorGenome(x)
	id, err := population.ID(g, "spec", "v")
	if err != nil {
		b.Fatal(err)
	}
	c := &population.Candidate{ID: id, Genome: g, Status: population.StatusOK, Scores: []float64{0.8, 0.7}}
	for _, task := range []string{"digits", "rotated", "permuted", "mod3"} {
		bits := population.NewBitset(5000)
		for k := 0; k < 5000; k += 3 {
			bits.Set(k, true)
		}
		c.Correct = append(c.Correct, population.TaskCorrectness{Task: task, Bits: bits})
	}
	r := testRecord(b, 0.5, true)
	r.ID, r.Genome, r.Scores, r.Correct = c.ID, c.Genome, c.Scores, c.Correct
	return r
}

// BenchmarkJournalAppend measures one durable (fsynced) journal record.
func BenchmarkJournalAppend(b *testing.B) {
	j, err := OpenJournal(filepath.Join(b.TempDir(), JournalFile))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	recs := make([]Record, 64)
	for i := range recs {
		recs[i] = benchRecord(b, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := j.Append(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJournal measures reading a 256-record journal (resume,
// status), per record.
func BenchmarkParseJournal(b *testing.B) {
	recs := make([]Record, 256)
	for i := range recs {
		recs[i] = benchRecord(b, i)
	}
	data := encodeLines(b, recs...)
	b.SetBytes(int64(len(data) / len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(recs) {
		got, err := ParseJournal("bench", bytes.NewReader(data))
		if err != nil || len(got.Records) != len(recs) {
			b.Fatal(err)
		}
	}
}
