package lab

// What the paper claims of M2N2 and MAP (m2n2-scratch, m2n2-specialists,
// map) share. Each runs its experiment over several seeds at equal
// evaluation budgets, prints a markdown section and, with ResultsFile,
// writes it into the M2N2/MAP part of that file.

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/tasks"
)

// M2N2MAPBegin and M2N2MAPEnd delimit the M2N2/MAP section of a results
// file; each claim's block inside it has markers of its own.
const (
	M2N2MAPBegin = "<!-- m2n2-map:start -->"
	M2N2MAPEnd   = "<!-- m2n2-map:end -->"
)

// checkM2N2MAP checks the options the M2N2 and MAP claims share.
func checkM2N2MAP(o ClaimOptions) error {
	if o.Evaluations < 10 || o.Seeds < 1 || o.FitnessExamples < 1 || o.TestExamples < 0 {
		return fmt.Errorf("Evaluations %d (at least 10), Seeds %d (at least 1), FitnessExamples %d (at least 1) and TestExamples %d (>= 0)", o.Evaluations, o.Seeds, o.FitnessExamples, o.TestExamples)
	}
	return nil
}

func checkM2N2Specialists(o ClaimOptions) error {
	if o.Sweep < 2 {
		return fmt.Errorf("Sweep %d: give at least 2 ratios", o.Sweep)
	}
	return checkM2N2MAP(o)
}

func checkMAP(o ClaimOptions) error {
	if o.Grid2 < 3 || o.Grid3 < 3 {
		return fmt.Errorf("Grid2 %d and Grid3 %d: give at least 3", o.Grid2, o.Grid3)
	}
	return checkM2N2MAP(o)
}

// mmMeanSD formats the mean ± sample standard deviation of xs.
func mmMeanSD(xs []float64, format string) string {
	if len(xs) == 0 {
		return "n/a"
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) == 1 {
		return fmt.Sprintf(format, m)
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return fmt.Sprintf(format+" ± "+format, m, math.Sqrt(v/float64(len(xs)-1)))
}

// mmWriteResults replaces (or appends) the block named key inside the M2N2/MAP
// section of path, appending the section when it is missing, and writes the
// file atomically.
func mmWriteResults(path, key, body string) error {
	return editResults(path, func(text string) (string, error) {
		section, _, err := markedContent(text, M2N2MAPBegin, M2N2MAPEnd)
		if err != nil {
			return "", err
		}
		section, err = setMarked(section, "<!-- "+key+":start -->", "<!-- "+key+":end -->", "", strings.TrimSpace(body))
		if err != nil {
			return "", err
		}
		return setMarked(text, M2N2MAPBegin, M2N2MAPEnd, "## M2N2 and MAP: paper claims", section)
	})
}

// mmFinishClaim prints a claim's table and, with ResultsFile, writes it
// into the file's M2N2/MAP section.
func mmFinishClaim(o ClaimOptions, key, body string) error {
	fmt.Fprintln(o.Output, body)
	if o.ResultsFile == "" {
		return nil
	}
	return mmWriteResults(o.ResultsFile, key, body)
}

// mmTestAccuracy scores m on d (digits head).
func mmTestAccuracy(m model.Network, d *data.Dataset, head string) (float64, error) {
	res, err := tasks.ScoreDataset(context.Background(), m, d, head, tasks.ScoreOptions{Batch: 1000})
	if err != nil {
		return 0, err
	}
	return res.Accuracy, nil
}
