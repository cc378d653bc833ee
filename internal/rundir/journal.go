package rundir

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/tasks"
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
	// Sum is the record's checksum (see Checksum), set by Journal.Append.
	// Records of journals written before checksums existed have none and
	// are read as they are; a record whose sum does not match is refused.
	Sum string `json:"sum,omitempty"`
}

// sumLen is the number of hex digits of a record checksum (64 bits).
const sumLen = 16

// Checksum is the record's checksum: the first 64 bits, in hex, of the
// SHA-256 of its canonical JSON, the encoding/json encoding of the record
// without its sum field (genomes in their canonical form). Journal.Append
// writes that encoding with the sum added as the last field, so a reader
// verifies a line by hashing its bytes without the sum (checkLineSum), and
// any change to the line (a score, a genome, a correctness bit, even
// spacing) makes it fail. Decoding a line and encoding the record again
// gives the same bytes, so the sum survives a read.
func (r *Record) Checksum() (string, error) {
	c := *r
	c.Sum = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("journal: encode candidate %s: %w", ShortID(r.ID), err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:sumLen/2]), nil
}

// sumField starts the last field of a line Journal.Append writes; the sum's
// hex digits and `"}` follow.
const sumField = `,"sum":"`

// checkLineSum verifies the checksum of a journal line (without its
// newline) that decodes to a record with sum: the line must end with the
// sum field as Journal.Append writes it, and the rest of the line must hash
// to it.
func checkLineSum(body []byte, id, sum string) error {
	bad := fmt.Errorf("record %s fails its checksum", ShortID(id))
	tail := len(sumField) + len(sum) + 2
	if len(sum) != sumLen || len(body) < tail+1 || !bytes.Equal(body[len(body)-tail:len(body)-tail+len(sumField)], []byte(sumField)) ||
		string(body[len(body)-sumLen-2:]) != sum+`"}` {
		return bad
	}
	h := sha256.New()
	h.Write(body[:len(body)-tail])
	h.Write([]byte{'}'})
	if hex.EncodeToString(h.Sum(nil)[:sumLen/2]) != sum {
		return bad
	}
	return nil
}

// checkSum verifies the checksum of a record in memory (a record without
// one passes): that its sum is its Checksum.
func (r *Record) checkSum() error {
	if r.Sum == "" {
		return nil
	}
	want, err := r.Checksum()
	if err != nil {
		return err
	}
	if r.Sum != want {
		return fmt.Errorf("record %s fails its checksum", ShortID(r.ID))
	}
	return nil
}

// CheckScores cross-checks the scores that the record's per-example
// correctness determines: an objective with metric accuracy on a task is
// the fraction of that task's correct examples, and one on the mean task
// the mean of those fractions over the record's tasks (this is how the
// native and lineage evaluators compute them). Scores of other metrics
// (loss, normalized accuracy) and records without correctness (command
// evaluator, failed candidates) are not derivable and pass, as does a
// record whose score count is not the objectives' (it belongs to another
// configuration; resume does not answer from it).
func (r *Record) CheckScores(objs []fitness.Objective) error {
	if r.Status != population.StatusOK || len(r.Correct) == 0 || len(r.Scores) != len(objs) {
		return nil
	}
	acc := make(map[string]float64, len(r.Correct))
	mean, counted := 0.0, true
	for _, tc := range r.Correct {
		if tc.Bits.Len() == 0 {
			counted = false
			continue
		}
		a := float64(tc.Bits.Count()) / float64(tc.Bits.Len())
		acc[tc.Task] = a
		mean += a
	}
	mean /= float64(len(r.Correct))
	for k, o := range objs {
		if o.Metric != tasks.MetricAccuracy {
			continue
		}
		want, ok := acc[o.Task]
		what := fmt.Sprintf("the fraction of correct examples of task %s", o.Task)
		if o.Task == evaluate.MeanTask {
			want, ok = mean, counted
			what = fmt.Sprintf("the mean over its %d tasks of the fraction of correct examples", len(r.Correct))
		}
		if !ok {
			continue
		}
		if got := r.Scores[k]; !(math.Abs(got-want) <= 1e-12) {
			return fmt.Errorf("record %s: score %v of objective %s is not %s (%v)", ShortID(r.ID), got, o.Name, what, want)
		}
	}
	return nil
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
		return fmt.Errorf("candidate %s: %w", ShortID(r.ID), err)
	}
	switch r.Status {
	case population.StatusOK:
		if len(r.Scores) == 0 {
			return fmt.Errorf("candidate %s is ok but has no scores", ShortID(r.ID))
		}
	case population.StatusFailed:
		if len(r.Scores) != 0 {
			return fmt.Errorf("candidate %s failed but has scores", ShortID(r.ID))
		}
	default:
		return fmt.Errorf("candidate %s has status %q: a journal holds finished evaluations (ok or failed)", ShortID(r.ID), r.Status)
	}
	for _, tc := range r.Correct {
		if err := tc.Bits.Validate(); err != nil {
			return fmt.Errorf("candidate %s, task %s: %w", ShortID(r.ID), tc.Task, err)
		}
	}
	return nil
}

