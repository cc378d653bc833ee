package reports

// Views is the data of the built-in method sections as a run records it:
// its JSON form is what a run directory's views.json holds. It is not part
// of Run: the run package turns each part that is present into its
// section (ArchiveSection, SurrogateSection, TrajectorySection,
// FrankWolfeSection). A nil or empty field has no section. The JSON keys
// are the kinds of the sections.
type Views struct {
	// Archive holds M2N2 archive snapshots in evaluation order.
	Archive []ArchiveSnapshot `json:"m2n2_archive,omitempty"`
	// Surrogate holds MAP surrogate predictions next to measured scores.
	Surrogate []SurrogatePoint `json:"map_surrogate,omitempty"`
	// Trajectory holds AdaMerging steps in order.
	Trajectory []TrajectoryStep `json:"adamerging_trajectory,omitempty"`
	// FrankWolfe holds FW-Merging iterations in order.
	FrankWolfe []FWIteration `json:"fw_iterations,omitempty"`
}

// Empty reports whether no part of v is present.
func (v *Views) Empty() bool {
	return len(v.Archive) == 0 && len(v.Surrogate) == 0 && len(v.Trajectory) == 0 && len(v.FrankWolfe) == 0
}
