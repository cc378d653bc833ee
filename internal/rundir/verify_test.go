package rundir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyRun copies the files of a finished run into a new directory.
func copyRun(t *testing.T, from string, names ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editJSON rewrites the JSON file path through v.
func editJSON[T any](t *testing.T, path string, edit func(*T)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	edit(&v)
	if b, err = json.Marshal(&v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editJournal rewrites the journal line by line (0-based index); drop
// removes every checksum first (an older journal).
func editJournal(t *testing.T, path string, legacy bool, edit func(i int, r *Record)) {
	t.Helper()
	j, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i, r := range j.Records {
		if legacy {
			r.Sum = ""
		}
		if edit != nil {
			edit(i, &r)
		}
		line, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureRun is a run directory an earlier version wrote: a finished MAP
// run on the smoke benchmark (33 journal records with checksums and
// per-example results, state.json, front.json). Tests copy what they edit.
var fixtureRun = filepath.Join("testdata", "report-v1", "map")

// Run directories written by earlier versions (one real run of each of
// M2N2, MAP, AdaMerging and FW-Merging) verify without a problem and
// report their status.
func TestEarlierRunDirectoriesVerify(t *testing.T) {
	for _, name := range []string{"m2n2", "map", "adamerging", "fw"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "report-v1", name)
			v, err := Verify(dir)
			if err != nil || !v.OK() {
				t.Fatalf("verify: %v %q", err, v.Problems)
			}
			if len(v.Checked) != 4 {
				t.Errorf("checked %q, want config, journal, state and front", v.Checked)
			}
			st, err := Status(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != StateFinished || st.Journaled == 0 || st.FrontSize == 0 || st.Chosen == "" {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	refDir := fixtureRun
	refFront, err := ReadFront(refDir)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{ConfigFile, JournalFile, StateFile, FrontFile}
	refJournal, err := ReadJournal(filepath.Join(refDir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	member := refFront.Members[0].ID
	memberLine := 0
	for i, r := range refJournal.Records {
		if r.ID == member {
			memberLine = i + 1
			break
		}
	}
	bump := func(i int, r *Record) {
		if i == 2 {
			r.Scores[0] += 0.125
		}
	}
	tests := []struct {
		name  string
		files []string
		edit  func(t *testing.T, dir string)
		// problems are substrings of the problems, one each, in order.
		problems []string
		checked  string // a substring of the checked lines
	}{
		{"intact run", all, nil, nil,
			fmt.Sprintf("%d records (%d bytes of complete lines); %d checksums verified; the scores of %d records cross-checked", len(refJournal.Records), refJournal.Valid, len(refJournal.Records), len(refJournal.Records))},
		{"edited score", all, func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, JournalFile))
			lines := bytes.SplitAfter(data, []byte("\n"))
			var r Record
			json.Unmarshal(lines[2], &r)
			score, _ := json.Marshal(r.Scores[0])
			lines[2] = bytes.Replace(lines[2], []byte(`"scores":[`+string(score)), []byte(`"scores":[0.999`), 1)
			os.WriteFile(filepath.Join(dir, JournalFile), bytes.Join(lines, nil), 0o644)
		}, []string{JournalFile + ":3: record " + ShortID(refJournal.Records[2].ID) + " fails its checksum"}, ""},
		{"edited score in a journal without checksums", all, func(t *testing.T, dir string) {
			editJournal(t, filepath.Join(dir, JournalFile), true, bump)
		}, []string{JournalFile + ":3: record " + ShortID(refJournal.Records[2].ID) + ": score "}, fmt.Sprintf("0 checksums verified, %d records without a checksum (written before journals had them)", len(refJournal.Records))},
		{"every bad line is listed", all, func(t *testing.T, dir string) {
			editJournal(t, filepath.Join(dir, JournalFile), true, func(i int, r *Record) {
				if i == 2 || i == 5 {
					r.Scores[0] += 0.125
				}
			})
		}, []string{JournalFile + ":3: record ", JournalFile + ":6: record "}, ""},
		{"front member not journaled", all, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, FrontFile), func(f *Front) { f.Members[0].ID = strings.Repeat("e", 64) })
		}, []string{FrontFile + ": member eeeeeeeeeeee is not in the journal"}, ""},
		{"front member with other scores", all, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, FrontFile), func(f *Front) { f.Members[0].Validation[0] += 0.125 })
		}, []string{fmt.Sprintf("has fitness scores %v, its journal record (line %d) ok %v", func() []float64 {
			v := slices.Clone(refFront.Members[0].Validation)
			v[0] += 0.125
			return v
		}(), memberLine, refFront.Members[0].Validation)}, ""},
		{"state.json best score edited", all, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, StateFile), func(s *State) { v := 1.5; s.Best[1] = &v })
		}, []string{StateFile + ": best score 1.5 of objective "}, ""},
		{"state.json missing", []string{ConfigFile, JournalFile, FrontFile}, nil,
			[]string{StateFile + " is missing though the journal holds evaluations: `evomerge resume "}, "cross-checked"},
		{"state.json damaged", all, func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"v":1,`), 0o644)
		}, []string{StateFile + ": unexpected end of JSON input"}, ""},
		{"front.json missing from a finished run", []string{ConfigFile, JournalFile, StateFile}, nil,
			[]string{FrontFile + " is missing though state.json says the run finished"}, ""},
		{"torn last line", all, func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, JournalFile), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(`{"v":1,"id":"ab`)
			f.Close()
		}, nil, "the last line is incomplete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyRun(t, refDir, tt.files...)
			if tt.edit != nil {
				tt.edit(t, dir)
			}
			v, err := Verify(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("checked:\n%s\nproblems:\n%s", strings.Join(v.Checked, "\n"), strings.Join(v.Problems, "\n"))
			if len(v.Problems) != len(tt.problems) {
				t.Fatalf("problems:\n%s\nwant %d: %q", strings.Join(v.Problems, "\n"), len(tt.problems), tt.problems)
			}
			for i, want := range tt.problems {
				if !strings.Contains(v.Problems[i], want) {
					t.Errorf("problem %d\n%s\nlacks %q", i, v.Problems[i], want)
				}
			}
			if checked := strings.Join(v.Checked, "\n"); !strings.Contains(checked, tt.checked) {
				t.Errorf("checked:\n%s\nlacks %q", checked, tt.checked)
			}
		})
	}
	if _, err := Verify(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is not a run directory") {
		t.Errorf("Verify of an empty directory: %v", err)
	}
}