// ShortID is the prefix of a candidate id that messages, the summary and
// export directories show (12 hex digits).
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// JournalContents is what ParseJournal read.
type JournalContents struct {
	Records []Record
	// Lines holds the 1-based line number of each record.
	Lines []int
	// Valid is the length in bytes of the complete lines read; a torn last
	// line starts there.
	Valid int64
	// Torn reports that the data ended with an incomplete line (no newline):
	// a write cut short by a crash. It is ignored.
	Torn bool
	// Unsummed counts records without a checksum (written before journals
	// had them).
	Unsummed int
}

// fixJournalLine is what to do about a journal line that is not what was
// written.
func fixJournalLine(name string) string {
	return fmt.Sprintf("the line was edited or damaged; restore it from a backup or delete the line and everything after it, then `evomerge resume %s`", filepath.Dir(name))
}

// lineChecker checks the complete lines of one journal in order.
type lineChecker struct {
	name   string
	summed bool // a record with a checksum was seen
}

// check decodes the line numbered line (without its newline) and verifies
// it: JSON, fields, checksum, and that no record lacks a checksum after one
// had it (a journal that has checksums has them on every later line, so a
// missing one means the sum field was removed).
func (c *lineChecker) check(line int, body []byte) (Record, error) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Errorf("%s:%d: corrupt journal record: %v (the run directory is damaged; remove the line only if you accept re-evaluating it)", c.name, line, err)
	}
	if dec.More() {
		return rec, fmt.Errorf("%s:%d: corrupt journal record: trailing data after the JSON object", c.name, line)
	}
	if err := rec.validate(); err != nil {
		return rec, fmt.Errorf("%s:%d: invalid journal record: %v", c.name, line, err)
	}
	switch {
	case rec.Sum != "":
		c.summed = true
		if err := checkLineSum(body, rec.ID, rec.Sum); err != nil {
			return rec, fmt.Errorf("%s:%d: %v: %s", c.name, line, err, fixJournalLine(c.name))
		}
	case c.summed:
		return rec, fmt.Errorf("%s:%d: record %s has no checksum though the records before it have one: %s", c.name, line, ShortID(rec.ID), fixJournalLine(c.name))
	}
	return rec, nil
}

// ParseJournal reads journal records, one JSON object per line. A final line
// without a newline is a record whose write was cut short (kill -9, power
// loss): it is ignored and reported as Torn. Any other line that is not a
// valid record, or whose checksum does not match, is an error naming the
// file and the line.
func ParseJournal(name string, r io.Reader) (JournalContents, error) {
	var out JournalContents
	c := lineChecker{name: name}
	valid, torn, err := scanJournal(name, r, func(line int, body []byte) error {
		rec, err := c.check(line, body)
		if err != nil {
			return err
		}
		if rec.Sum == "" {
			out.Unsummed++
		}
		out.Records = append(out.Records, rec)
		out.Lines = append(out.Lines, line)
		return nil
	})
	out.Valid, out.Torn = valid, torn
	return out, err
}

