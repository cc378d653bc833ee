package registry_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	. "github.com/evomerge/evomerge/configs"
	"github.com/evomerge/evomerge/evaluate"
	natsev "github.com/evomerge/evomerge/evaluate/nats"
	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/internal/tasks"
	"github.com/evomerge/evomerge/search"
	"github.com/evomerge/evomerge/search/ga"
	"github.com/evomerge/evomerge/search/nsga2"
	"github.com/evomerge/evomerge/search/random"
)

var catalog = registry.Catalog()

// settingsOf returns the decoded settings of e's algorithm.
func settingsOf(t *testing.T, e *Experiment) search.MethodSettings {
	t.Helper()
	s, err := registry.Settings(e)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// evaluatorOf returns the decoded settings of e's evaluator kind.
func evaluatorOf(t *testing.T, e *Experiment) evaluate.Settings {
	t.Helper()
	s, err := registry.EvaluatorSettings(e)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := s.(*natsev.Settings); ok {
		// The settings' values, without the list of kinds the workers may
		// score with (factories, which never compare equal).
		return &natsev.Settings{Timeout: n.Timeout, Server: n.Server, Examples: n.Examples, Inner: n.Inner}
	}
	return s
}

// exampleExperiments lists every example experiment (all examples but the
// merge recipes).
func exampleExperiments(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("..", "..", "configs", "examples", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range all {
		if !strings.HasPrefix(filepath.Base(f), "merge-") {
			files = append(files, f)
		}
	}
	return files
}

func TestExperimentExamplesLoad(t *testing.T) {
	files := exampleExperiments(t)
	if len(files) < len(registry.AlgorithmNames()) {
		t.Fatalf("found %d example experiments, want one per algorithm", len(files))
	}
	algos := map[string]bool{}
	for _, f := range files {
		e, err := LoadExperiment(f, catalog)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		algos[e.Search.Algorithm] = true
		if e.Experiment.Name == "" || (len(e.Merge.Search) == 0) != settingsOf(t, e).Traits().DerivesSpace || len(e.Objectives) == 0 {
			t.Errorf("%s: incomplete after decoding: %+v", f, e)
		}
	}
	for _, a := range registry.AlgorithmNames() {
		if !algos[a] {
			t.Errorf("no example experiment uses algorithm %q", a)
		}
	}
}

func TestQuickstartDecodes(t *testing.T) {
	e, err := DecodeExperiment(QuickstartFile, Quickstart(), catalog)
	if err != nil {
		t.Fatal(err)
	}
	if e.Models.Benchmark != "mnist-tasks" || e.Models.Recipe != RecipeFull {
		t.Errorf("models = %+v, want mnist-tasks with the full recipe", e.Models)
	}
	n, ok := settingsOf(t, e).(*nsga2.Settings)
	if !ok || e.Search.Algorithm != nsga2.Name || n.PopulationSize != 32 || e.Search.MaxEvaluations != 480 {
		t.Fatalf("search = %+v", e.Search)
	}
	if !reflect.DeepEqual(n.StartPoints, []string{"average"}) {
		t.Errorf("start points = %v", n.StartPoints)
	}
	s := e.Merge.Search[0]
	if e.Merge.Operator != "task_arithmetic" || s.Param != "weight" || !s.PerModel || !s.PerGroup || *s.Lower != 0 || *s.Upper != 1 {
		t.Errorf("merge = %+v, search[0] = %+v", e.Merge, s)
	}
	want := []Objective{{Task: TaskMean, Metric: tasks.MetricNormalized, Direction: "maximize"}, {Task: TaskMean, Metric: tasks.MetricLoss, Direction: "minimize"}}
	if !reflect.DeepEqual(e.Objectives, want) {
		t.Errorf("objectives = %+v, want %+v", e.Objectives, want)
	}
	if e.RunDir() != filepath.Join("runs", "quickstart") {
		t.Errorf("run dir = %q", e.RunDir())
	}
	if !e.Report.WantTestScores() || !e.Report.WantHTML() || e.Report.Top != 10 {
		t.Errorf("report = %+v", e.Report)
	}
	if ev, ok := evaluatorOf(t, e).(*evaluate.NativeSettings); e.Evaluator.Kind != evaluate.NativeKind || !ok || ev.Examples != 0 {
		t.Errorf("evaluator = %s %+v, want native on every example", e.Evaluator.Kind, evaluatorOf(t, e))
	}
}

const minimalExperiment = `
[experiment]
name = "t"
seed = 4

[models]
benchmark = "mnist-tasks"

[merge]
operator = "task_arithmetic"

[[merge.search]]
param = "lambda"

[search]
algorithm = "random"
max_evaluations = 10
`

func TestExperimentDefaults(t *testing.T) {
	e, err := DecodeExperiment("x.toml", []byte(minimalExperiment), catalog)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"recipe", e.Models.Recipe, RecipeFull},
		{"evaluator", e.Evaluator.Kind, evaluate.NativeKind},
		{"evaluator settings", evaluatorOf(t, e), evaluate.Settings(&evaluate.NativeSettings{})},
		{"objectives", e.Objectives, []Objective{{Task: TaskAll, Metric: tasks.MetricAccuracy, Direction: "maximize"}}},
		{"run dir", e.RunDir(), filepath.Join("runs", "t")},
		{"seed", e.Experiment.Seed, uint64(4)},
		{"test scores", e.Report.WantTestScores(), true},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	cmd := strings.Replace(minimalExperiment, "[search]", "[evaluator]\nkind = \"command\"\ncommand = [\"score\"]\n\n[search]", 1)
	e, err = DecodeExperiment("x.toml", []byte(cmd), catalog)
	if err != nil {
		t.Fatal(err)
	}
	if c := evaluatorOf(t, e).(*evaluate.CommandSettings); c.Timeout != evaluate.DefaultCommandTimeout {
		t.Errorf("command timeout = %v, want %v", c.Timeout, evaluate.DefaultCommandTimeout)
	}
	loss := strings.Replace(minimalExperiment, "[search]", "[[objectives]]\ntask = \"digits\"\nmetric = \"loss\"\n\n[search]", 1)
	e, err = DecodeExperiment("x.toml", []byte(loss), catalog)
	if err != nil {
		t.Fatal(err)
	}
	if e.Objectives[0].Direction != "minimize" {
		t.Errorf("loss direction = %q, want minimize", e.Objectives[0].Direction)
	}
}

func TestExperimentMethodTable(t *testing.T) {
	src := minimalExperiment + `
[search.random]
batch_size = 8
sampling = "lhs"
`
	e, err := DecodeExperiment("x.toml", []byte(src), catalog)
	if err != nil {
		t.Fatal(err)
	}
	if r := settingsOf(t, e).(*random.Settings); *r != (random.Settings{BatchSize: 8, Sampling: "lhs"}) {
		t.Errorf("random settings = %+v", *r)
	}
}

// problemKeys decodes src and returns "key@line" of every problem.
func problemKeys(t *testing.T, src string) []string {
	t.Helper()
	_, err := DecodeExperiment("bad.toml", []byte(src), catalog)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T), want Problems", err, err)
	}
	var keys []string
	for _, p := range ps {
		if p.File != "bad.toml" {
			t.Errorf("problem %v does not name the file", p)
		}
		keys = append(keys, p.Key+"@"+itoa(p.Line))
	}
	return keys
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestExperimentProblemsAllAtOnce(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "schema: unknown key, wrong case, wrong type",
			src: `[experiment]
Name = "x"
seed = "one"
[models]
benchmrk = "mnist-tasks"
[search]
algorithm = "random"
max_evaluations = 1.5
`,
			want: []string{"experiment.Name@2", "experiment.seed@3", "models.benchmrk@5", "search.max_evaluations@8",
				"merge.operator@0", "merge.search@0", "evaluator.kind@0"},
		},
		{
			name: "ranges and missing values",
			src: `[experiment]
name = "bad name"
[models]
benchmark = "mnist-tasks"
recipe = "tiny"
[merge]
operator = ""
[[merge.search]]
param = "weight"
per_group = true
groups = ["layers.0"]
lower = 2.0
upper = 1.0
[search]
algorithm = "anneal"
max_evaluations = -1
concurrency = -2
[[objectives]]
task = "digits"
metric = "f1"
direction = "up"
[evaluator]
examples = -3
[report]
top = -1
`,
			want: []string{
				"experiment.name@2", "models.recipe@5", "merge.operator@7",
				"merge.search[0].groups@11", "merge.search[0].lower@12",
				"search.algorithm@15", "search.max_evaluations@16", "search.concurrency@17",
				"objectives[0].metric@20", "objectives[0].direction@21",
				"evaluator.examples@23", "report.top@25",
			},
		},
		{
			name: "method tables: another algorithm's table, bad keys and values in the chosen one",
			src: `[experiment]
name = "x"
[models]
benchmark = "mnist-tasks"
[merge]
operator = "ties"
[[merge.search]]
param = "density"
[search]
algorithm = "nsga2"
max_evaluations = 10
[search.ga]
population_size = 10
[search.nsga2]
population_size = 2
mutation_prob = 1.5
crossover_eta = "big"
popsize = 3
`,
			want: []string{"search.ga@12", "search.nsga2.population_size@15", "search.nsga2.mutation_prob@16", "search.nsga2.crossover_eta@17", "search.nsga2.popsize@18"},
		},
		{
			name: "ranges inside a method table",
			src: `[experiment]
name = "x"
[models]
benchmark = "mnist-tasks"
[merge]
operator = "ties"
[[merge.search]]
param = "density"
[search]
algorithm = "nsga2"
max_evaluations = 10
[search.nsga2]
population_size = 2
mutation_prob = 1.5
start_points = ["best"]
`,
			want: []string{"search.nsga2.population_size@13", "search.nsga2.mutation_prob@14", "search.nsga2.start_points[0]@15"},
		},
		{
			name: "adamerging: merge.search given, unknown key, ranges, non-native evaluator",
			src: `[experiment]
name = "x"
[models]
benchmark = "mnist-tasks"
[merge]
operator = "ties"
[[merge.search]]
param = "density"
[search]
algorithm = "adamerging"
[search.adamerging]
granularity = "layer"
steps = -1
init = 2.0
ties_keep = 0.5
seed_search = "ga"
learning_rat = 0.1
[evaluator]
kind = "command"
command = ["score"]
`,
			want: []string{"merge.operator@6", "merge.search@7", "search.adamerging.granularity@12",
				"search.adamerging.steps@13", "search.adamerging.init@14", "search.adamerging.ties_keep@15",
				"search.adamerging.seed_search@16", "search.adamerging.learning_rat@17", "evaluator.kind@19"},
		},
		{
			name: "fw, m2n2 and map tables",
			src: `[experiment]
name = "x"
[models]
benchmark = "mnist-tasks"
[merge]
operator = "task_arithmetic"
[search]
algorithm = "fw"
[search.fw]
variant = "soft"
granularity = "task"
step_size = 1.5
loss = "mse"
[search.m2n2]
archive_size = 1
[search.map]
nested = true
`,
			want: []string{"search.fw.granularity@11", "search.fw.step_size@12", "search.fw.loss@13", "search.m2n2@14", "search.map@16"},
		},
		{
			name: "m2n2 and map ranges",
			src: `[experiment]
name = "x"
[models]
benchmark = "m2n2-specialists"
[merge]
operator = "m2n2"
[search]
algorithm = "m2n2"
max_evaluations = 10
[search.m2n2]
archive_size = 1
alpha = -1.0
angle = "local"
storage = "cloud"
cache_size = 3
`,
			want: []string{"search.m2n2.archive_size@11", "search.m2n2.alpha@12", "search.m2n2.angle@13", "search.m2n2.storage@14", "search.m2n2.cache_size@15"},
		},
		{
			name: "map: budget with schedule, bad preferences, nested-only keys",
			src: `[experiment]
name = "x"
[models]
benchmark = "mnist-tasks"
[merge]
operator = "task_arithmetic"
[[merge.search]]
param = "weight"
per_model = true
[search]
algorithm = "map"
[search.map]
budget = 10
schedule = [5, 0]
preferences = [[0.0, 0.0], [1.0, -1.0]]
points_per_merge = 20
front = "pareto"
`,
			want: []string{"search.map.budget@13", "search.map.schedule[1]@14", "search.map.preferences[0]@15",
				"search.map.preferences[1][1]@15", "search.map.points_per_merge@16", "search.map.front@17"},
		},
		{
			name: "start points of an AdaMerging run",
			src: `[experiment]
name = "x"
[models]
benchmark = "mnist-tasks"
[merge]
operator = "task_arithmetic"
[[merge.search]]
param = "weight"
per_model = true
[search]
algorithm = "cmaes"
max_evaluations = 10
[search.cmaes]
start_points = ["adamerging:", "adamerging:runs/a", "best"]
`,
			want: []string{"search.cmaes.start_points[0]@14", "search.cmaes.start_points[2]@14"},
		},
		{
			name: "no budget, no pool, command without argv",
			src: `[experiment]
name = "x"
[merge]
operator = "ties"
[[merge.search]]
param = "density"
[search]
algorithm = "ga"
[search.ga.scalarization]
method = "chebyshev"
[evaluator]
kind = "command"
`,
			want: []string{"models@0", "search@7", "search.ga.scalarization.ideal@9", "evaluator.command@11"},
		},
		{
			name: "native evaluator needs a benchmark; duplicate experts and objectives",
			src: `[experiment]
name = "x"
[models]
[[models.experts]]
name = "a"
path = "a"
[[models.experts]]
name = "a"
path = ""
[merge]
operator = "ties"
[[merge.search]]
param = "density"
[search]
algorithm = "random"
max_time = "1m"
[[objectives]]
task = "a"
[[objectives]]
task = "a"
`,
			want: []string{"models.experts[1].name@8", "models.experts[1].path@9", "objectives[1]@19", "evaluator.kind@0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemKeys(t, tt.src)
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("missing problem %s; got %v", w, got)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

func TestExperimentEncodeRoundTrip(t *testing.T) {
	srcs := map[string][]byte{QuickstartFile: Quickstart()}
	for _, f := range exampleExperiments(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = data
	}
	for name, data := range srcs {
		e, err := DecodeExperiment(name, data, catalog)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		enc, err := e.Encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := DecodeExperiment("config.toml", enc, catalog)
		if err != nil {
			t.Fatalf("%s: re-decoding the resolved config: %v\n%s", name, err, enc)
		}
		if back.Format != ResolvedFormat {
			t.Errorf("%s: resolved config has format %d, want %d", name, back.Format, ResolvedFormat)
		}
		if !reflect.DeepEqual(settingsOf(t, e), settingsOf(t, back)) {
			t.Errorf("%s: settings decode to %+v, want %+v", name, settingsOf(t, back), settingsOf(t, e))
		}
		if back.Evaluator.Kind != e.Evaluator.Kind || !reflect.DeepEqual(evaluatorOf(t, e), evaluatorOf(t, back)) {
			t.Errorf("%s: evaluator %s %+v decodes to %s %+v", name, e.Evaluator.Kind, evaluatorOf(t, e), back.Evaluator.Kind, evaluatorOf(t, back))
		}
		again, err := back.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(enc) {
			t.Errorf("%s: the resolved config does not encode to itself:\n%s\nwant\n%s", name, again, enc)
		}
	}
}

func TestExplicitZerosAndResolvedDefaults(t *testing.T) {
	nsga := strings.Replace(minimalExperiment, `algorithm = "random"`, `algorithm = "nsga2"`, 1)
	gaSrc := strings.Replace(minimalExperiment, `algorithm = "random"`, `algorithm = "ga"`, 1)
	f := func(v float64) *float64 { return &v }
	i := func(v int) *int { return &v }
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, e *Experiment) (got, want any)
		// lines the resolved config must hold, and must not
		has, hasNot []string
	}{
		{"nsga2 defaults filled", nsga + "\n[search.nsga2]\n", func(t *testing.T, e *Experiment) (any, any) {
			n := settingsOf(t, e).(*nsga2.Settings)
			return []any{n.PopulationSize, *n.CrossoverProb, n.CrossoverEta, n.MutationEta, n.MutationProb}, []any{100, 0.9, 20.0, 20.0, (*float64)(nil)}
		}, []string{"population_size = 100", "crossover_prob = 0.9", "crossover_eta = 20.0", "mutation_eta = 20.0"}, []string{"\nmutation_prob ="}},
		{"nsga2 explicit zeros", nsga + "\n[search.nsga2]\ncrossover_prob = 0.0\nmutation_prob = 0.0\n", func(t *testing.T, e *Experiment) (any, any) {
			return []any{settingsOf(t, e).(*nsga2.Settings).CrossoverProb, settingsOf(t, e).(*nsga2.Settings).MutationProb}, []any{f(0), f(0)}
		}, []string{"crossover_prob = 0.0", "mutation_prob = 0.0"}, nil},
		{"ga defaults filled", gaSrc + "\n[search.ga]\n", func(t *testing.T, e *Experiment) (any, any) {
			g := settingsOf(t, e).(*ga.Settings)
			return []any{g.PopulationSize, g.Tournament, g.CrossoverRate, g.BlendAlpha, g.MutationRate, g.MutationSigma, g.Elite, g.GeneMutationProb},
				[]any{40, 3, f(0.8), f(0.5), f(0.3), 0.1, i(1), (*float64)(nil)}
		}, []string{"crossover_rate = 0.8", "elite = 1", `method = "weighted-sum"`}, []string{"\ngene_mutation_prob ="}},
		{"ga explicit zeros", gaSrc + "\n[search.ga]\ncrossover_rate = 0.0\nelite = 0\nblend_alpha = 0.0\n", func(t *testing.T, e *Experiment) (any, any) {
			return []any{settingsOf(t, e).(*ga.Settings).CrossoverRate, settingsOf(t, e).(*ga.Settings).Elite, settingsOf(t, e).(*ga.Settings).BlendAlpha}, []any{f(0), i(0), f(0)}
		}, []string{"crossover_rate = 0.0", "elite = 0", "blend_alpha = 0.0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := DecodeExperiment("x.toml", []byte(tt.src), catalog)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tt.check(t, e); !reflect.DeepEqual(got, want) {
				t.Errorf("settings %v, want %v", got, want)
			}
			enc, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tt.has {
				if !strings.Contains(string(enc), "\n"+h+"\n") {
					t.Errorf("resolved config lacks %q:\n%s", h, enc)
				}
			}
			for _, h := range tt.hasNot {
				if strings.Contains(string(enc), h) {
					t.Errorf("resolved config shows %q, a value the run computes from the search space:\n%s", h, enc)
				}
			}
			// The resolved file reads back to the same explicit values.
			back, err := DecodeResolved("config.toml", enc, catalog)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tt.check(t, back); !reflect.DeepEqual(got, want) {
				t.Errorf("resolved config reads back as %v, want %v", got, want)
			}
		})
	}
}

