package configs

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

// QuickstartFile is the name the embedded quickstart is reported under.
const QuickstartFile = "quickstart.toml"

//go:embed quickstart.toml
var quickstart []byte

//go:embed examples/*.toml
var examples embed.FS

// Quickstart returns the embedded quickstart experiment (configs/quickstart.toml).
func Quickstart() []byte { return append([]byte(nil), quickstart...) }

// Examples returns the embedded example configurations by file name
// (experiments and merge recipes), sorted by name.
func Examples() (map[string][]byte, []string) {
	out := map[string][]byte{}
	var names []string
	entries, err := fs.ReadDir(examples, "examples")
	if err != nil {
		panic("configs: embedded examples: " + err.Error())
	}
	for _, e := range entries {
		data, err := examples.ReadFile(path.Join("examples", e.Name()))
		if err != nil {
			panic("configs: embedded examples: " + err.Error())
		}
		out[e.Name()] = data
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return out, names
}
