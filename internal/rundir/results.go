package rundir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evomerge/evomerge/search/adamerging"
	"github.com/evomerge/evomerge/search/fw"
)

// Files of the gradient-based methods in a run directory: the result of
// their optimisation, written once it has finished (a run resumes from the
// method state in state.json; only a run directory of an older version,
// which has no saved state, is restored from these files).
const (
	AdaMergingFile = "adamerging.json"
	FWFile         = "fw.json"
)

// AdaMergingRecord is adamerging.json: what AdaMerging learned, with its
// trajectory, and the note that it read unlabelled test inputs.
type AdaMergingRecord struct {
	V int `json:"v"`
	// Inputs is the split whose unlabelled inputs were adapted on.
	Inputs string `json:"inputs"`
	Note   string `json:"note,omitempty"`
	adamerging.Result
}

// FWRecord is fw.json: the Frank-Wolfe iterations, the pool they chose
// from, and the merged model as per-tensor task-arithmetic coefficients of
// the pool (the genome the run journals and scores).
type FWRecord struct {
	V    int      `json:"v"`
	Pool []string `json:"pool"`
	Note string   `json:"note,omitempty"`
	// Coefficients is the genome: the weights in the run's dimension order.
	Coefficients []float64 `json:"coefficients"`
	// Deviation is the largest |θ(genome) − θt| over every merged weight,
	// relative to max(1, |θt|): how exactly the genome reproduces the
	// merged model FW-Merging ended with (float32 rounding only).
	Deviation float64 `json:"genome_deviation"`
	fw.Result
}

// ReadAdaMerging reads an adamerging.json.
func ReadAdaMerging(path string) (*AdaMergingRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec AdaMergingRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %v (remove the file to learn the coefficients again)", path, err)
	}
	if len(rec.Coefficients) == 0 || len(rec.Names) != len(rec.Coefficients) {
		return nil, fmt.Errorf("%s: no named coefficients (remove the file to learn them again)", path)
	}
	return &rec, nil
}

// WriteAdaMerging writes adamerging.json (indented JSON) atomically.
func WriteAdaMerging(dir string, rec *AdaMergingRecord) error {
	return writeJSON(filepath.Join(dir, AdaMergingFile), rec)
}

// ReadFW reads an fw.json.
func ReadFW(path string) (*FWRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec FWRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %v (remove the file to run FW-Merging again)", path, err)
	}
	return &rec, nil
}

// WriteFW writes fw.json (indented JSON) atomically.
func WriteFW(dir string, rec *FWRecord) error {
	return writeJSON(filepath.Join(dir, FWFile), rec)
}
