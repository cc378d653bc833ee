package reports

import (
	"math"
	"testing"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

func okCandidate(id string, scores ...float64) Candidate {
	return Candidate{Candidate: population.Candidate{ID: id, Status: population.StatusOK, Scores: scores}}
}

func TestProgressHandComputed(t *testing.T) {
	// Two maximised objectives, fixed reference point (0, 0) given through
	// progress's ref argument.
	r := &Run{
		Objectives: []fitness.Objective{{Name: "a", Direction: fitness.Maximize}, {Name: "b", Direction: fitness.Maximize}},
		Candidates: []Candidate{
			okCandidate("c1", 1, 1), // HV 1
			{Candidate: population.Candidate{ID: "c2", Status: population.StatusFailed}}, // unchanged
			okCandidate("c3", 2, 0.5),   // adds (2-1)*0.5 = 0.5 -> 1.5
			okCandidate("c4", 0.5, 0.5), // dominated -> 1.5
			okCandidate("c5", 2, 2),     // dominates all -> 4
		},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range r.Candidates {
		r.Candidates[i].Started = t0.Add(time.Duration(i) * time.Second)
		r.Candidates[i].Finished = t0.Add(time.Duration(i+1) * time.Second)
	}
	got := progress(r, []float64{0, 0})
	want := []struct {
		hv, secs float64
		best     []float64
	}{
		{1, 1, []float64{1, 1}},
		{1, 2, []float64{1, 1}},
		{1.5, 3, []float64{2, 1}},
		{1.5, 4, []float64{2, 1}},
		{4, 5, []float64{2, 2}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if g.Evaluations != k+1 || math.Abs(g.Hypervolume-w.hv) > 1e-12 || g.Seconds != w.secs || g.Best[0] != w.best[0] || g.Best[1] != w.best[1] {
			t.Errorf("point %d = %+v, want evaluations %d hv %v seconds %v best %v", k, g, k+1, w.hv, w.secs, w.best)
		}
	}
}

func TestProgressMatchesHypervolumeOfPrefix(t *testing.T) {
	// Invariant: at every sampled point the incremental curve equals the
	// hypervolume of all scored candidates so far, for 2 and 3 objectives,
	// with more evaluations than maxProgressPoints (sampling).
	for _, m := range []int{2, 3} {
		r := sampleRun(m, maxProgressPoints*2+7)
		ok := scored(r)
		ref := hypervolumeRef(r, ok)
		dirs := fitness.Directions(r.Objectives)
		pts := progress(r, ref)
		if len(pts) > maxProgressPoints+1 || pts[len(pts)-1].Evaluations != len(r.Candidates) {
			t.Fatalf("m=%d: %d points ending at %d evaluations", m, len(pts), pts[len(pts)-1].Evaluations)
		}
		for _, p := range pts {
			var prefix [][]float64
			for _, i := range ok {
				if i < p.Evaluations {
					prefix = append(prefix, r.Candidates[i].Scores)
				}
			}
			want, err := fitness.Hypervolume(prefix, ref, dirs)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(p.Hypervolume-want) > 1e-12*max(1, want) {
				t.Fatalf("m=%d after %d evaluations: hypervolume %v, want %v", m, p.Evaluations, p.Hypervolume, want)
			}
		}
	}
}

func TestInsertNonDominated(t *testing.T) {
	dirs := []fitness.Direction{fitness.Minimize, fitness.Minimize}
	var front [][]float64
	steps := []struct {
		p       []float64
		changed bool
		size    int
	}{
		{[]float64{2, 2}, true, 1},
		{[]float64{2, 2}, false, 1}, // duplicate
		{[]float64{3, 3}, false, 1}, // dominated
		{[]float64{1, 3}, true, 2},
		{[]float64{3, 1}, true, 3},
		{[]float64{1, 1}, true, 1}, // dominates all
	}
	for k, s := range steps {
		if got := insertNonDominated(&front, s.p, dirs); got != s.changed || len(front) != s.size {
			t.Fatalf("step %d: changed %v size %d, want %v %d", k, got, len(front), s.changed, s.size)
		}
	}
}

func TestRSquared(t *testing.T) {
	cases := []struct {
		pred, meas []float64
		want       float64
	}{
		{[]float64{1, 2, 3}, []float64{1, 2, 4}, 1 - 1/(42.0/9)},
		{[]float64{1, 2, 3}, []float64{1, 2, 3}, 1},
		{[]float64{2, 2, 2}, []float64{1, 2, 3}, 0},
		{[]float64{3, 2, 1}, []float64{1, 2, 3}, 1 - 8.0/2},
		{[]float64{1}, []float64{1}, math.NaN()},
		{[]float64{1, 2}, []float64{5, 5}, math.NaN()},
	}
	for _, c := range cases {
		got := rSquared(c.pred, c.meas)
		if math.IsNaN(c.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-c.want) > 1e-12) {
			t.Errorf("rSquared(%v, %v) = %v, want %v", c.pred, c.meas, got, c.want)
		}
	}
}

func TestArchiveStats(t *testing.T) {
	bits := func(s string) population.Bitset {
		v := make([]bool, len(s))
		for i := range s {
			v[i] = s[i] == '1'
		}
		return population.BitsetOf(v)
	}
	cases := []struct {
		members        []string
		cover, diverse float64
	}{
		{[]string{"1100", "0110"}, 0.75, 0.5},
		{[]string{"1100", "0110", "0001"}, 1, (2.0 + 3 + 3) / 3 / 4},
		{[]string{"1010"}, 0.5, 0},
		{[]string{"0000", "0000"}, 0, 0},
	}
	for _, c := range cases {
		var s ArchiveSnapshot
		for _, m := range c.members {
			s.Members = append(s.Members, ArchiveMember{Solved: bits(m)})
		}
		cov, div := archiveStats(s)
		if math.Abs(cov-c.cover) > 1e-12 || math.Abs(div-c.diverse) > 1e-12 {
			t.Errorf("%v: coverage %v diversity %v, want %v %v", c.members, cov, div, c.cover, c.diverse)
		}
	}
	if cov, div := archiveStats(ArchiveSnapshot{}); !math.IsNaN(cov) || !math.IsNaN(div) {
		t.Errorf("empty archive: %v %v, want NaN NaN", cov, div)
	}
}

func TestFrontMembers(t *testing.T) {
	r := &Run{
		Objectives: []fitness.Objective{{Name: "a", Direction: fitness.Maximize}, {Name: "b", Direction: fitness.Minimize}},
		Candidates: []Candidate{okCandidate("x", 1, 1), okCandidate("y", 2, 2), okCandidate("z", 0.5, 1.5), okCandidate("w", 2, 1), okCandidate("w", 2, 1)},
	}
	got, computed := frontMembers(r, scored(r))
	if !computed || len(got) != 1 || got[0].ID != "w" || got[0].Test != nil || !math.IsNaN(got[0].NormalizedAccuracy) {
		t.Fatalf("computed front %+v (computed=%v), want only w with pending test scores", got, computed)
	}
	r.Front = []FrontMember{{ID: "y", Validation: []float64{2, 2}, Test: []float64{1.9, 2.1}}}
	got, computed = frontMembers(r, scored(r))
	if computed || len(got) != 1 || got[0].ID != "y" {
		t.Fatalf("stored front not used: %+v", got)
	}
}

func TestCoefficientGrid(t *testing.T) {
	dims := []string{
		searchspace.DimName("weight", "layers.0", "a"),
		searchspace.DimName("weight", "layers.0", "b[x]"),
		searchspace.DimName("density", "layers.0", ""),
		searchspace.DimName("weight", "layers.1", "a"),
		"t",
	}
	cols, rows, cell := coefficientGrid(dims)
	wantCols := []string{"a", "b[x]", "all models"}
	wantRows := []string{"layers.0/weight", "layers.0/density", "layers.1/weight", "t"}
	wantCell := [][2]int{{0, 0}, {1, 0}, {2, 1}, {0, 2}, {2, 3}}
	if !equalStrings(cols, wantCols) || !equalStrings(rows, wantRows) {
		t.Fatalf("cols %q rows %q, want %q %q", cols, rows, wantCols, wantRows)
	}
	for i := range cell {
		if cell[i] != wantCell[i] {
			t.Errorf("dim %q at %v, want %v", dims[i], cell[i], wantCell[i])
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestShellQuote(t *testing.T) {
	cases := map[string]string{
		"runs/demo":    "runs/demo",
		"runs/my run":  "'runs/my run'",
		"it's":         `'it'\''s'`,
		"":             "''",
		"a;rm -rf /":   "'a;rm -rf /'",
		"$(touch x)":   "'$(touch x)'",
		"abc123DEF-_.": "abc123DEF-_.",
	}
	for in, want := range cases {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestObjectivePairs(t *testing.T) {
	cases := []struct {
		m    int
		want [][2]int
	}{
		{2, [][2]int{{0, 1}}},
		{3, [][2]int{{0, 1}, {0, 2}, {1, 2}}},
		{5, [][2]int{{0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, 2}, {1, 3}, {1, 4}, {2, 3}, {2, 4}, {3, 4}}},
		{6, [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}},
	}
	for _, c := range cases {
		got := objectivePairs(c.m)
		if len(got) != len(c.want) {
			t.Fatalf("m=%d: %v, want %v", c.m, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("m=%d: %v, want %v", c.m, got, c.want)
			}
		}
	}
}
