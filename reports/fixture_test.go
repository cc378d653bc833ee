package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
)

// Hostile names: every one must reach the page escaped.
const (
	evilRun    = `run</script><script>window.pwned=1</script>"'&`
	evilTask   = `task"</script><img src=x onerror="window.pwned=2">`
	evilModel  = `model<img src=x onerror=window.pwned=3>'`
	evilExpert = `expert</SCRIPT><!--<script>window.pwned=4//`
	evilError  = `out of memory <b onmouseover="window.pwned=5">`
)

// quasi returns the i-th element of a low-discrepancy sequence in [0, 1):
// deterministic, evenly spread synthetic data with no random generator.
func quasi(i int, k float64) float64 {
	_, f := math.Modf(float64(i+1) * k)
	return f
}

// sampleRun builds a deterministic synthetic run with m objectives (all
// maximised accuracies), n evaluations, a failure every 17th evaluation,
// experts, a plain average, 2 layer groups × 3 models of coefficients and
// every algorithm view.
func sampleRun(m, n int) *Run {
	objs := make([]fitness.Objective, m)
	for j := range objs {
		task := fmt.Sprintf("task%d", j)
		if j == 0 {
			task = evilTask
		}
		objs[j] = fitness.Objective{Name: task + "/accuracy", Task: task, Metric: "accuracy", Direction: fitness.Maximize}
	}
	models := []string{"mnist-rot", "mnist-flip", evilModel}
	var dims []string
	for _, g := range []string{"layers.0", "layers.1"} {
		for _, md := range models {
			dims = append(dims, searchspace.DimName("weight", g, md))
		}
	}
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	r := &Run{
		Name:         evilRun,
		Dir:          "runs/demo run",
		ConfigText:   "[search]\nmethod = \"nsga2\"\n# </script><script>window.pwned=6</script>\n",
		Seed:         42,
		Method:       "nsga2",
		Operator:     "task_arithmetic",
		Evaluator:    "native mnist-tasks",
		FitnessSplit: "validation",
		TestSplit:    "test",
		Objectives:   objs,
		Dims:         dims,
		Budget:       Budget{MaxEvaluations: 2 * n, Started: t0, Updated: t0.Add(time.Duration(n) * 1500 * time.Millisecond)},
	}
	for i := 0; i < n; i++ {
		g := make([]float64, len(dims))
		for d := range g {
			g[d] = quasi(i*len(dims)+d, 0.7548776662466927)
		}
		c := Candidate{
			Candidate: population.Candidate{
				ID:      fmt.Sprintf("%016x%048x", uint64(i+1)*0x9e3779b97f4a7c15, i),
				Genome:  population.VectorGenome(g),
				Lineage: population.Lineage{Generation: i / 10, Operator: "sbx"},
				Status:  population.StatusOK,
			},
			Started:  t0.Add(time.Duration(i) * 1500 * time.Millisecond),
			Finished: t0.Add(time.Duration(i+1) * 1500 * time.Millisecond),
		}
		if i%17 == 16 {
			c.Status = population.StatusFailed
			c.Error = evilError
		} else {
			// Trade-off: scores on a curved front with noise that shrinks
			// as the run goes on.
			// Points near the sphere sum(s_j²) = 1: weights on the
			// simplex, square-rooted.
			spread := 0.3 * (1 - float64(i)/float64(n))
			c.Scores = make([]float64, m)
			sum := 0.0
			for j := range c.Scores {
				c.Scores[j] = 0.05 + quasi(i*m+j, 0.6180339887498949)
				sum += c.Scores[j]
			}
			for j := range c.Scores {
				c.Scores[j] = 0.9*math.Sqrt(c.Scores[j]/sum) - spread*quasi(i+j, 0.5698402909980532)
			}
		}
		r.Candidates = append(r.Candidates, c)
	}
	for j := 0; j < m; j++ {
		s := make([]float64, m)
		for k := range s {
			s[k] = 0.3
		}
		s[j] = 0.98
		name := fmt.Sprintf("expert-%d", j)
		if j == 0 {
			name = evilExpert
		}
		// The first expert is scored on every task; the others on their
		// own task only (as front.json records experts on the fitness
		// split), drawn as lines rather than points.
		v := s
		if j > 0 {
			v = make([]float64, m)
			for k := range v {
				v[k] = math.NaN()
			}
			v[j] = 0.98
		}
		r.References = append(r.References, Reference{Name: name, Kind: ReferenceExpert, Validation: v, Test: s})
	}
	avg := make([]float64, m)
	for k := range avg {
		avg[k] = 0.55
	}
	r.References = append(r.References, Reference{Name: "plain average", Kind: ReferenceAverage, Validation: avg})
	if n >= 30 {
		r.Sections = sampleSections(r, sampleViews(r, m), "")
	}
	return r
}

// sampleSections builds the run's sections from views the way the run
// package does: one per part present, in the order of Views' fields.
// inputs names the split AdaMerging adapted on ("" unknown).
func sampleSections(r *Run, v Views, inputs string) []Section {
	var out []Section
	add := func(s Section, err error) {
		if err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	if len(v.Archive) > 0 {
		add(ArchiveSection(v.Archive))
	}
	if len(v.Surrogate) > 0 {
		add(SurrogateSection(r.Objectives, v.Surrogate))
	}
	if len(v.Trajectory) > 0 {
		add(TrajectorySection(v.Trajectory, r.Dims, inputs, r.Note))
	}
	if len(v.FrankWolfe) > 0 {
		add(FrankWolfeSection(v.FrankWolfe))
	}
	return out
}

func sampleViews(r *Run, m int) Views {
	var v Views
	for s := 1; s <= 5; s++ {
		snap := ArchiveSnapshot{Evaluations: 10 * s}
		for k := 0; k < 3+s%2; k++ {
			b := population.NewBitset(100)
			for e := 0; e < 100; e++ {
				b.Set(e, quasi(e*7+k*13+s, 0.6180339887498949) < 0.3+0.1*float64(s))
			}
			snap.Members = append(snap.Members, ArchiveMember{ID: r.Candidates[k].ID, Solved: b})
		}
		v.Archive = append(v.Archive, snap)
	}
	for i := 0; i < 30; i++ {
		c := &r.Candidates[i]
		if !c.OK() {
			continue
		}
		for j := 0; j < m; j++ {
			v.Surrogate = append(v.Surrogate, SurrogatePoint{ID: c.ID, Objective: j, Predicted: c.Scores[j] + 0.05*(quasi(i, 0.41)-0.5), Measured: c.Scores[j], HeldOut: i >= 24})
		}
	}
	for s := 0; s < 12; s++ {
		co := make([]float64, len(r.Dims))
		for d := range co {
			co[d] = 0.3 + 0.02*float64(s)*float64(d%3)
		}
		v.Trajectory = append(v.Trajectory, TrajectoryStep{Step: s, Loss: 1 / float64(s+1), Coefficients: co})
	}
	for it := 0; it < 6; it++ {
		v.FrankWolfe = append(v.FrankWolfe, FWIteration{Iteration: it, Selected: []string{"mnist-rot", evilModel, "mnist-rot", "mnist-flip"}[:1+it%4], StepSize: 2 / float64(it+2), Loss: 1 - 0.1*float64(it)})
	}
	return v
}
