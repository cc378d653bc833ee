package run

import (
	"fmt"
	"slices"
	"strings"

	"github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/operators"
)

// Operators that read per-model statistics (fisher, regmean) need an
// evaluator that computes them on each expert's own task data (an
// evaluate.StatisticsComputer: the native kind), and a task for every
// expert of the pool.

// statisticsKindProblem refuses, before anything is prepared, a run whose
// operator reads statistics with an evaluator kind that cannot compute
// them.
func statisticsKindProblem(exp *configs.Experiment) error {
	op, err := operators.Builtin().Get(exp.Merge.Operator)
	if err != nil || !evaluate.NeedsStatistics(op) {
		return nil // an unknown operator is reported where the pool is known
	}
	s, err := registry.EvaluatorSettings(exp)
	if err != nil {
		return nil // reported when the evaluator is built
	}
	if _, ok := s.(evaluate.StatisticsComputer); ok {
		return nil
	}
	return configs.Problems{exp.Problem("evaluator.kind", fmt.Sprintf(
		"merge.operator = %q reads each expert's %s, computed on the expert's own task data before the search, which the %s evaluator cannot compute: use kind = %q, or a data-free operator",
		op.Name(), evaluate.StatisticsWhat(op), exp.Evaluator.Kind, statisticsKind()))}
}

// statisticsKind names the first evaluator kind that computes statistics.
func statisticsKind() string {
	for _, e := range registry.Evaluators() {
		if _, ok := e.NewSettings().(evaluate.StatisticsComputer); ok {
			return e.Name
		}
	}
	return evaluate.NativeKind
}

// poolTask is the task of one pool model and where the experiment says it.
type poolTask struct {
	// task is the model's task ("" when unknown).
	task string
	// expert is the model's index in models.experts, -1 for a member of the
	// benchmark's own pool; member names it then.
	expert int
	member string
}

// benchmarkPoolTasks are the tasks of the benchmark's own pool members, in
// pool order (each expert is named after its task).
func (c *components) benchmarkPoolTasks() []poolTask {
	var out []poolTask
	for _, bm := range c.bench.Pool() {
		out = append(out, poolTask{task: bm.Task, expert: -1, member: bm.Name})
	}
	return out
}

// expertTasks are the tasks of models.experts, in order.
func expertTasks(exp *configs.Experiment) []poolTask {
	var out []poolTask
	for i, x := range exp.Models.Experts {
		out = append(out, poolTask{task: x.Task, expert: i})
	}
	return out
}

// statisticsTasks checks that every model of the pool has a task of the
// run, for an operator that reads statistics computed on it, and returns
// them in model order; problems name models.experts[i].task.
func (c *components) statisticsTasks(op operators.Operator, models []poolTask, taskNames []string) ([]string, error) {
	var ps configs.Problems
	why := fmt.Sprintf("merge.operator = %q computes each expert's %s on the fitness data of the task it was fine-tuned for, once before the search", op.Name(), evaluate.StatisticsWhat(op))
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.task
		known := slices.Contains(taskNames, m.task)
		switch {
		case m.expert >= 0 && m.task == "":
			ps = append(ps, c.exp.Problem(fmt.Sprintf("models.experts[%d].task", m.expert),
				fmt.Sprintf("missing: %s; name the task this expert was fine-tuned for (one of %s)", why, strings.Join(taskNames, ", "))))
		case m.expert >= 0 && !known:
			ps = append(ps, c.exp.Problem(fmt.Sprintf("models.experts[%d].task", m.expert),
				fmt.Sprintf("unknown task %q: %s; use one of %s", m.task, why, strings.Join(taskNames, ", "))))
		case m.expert < 0 && (m.task == "" || !known):
			ps = append(ps, c.exp.Problem("models.benchmark",
				fmt.Sprintf("benchmark %s's member %s is not an expert of one of its tasks, and %s: use another operator", c.bench.Name, m.member, why)))
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return out, nil
}
