package rundir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evomerge/evomerge/reports"
)

// ViewsFile holds the data of the report's method sections
// (reports.Views as JSON): M2N2 archive snapshots, MAP surrogate
// predictions against measured scores, AdaMerging's coefficient trajectory
// and FW-Merging's selections per iteration. Its format is fixed: the
// report of an existing run directory reads it as it was written
// (ReadViews, viewSections).
const ViewsFile = "views.json"

// ReadViews reads views.json of a run directory, the data of the report's
// method sections; a run without one has none. An unknown key is an error
// (a views.json from a newer evomerge, or a damaged one).
func ReadViews(dir string) (reports.Views, error) {
	path := filepath.Join(dir, ViewsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return reports.Views{}, nil
	}
	if err != nil {
		return reports.Views{}, err
	}
	var v reports.Views
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return reports.Views{}, fmt.Errorf("%s: %v (remove the file to render the report without algorithm views)", path, err)
	}
	return v, nil
}

// WriteViews writes views.json (indented JSON) atomically.
func WriteViews(dir string, v reports.Views) error {
	return writeJSON(filepath.Join(dir, ViewsFile), v)
}
