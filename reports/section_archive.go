package reports

import (
	"fmt"

	"github.com/evomerge/evomerge/population"
)

// SectionArchive is the kind of ArchiveSection's section.
const SectionArchive = "m2n2_archive"

// ArchiveSnapshot is the M2N2 archive after some number of evaluations.
type ArchiveSnapshot struct {
	Evaluations int             `json:"evaluations"`
	Members     []ArchiveMember `json:"members"`
}

// ArchiveMember is one archive member and the fitness examples it solves.
type ArchiveMember struct {
	ID     string            `json:"id"`
	Solved population.Bitset `json:"solved"`
}

// maxExampleBins bounds the columns of the archive heatmap: examples are
// grouped into at most this many consecutive blocks.
const maxExampleBins = 60

// ArchiveSection shows M2N2 archive coverage and diversity over the
// snapshots (in evaluation order) and, for the latest snapshot, which
// members solve which examples. It needs at least one snapshot.
func ArchiveSection(snaps []ArchiveSnapshot) (Section, error) {
	sec := Section{Kind: SectionArchive, Title: "M2N2 archive", Note: "Coverage: fraction of fitness examples solved by at least one archive member. Diversity: mean pairwise Hamming distance between members' solved sets, as a fraction of the examples."}
	if len(snaps) == 0 {
		return sec, fmt.Errorf("reports: the M2N2 archive view has no snapshot")
	}
	x := make([]float64, len(snaps))
	cov := make([]float64, len(snaps))
	div := make([]float64, len(snaps))
	for k, s := range snaps {
		x[k] = float64(s.Evaluations)
		cov[k], div[k] = archiveStats(s)
	}
	sec.Charts = append(sec.Charts, &LineChart{ID: "m2n2_coverage", Title: "Archive coverage and diversity", XName: "evaluations", YName: "fraction of examples",
		Series: []LineSeries{{Name: "coverage", X: x, Y: cov, Color: colorFront}, {Name: "diversity", X: x, Y: div, Color: colorExpert}}})
	last := snaps[len(snaps)-1]
	n := 0
	for _, m := range last.Members {
		n = max(n, m.Solved.Len())
	}
	if len(last.Members) == 0 || n == 0 {
		return sec, nil
	}
	bins := min(n, maxExampleBins)
	cols := make([]string, bins)
	for c := range cols {
		lo, hi := c*n/bins, (c+1)*n/bins
		cols[c] = fmt.Sprintf("%d–%d", lo, hi-1)
	}
	rows := make([]string, len(last.Members))
	var cells []HeatCell
	for rIdx, m := range last.Members {
		rows[rIdx] = shortID(m.ID)
		for c := 0; c < bins; c++ {
			lo, hi := c*n/bins, (c+1)*n/bins
			solved := 0
			for e := lo; e < hi; e++ {
				if e < m.Solved.Len() && m.Solved.Get(e) {
					solved++
				}
			}
			cells = append(cells, HeatCell{X: c, Y: rIdx, Value: float64(solved) / float64(hi-lo)})
		}
	}
	sec.Charts = append(sec.Charts, &HeatmapChart{ID: "m2n2_solved", Title: fmt.Sprintf("Examples solved by each archive member after %d evaluations", last.Evaluations),
		Subtitle: fmt.Sprintf("%d examples in %d blocks; colour: fraction solved", n, bins), Cols: cols, Rows: rows, Cells: cells, Min: 0, Max: 1})
	return sec, nil
}