// scanJournal calls record with every complete, non-blank line of r (its
// 1-based number and its text without surrounding space) until record
// returns an error. It returns the length of the complete lines and whether
// the data ended inside a line (a torn write, which is not passed on).
func scanJournal(name string, r io.Reader, record func(line int, body []byte) error) (valid int64, torn bool, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	line := 0
	for {
		text, err := br.ReadBytes('\n')
		if len(text) > 0 && text[len(text)-1] != '\n' && errors.Is(err, io.EOF) {
			// EOF inside a line: a torn write.
			return valid, true, nil
		}
		if len(text) > 0 && err == nil {
			line++
			if body := bytes.TrimSpace(text); len(body) > 0 {
				if rerr := record(line, body); rerr != nil {
					return valid, false, rerr
				}
			}
			valid += int64(len(text))
		}
		if errors.Is(err, io.EOF) {
			return valid, false, nil
		}
		if err != nil {
			return valid, false, fmt.Errorf("%s: read: %w", name, err)
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
// one line written with a single write and fsynced before it returns; the
// file is opened with O_APPEND, so every line lands at the end of the file
// whatever else wrote to it. It is also the evaluation store that answers
// replayed candidates on resume. Journal is safe for concurrent use.
//
// The first failed write (a full disk) ends the journal: it is remembered,
// the partial line is taken back when possible, and every later Append
// returns that error, so nothing is written after a gap.
type Journal struct {
	path  string
	mu    sync.Mutex
	f     *os.File
	byID  map[string]int
	recs  []Record
	lines []int // line number of each record
	next  int   // line number of the next record
	err   error // the first failed write
	// onFail, when set, learns the first failed write as it happens.
	onFail func(error)
	// Dropped is the number of bytes of a torn last line that OpenJournal
	// truncated away.
	Dropped int64
}

// OpenJournal opens (creating if needed) the journal at path for appending,
// after reading the records it holds. A torn last line is truncated away.
func OpenJournal(path string) (*Journal, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
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
	j := &Journal{path: path, f: f, byID: make(map[string]int, len(contents.Records)), recs: contents.Records, lines: contents.Lines, next: 1}
	if n := len(contents.Lines); n > 0 {
		j.next = contents.Lines[n-1] + 1
	}
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

// CheckScores cross-checks every record's scores against its per-example
// correctness (Record.CheckScores) for the run's objectives; the error
// names the file and line of the first record that disagrees.
func (j *Journal) CheckScores(objs []fitness.Objective) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.recs {
		if err := j.recs[i].CheckScores(objs); err != nil {
			return fmt.Errorf("%s:%d: %v: %s", j.path, j.lines[i], err, fixJournalLine(j.path))
		}
	}
	return nil
}

// Err is the journal's first failed write, nil while every write worked.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Append writes one record, with its checksum (Record.Sum, computed here),
// as a line and fsyncs the file. After a failed write it writes nothing
// and returns the first failure.
func (j *Journal) Append(r Record) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("journal: refusing to write an invalid record: %w", err)
	}
	sum, err := r.Checksum()
	if err != nil {
		return err
	}
	r.Sum = sum
	line, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("journal: encode candidate %s: %w", ShortID(r.ID), err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.f == nil {
		return errors.New("journal: append after close")
	}
	if err := j.write(line); err != nil {
		j.err = err
		if j.onFail != nil {
			j.onFail(err)
		}
		return err
	}
	if _, dup := j.byID[r.ID]; !dup {
		j.byID[r.ID] = len(j.recs)
	}
	j.recs = append(j.recs, r)
	j.lines = append(j.lines, j.next)
	j.next++
	return nil
}

// write appends line and fsyncs; a line written in part is truncated away
// (best effort) so that the file still ends with a complete record.
func (j *Journal) write(line []byte) error {
	st, err := j.f.Stat()
	if err != nil {
		return writeError(j.path, err)
	}
	if err := checkWriteFault(j.path); err != nil {
		return err
	}
	if _, err := j.f.Write(line); err != nil {
		j.f.Truncate(st.Size())
		return writeError(j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return writeError(j.path, err)
	}
	return nil
}

// OnFail makes f learn the journal's first failed write as it happens
// (before Append returns it); a session stops at that failure.
func (j *Journal) OnFail(f func(error)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.onFail = f
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

// EvalClock is the clock of search budgets: evaluation time, accumulated
// from journal records (replayed or new), so a replay reaches every budget
// at the same candidate the original run did. Status sums a journal the
// same way (its evaluation seconds).
type EvalClock struct {
	spent time.Duration
	seen  map[[2]int64]bool
}

// NewEvalClock is a clock at zero.
func NewEvalClock() *EvalClock { return &EvalClock{seen: map[[2]int64]bool{}} }

// Now is the evaluation time so far as a time after the Unix epoch.
func (c *EvalClock) Now() time.Time { return time.Unix(0, 0).Add(c.spent) }

// Spent is the evaluation time so far.
func (c *EvalClock) Spent() time.Duration { return c.spent }

// Add counts the chunk a record belongs to once (records of one chunk share
// their start and finish times).
func (c *EvalClock) Add(r *Record) {
	key := [2]int64{r.Started.UnixNano(), r.Finished.UnixNano()}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.spent += r.Finished.Sub(r.Started)
}