func TestUpgradeResolvedReadsOldZerosAsDefaults(t *testing.T) {
	// A run directory's config.toml from before explicit zeros: every
	// setting written, 0.0 standing for the default.
	old := strings.Replace(minimalExperiment, `algorithm = "random"`, `algorithm = "nsga2"`, 1) +
		"\n[search.nsga2]\npopulation_size = 8\ncrossover_prob = 0.0\ncrossover_eta = 0.0\nmutation_prob = 0.0\nmutation_eta = 20.0\n"
	e, err := DecodeResolved("config.toml", []byte(old), catalog)
	if err != nil {
		t.Fatal(err)
	}
	n := settingsOf(t, e).(*nsga2.Settings)
	if n.CrossoverProb == nil || *n.CrossoverProb != nsga2.DefaultCrossoverProb || n.MutationProb != nil || n.CrossoverEta != nsga2.DefaultEta {
		t.Errorf("old resolved config read as crossover %v mutation %v eta %v; want the defaults it meant", n.CrossoverProb, n.MutationProb, n.CrossoverEta)
	}
	// The same text as a user's config means what it says.
	u, err := DecodeExperiment("mine.toml", []byte(old), catalog)
	if err != nil {
		t.Fatal(err)
	}
	if settingsOf(t, u).(*nsga2.Settings).CrossoverProb == nil || *settingsOf(t, u).(*nsga2.Settings).CrossoverProb != 0 || settingsOf(t, u).(*nsga2.Settings).MutationProb == nil || *settingsOf(t, u).(*nsga2.Settings).MutationProb != 0 {
		t.Errorf("a user's explicit zeros were not kept: %+v", settingsOf(t, u).(*nsga2.Settings))
	}
	// A current resolved file keeps its explicit zeros.
	cur := "format = 2\n" + old
	c, err := DecodeResolved("config.toml", []byte(cur), catalog)
	if err != nil {
		t.Fatal(err)
	}
	if *settingsOf(t, c).(*nsga2.Settings).CrossoverProb != 0 || settingsOf(t, c).(*nsga2.Settings).MutationProb == nil {
		t.Errorf("format 2 resolved config lost its explicit zeros: %+v", settingsOf(t, c).(*nsga2.Settings))
	}
}
