package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/population"
)

// JournalVersion is the version of journal records this package writes and
// reads.
const JournalVersion = 1

// Record is one line of journal.jsonl: a finished evaluation.
type Record struct {
	V       int                          `json:"v"`
	ID      string                       `json:"id"`
	Genome  population.Genome            `json:"genome"`
	Lineage population.Lineage           `json:"lineage"`
	Status  population.Status            `json:"status"`
	Scores  []float64                    `json:"scores,omitempty"`
	Error   string                       `json:"error,omitempty"`
	Correct []population.TaskCorrectness `json:"correct,omitempty"`
	// Started and Finished bound the evaluation (the batch chunk it ran in).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// RecordOf builds the journal record of an evaluated candidate.
func RecordOf(c *population.Candidate, started, finished time.Time) Record {
	return Record{
		V: JournalVersion, ID: c.ID, Genome: c.Genome, Lineage: c.Lineage, Status: c.Status,
		Scores: c.Scores, Error: c.Error, Correct: c.Correct,
		Started: started.UTC(), Finished: finished.UTC(),
	}
}

// Apply copies the record's results into c (a candidate with the same id).
func (r *Record) Apply(c *population.Candidate) {
	c.Status = r.Status
	c.Scores = append([]float64(nil), r.Scores...)
	c.Error = r.Error
	c.Correct = nil
	for _, tc := range r.Correct {
		c.Correct = append(c.Correct, population.TaskCorrectness{Task: tc.Task, Bits: tc.Bits.Clone()})
	}
}

// Candidate returns the record as an evaluated candidate.
func (r *Record) Candidate() *population.Candidate {
	c := &population.Candidate{ID: r.ID, Genome: r.Genome.Clone(), Lineage: r.Lineage}
	c.Lineage.Parents = append([]string(nil), r.Lineage.Parents...)
	r.Apply(c)
	return c
}

func (r *Record) validate() error {
	if r.V != JournalVersion {
		return fmt.Errorf("record version %d: this evomerge reads version %d", r.V, JournalVersion)
	}
	if len(r.ID) != 64 || strings.Trim(r.ID, "0123456789abcdef") != "" {
		return fmt.Errorf("candidate id %q is not a sha256 hex digest", r.ID)
	}
	if err := r.Genome.Validate(); err != nil {
		return fmt.Errorf("candidate %s: %w", short(r.ID), err)
	}
	switch r.Status {
	case population.StatusOK:
		if len(r.Scores) == 0 {
			return fmt.Errorf("candidate %s is ok but has no scores", short(r.ID))
		}
	case population.StatusFailed:
		if len(r.Scores) != 0 {
			return fmt.Errorf("candidate %s failed but has scores", short(r.ID))
		}
	default:
		return fmt.Errorf("candidate %s has status %q: a journal holds finished evaluations (ok or failed)", short(r.ID), r.Status)
	}
	for _, tc := range r.Correct {
		if err := tc.Bits.Validate(); err != nil {
			return fmt.Errorf("candidate %s, task %s: %w", short(r.ID), tc.Task, err)
		}
	}
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// JournalContents is what ParseJournal read.
type JournalContents struct {
	Records []Record
	// Valid is the length in bytes of the complete lines read; a torn last
	// line starts there.
	Valid int64
	// Torn reports that the data ended with an incomplete line (no newline):
	// a write cut short by a crash. It is ignored.
	Torn bool
}

// ParseJournal reads journal records, one JSON object per line. A final line
// without a newline is a record whose write was cut short (kill -9, power
// loss): it is ignored and reported as Torn. Any other line that is not a
// valid record is an error naming the file and the line.
func ParseJournal(name string, r io.Reader) (JournalContents, error) {
	var out JournalContents
	br := bufio.NewReaderSize(r, 1<<16)
	line := 0
	for {
		text, err := br.ReadBytes('\n')
		if len(text) > 0 && text[len(text)-1] != '\n' {
			// EOF inside a line: a torn write.
			out.Torn = true
			return out, nil
		}
		if len(text) > 0 {
			line++
			body := bytes.TrimSpace(text)
			if len(body) > 0 {
				var rec Record
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.DisallowUnknownFields()
				if derr := dec.Decode(&rec); derr != nil {
					return out, fmt.Errorf("%s:%d: corrupt journal record: %v (the run directory is damaged; remove the line only if you accept re-evaluating it)", name, line, derr)
				}
				if dec.More() {
					return out, fmt.Errorf("%s:%d: corrupt journal record: trailing data after the JSON object", name, line)
				}
				if verr := rec.validate(); verr != nil {
					return out, fmt.Errorf("%s:%d: invalid journal record: %v", name, line, verr)
				}
				out.Records = append(out.Records, rec)
			}
			out.Valid += int64(len(text))
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: read: %w", name, err)
		}
	}
}

// ReadJournal parses the journal file at path without modifying it; a
// missing file is an empty journal.
func ReadJournal(path string) (JournalContents, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return JournalContents{}, nil
	}
	if err != nil {
		return JournalContents{}, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	return ParseJournal(path, f)
}

// Journal is the append-only record of finished evaluations. Every Append is
// one line written with a single write and fsynced before it returns. It is
// also the evaluation store that answers replayed candidates on resume.
// Journal is safe for concurrent use.
type Journal struct {
	path string
	mu   sync.Mutex
	f    *os.File
	byID map[string]int
	recs []Record
	// Dropped is the number of bytes of a torn last line that OpenJournal
	// truncated away.
	Dropped int64
}

// OpenJournal opens (creating if needed) the journal at path for appending,
// after reading the records it holds. A torn last line is truncated away.
func OpenJournal(path string) (*Journal, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// A new journal's directory entry must be durable too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	contents, err := ParseJournal(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	j := &Journal{path: path, f: f, byID: make(map[string]int, len(contents.Records)), recs: contents.Records}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if st.Size() > contents.Valid {
		j.Dropped = st.Size() - contents.Valid
		if err := f.Truncate(contents.Valid); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: truncate the torn last line of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: fsync %s: %w", path, err)
		}
	}
	if _, err := f.Seek(contents.Valid, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	for i, r := range j.recs {
		if _, dup := j.byID[r.ID]; !dup {
			j.byID[r.ID] = i
		}
	}
	return j, nil
}

// Path is the journal's file name.
func (j *Journal) Path() string { return j.path }

// Len is the number of records.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.recs)
}

// Lookup returns the record of a candidate id.
func (j *Journal) Lookup(id string) (Record, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	i, ok := j.byID[id]
	if !ok {
		return Record{}, false
	}
	return j.recs[i], true
}

// Records returns a copy of the records in file order.
func (j *Journal) Records() []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Record(nil), j.recs...)
}

// Append writes one record as a line and fsyncs the file.
func (j *Journal) Append(r Record) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("journal: refusing to write an invalid record: %w", err)
	}
	line, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("journal: encode candidate %s: %w", short(r.ID), err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal: append after close")
	}
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("journal: write %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync %s: %w", j.path, err)
	}
	if _, dup := j.byID[r.ID]; !dup {
		j.byID[r.ID] = len(j.recs)
	}
	j.recs = append(j.recs, r)
	return nil
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
