package lab

// The MAP claim: surrogate fronts on 2 and 3 tasks of mnist-tasks against
// the brute-force grid, random search and NSGA-II at equal budgets.

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/operators"
	"github.com/evomerge/evomerge/operators/searchspace"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/mapmerge"
	"github.com/evomerge/evomerge/search/nsga2"
	"github.com/evomerge/evomerge/search/random"
)

// mmMapProblem is task arithmetic over a subset of mnist-tasks' experts with
// one weight per expert in [0, 1] (λ = 1), scored by accuracy per task.
type mmMapProblem struct {
	tasks []string
	ev    *evaluate.Native
	space *population.Space
	dirs  []fitness.Direction
}

func mmNewMAPProblem(b *benchmarks.Benchmark, names []string, fitExamples int) (*mmMapProblem, error) {
	base, ok := b.Base()
	if !ok {
		return nil, fmt.Errorf("benchmark %s has no base model", b.Name)
	}
	files := evaluate.PoolFiles{Base: base.Path, Benchmark: b.Name, BenchmarkVersion: b.Version}
	for _, t := range names {
		exp, ok := b.Expert(t)
		if !ok {
			return nil, fmt.Errorf("benchmark %s has no expert for task %q", b.Name, t)
		}
		files.Models = append(files.Models, exp.Path)
		files.Names = append(files.Names, t)
	}
	pool, err := evaluate.LoadPool(files)
	if err != nil {
		return nil, err
	}
	op := operators.TaskArithmetic()
	lo, hi := 0.0, 1.0
	space, mapping, err := searchspace.Derive(op.Params(), searchspace.Spec{
		Operator: op.Name(), Models: names,
		Targets: []searchspace.Target{{Param: "weight", PerModel: true, Lower: &lo, Upper: &hi}},
		Fixed:   operators.Settings{Default: operators.Values{Global: map[string]operators.Value{"lambda": operators.F(1)}}},
	})
	if err != nil {
		return nil, err
	}
	evTasks, err := b.LoadTasks(context.Background(), benchmarks.TaskOptions{Names: names})
	if err != nil {
		return nil, err
	}
	for i := range evTasks {
		if fit := evTasks[i].Fitness(); fitExamples < fit.Len() {
			evTasks[i] = evTasks[i].WithData(evTasks[i].FitnessSplit, fit.Head(fitExamples))
		}
	}
	var objs []fitness.Objective
	var dirs []fitness.Direction
	for _, t := range names {
		objs = append(objs, fitness.Objective{Name: t + "/accuracy", Task: t, Metric: tasks.MetricAccuracy, Direction: fitness.Maximize})
		dirs = append(dirs, fitness.Maximize)
	}
	ev, err := evaluate.NewNative(evaluate.NativeConfig{Merge: evaluate.MergeConfig{Pool: pool, Operator: op, Mapping: mapping, Seed: 1},
		Tasks: evTasks, Objectives: objs, Workers: 1})
	if err != nil {
		return nil, err
	}
	return &mmMapProblem{tasks: names, ev: ev, space: space, dirs: dirs}, nil
}

// run drives a method and returns every successful candidate's scores.
func (p *mmMapProblem) run(ctx context.Context, m search.Method, evals int, seed uint64) (*search.Result, error) {
	res, err := search.Run(ctx, m, p.ev, search.Problem{Space: p.space, Directions: p.dirs, Seed: seed},
		search.Settings{MaxEvaluations: evals, EvalSpec: p.ev.EvalSpec(), Version: p.ev.Version()})
	if err != nil {
		return nil, err
	}
	if res.Status == search.StatusFailure || res.Status == search.StatusCancelled {
		return nil, res.Err
	}
	return res, nil
}

// grid evaluates the dense coefficient grid: the brute-force reference.
func (p *mmMapProblem) grid(ctx context.Context, g int) (xs, ys [][]float64, err error) {
	n := p.space.Len()
	idx := make([]int, n)
	var batch []*population.Candidate
	for {
		c := make([]float64, n)
		for i := range c {
			c[i] = float64(idx[i]) / float64(g-1)
		}
		gen := population.VectorGenome(c)
		id, err := population.ID(gen, p.ev.EvalSpec(), p.ev.Version())
		if err != nil {
			return nil, nil, err
		}
		batch = append(batch, &population.Candidate{ID: id, Genome: gen})
		i := 0
		for ; i < n; i++ {
			idx[i]++
			if idx[i] < g {
				break
			}
			idx[i] = 0
		}
		if i == n {
			break
		}
	}
	if err := p.ev.Evaluate(ctx, batch); err != nil {
		return nil, nil, err
	}
	for _, c := range batch {
		if !c.OK() {
			return nil, nil, fmt.Errorf("grid point %v: %s", c.Genome.Values, c.Error)
		}
		xs = append(xs, c.Genome.Values)
		ys = append(ys, c.Scores)
	}
	return xs, ys, nil
}

// mmFrontOf returns the non-dominated points of a set of score vectors.
func mmFrontOf(points [][]float64, dirs []fitness.Direction) [][]float64 {
	var out [][]float64
	for _, k := range fitness.ParetoFront(points, dirs) {
		out = append(out, points[k])
	}
	return out
}

// mmMapStats are one run's mmIndicators.
type mmMapStats struct {
	igd, hv float64
}

func mmIndicators(points, ref [][]float64, refPoint []float64, dirs []fitness.Direction) (mmMapStats, error) {
	if len(points) == 0 {
		return mmMapStats{igd: math.NaN(), hv: 0}, nil
	}
	front := mmFrontOf(points, dirs)
	igd, err := fitness.IGD(front, ref, dirs)
	if err != nil {
		return mmMapStats{}, err
	}
	hv, err := fitness.Hypervolume(front, refPoint, dirs)
	if err != nil {
		return mmMapStats{}, err
	}
	return mmMapStats{igd, hv}, nil
}

// runClaimMAP: MAP on 2 and 3 tasks of mnist-tasks with (N+1)(N+2) design
// evaluations: surrogate R², IGD and hypervolume of its predicted and
// re-evaluated fronts against the brute-force grid front, against random
// search and NSGA-II with the same number of true evaluations.
func runClaimMAP(ctx context.Context, o ClaimOptions) error {
	// Evaluations is unused by MAP (its budget is (N+1)(N+2) plus
	// re-evaluations).
	stderr, grid2, grid3 := o.Log, o.Grid2, o.Grid3
	start := time.Now()
	b, err := prepare(ctx, benchmarks.MNISTTasksName, o.CacheDir, o.MNISTDir, o.Smoke, stderr)
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("### MAP on mnist-tasks (task arithmetic, one weight per expert in [0, 1], λ = 1)\n\n")
	fmt.Fprintf(&sb, "Command: `%s`.\n\n", o.Command)
	fmt.Fprintf(&sb, "Fitness: validation accuracy per task on the first %d images of each task; %d seeds. "+
		"MAP: (N+1)(N+2) design points (N one-hots + Latin hypercube), sigmoid quadratic surrogates, dense-grid front "+
		"in the sampled box, 1 equal-preference point + 8 points spread along the front re-evaluated. "+
		"Random search (Latin hypercube) and NSGA-II get MAP's total number of true evaluations. "+
		"IGD (lower is better) and hypervolume (higher is better) against the front of the brute-force grid; "+
		"the hypervolume reference point is the grid's nadir moved out by 10%% of each range. "+
		"Grid R² is the surrogate against every grid point (held out: none of them was used to fit it).\n\n",
		o.FitnessExamples, o.Seeds)
	for _, setting := range []struct {
		tasks []string
		g     int
	}{{[]string{"rotated", "permuted"}, grid2}, {[]string{"digits", "rotated", "permuted"}, grid3}} {
		p, err := mmNewMAPProblem(b, setting.tasks, o.FitnessExamples)
		if err != nil {
			return err
		}
		n := len(setting.tasks)
		gx, gy, err := p.grid(ctx, setting.g)
		if err != nil {
			return err
		}
		ref := mmFrontOf(gy, p.dirs)
		refPoint, err := fitness.ReferencePoint(gy, p.dirs, 0.1)
		if err != nil {
			return err
		}
		gridHV, err := fitness.Hypervolume(ref, refPoint, p.dirs)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "map: %d tasks: grid of %d points, %d on its front (%s)\n", n, len(gy), len(ref), time.Since(start).Round(time.Second))
		rows := map[string]map[string][]float64{}
		add := func(method, key string, v float64) {
			if rows[method] == nil {
				rows[method] = map[string][]float64{}
			}
			rows[method][key] = append(rows[method][key], v)
		}
		var r2cv, r2grid [][]float64 // per seed, per task
		total := 0
		for s := 1; s <= o.Seeds; s++ {
			seed := uint64(s)
			mm, err := mapmerge.New(mapmerge.Config{})
			if err != nil {
				return err
			}
			res, err := p.run(ctx, mm, 0, seed)
			if err != nil {
				return fmt.Errorf("MAP, %d tasks, seed %d: %w", n, s, err)
			}
			out := mm.Outcome()
			total = res.Evaluations
			var pred, real [][]float64
			for _, f := range out.Front {
				pred = append(pred, f.Predicted)
			}
			for _, f := range out.Chosen {
				if f.Real != nil {
					real = append(real, f.Real)
				}
			}
			var design [][]float64
			for _, d := range out.Design {
				design = append(design, d.Scores)
			}
			st, err := mmIndicators(pred, ref, refPoint, p.dirs)
			if err != nil {
				return err
			}
			add("MAP predicted front", "igd", st.igd)
			add("MAP predicted front", "hv", st.hv)
			st, err = mmIndicators(append(real, design...), ref, refPoint, p.dirs)
			if err != nil {
				return err
			}
			add("MAP re-evaluated (design + chosen)", "igd", st.igd)
			add("MAP re-evaluated (design + chosen)", "hv", st.hv)
			var cv, gr []float64
			for k := range setting.tasks {
				cv = append(cv, out.CrossValidated[k].R2)
				ys := make([]float64, len(gy))
				for i := range gy {
					ys[i] = gy[i][k]
				}
				gr = append(gr, out.Surrogates[k].Evaluate(gx, ys).R2)
			}
			r2cv, r2grid = append(r2cv, cv), append(r2grid, gr)
			// Baselines with the same number of true evaluations.
			rm, err := random.New(random.Options{BatchSize: total, Sampling: random.LHS})
			if err != nil {
				return err
			}
			rres, err := p.run(ctx, rm, total, seed)
			if err != nil {
				return err
			}
			nm, err := nsga2.New(nsga2.Options{PopulationSize: max(4, total/4/2*2)})
			if err != nil {
				return err
			}
			nres, err := p.run(ctx, nm, total, seed)
			if err != nil {
				return err
			}
			for _, base := range []struct {
				name string
				res  *search.Result
			}{{"random search (LHS)", rres}, {"NSGA-II", nres}} {
				var pts [][]float64
				for _, c := range base.res.Candidates {
					if c.OK() {
						pts = append(pts, c.Scores)
					}
				}
				st, err := mmIndicators(pts, ref, refPoint, p.dirs)
				if err != nil {
					return err
				}
				add(base.name, "igd", st.igd)
				add(base.name, "hv", st.hv)
			}
			fmt.Fprintf(stderr, "map: %d tasks, seed %d done (%s)\n", n, s, time.Since(start).Round(time.Second))
		}
		fmt.Fprintf(&sb, "#### %d tasks: %s\n\n", n, strings.Join(setting.tasks, ", "))
		fmt.Fprintf(&sb, "True evaluations per run: %d ((N+1)(N+2) = %d design + re-evaluated front points); brute-force grid: %d^%d = %d evaluations, hypervolume %.4f.\n\n",
			total, (n+1)*(n+2), setting.g, n, len(gy), gridHV)
		sb.WriteString("| task | surrogate R² (leave-one-out) | surrogate R² on the grid |\n|---|---:|---:|\n")
		for k, t := range setting.tasks {
			var a, g []float64
			for s := range r2cv {
				a, g = append(a, r2cv[s][k]), append(g, r2grid[s][k])
			}
			fmt.Fprintf(&sb, "| %s | %s | %s |\n", t, mmMeanSD(a, "%.3f"), mmMeanSD(g, "%.3f"))
		}
		sb.WriteString("\n| method | IGD to the grid front | hypervolume |\n|---|---:|---:|\n")
		for _, name := range []string{"MAP predicted front", "MAP re-evaluated (design + chosen)", "random search (LHS)", "NSGA-II"} {
			fmt.Fprintf(&sb, "| %s | %s | %s |\n", name, mmMeanSD(rows[name]["igd"], "%.4f"), mmMeanSD(rows[name]["hv"], "%.4f"))
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "Wall time: %s on this machine.\n", time.Since(start).Round(time.Second))
	return mmFinishClaim(o, "map", sb.String())
}
