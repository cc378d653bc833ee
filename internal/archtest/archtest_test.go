package archtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// moduleRoot finds the directory holding go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("archtest: no go.mod above the test directory")
		}
		dir = parent
	}
}

// pkg is a package of the module: its directory (relative to the module
// root), its direct imports and its transitive dependencies (non-test).
type pkg struct {
	dir     string
	imports []string
	deps    []string
}

// listPackages asks the go tool for every package of the module with its
// imports and its transitive dependencies (`go list -deps` closure).
func listPackages(t *testing.T, root string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \",\"}}|{{join .Deps \",\"}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) != 3 {
			t.Fatalf("go list printed %q", line)
		}
		dir := strings.TrimPrefix(strings.TrimPrefix(parts[0], Module), "/")
		if dir == "" {
			dir = "."
		}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		pkgs = append(pkgs, pkg{dir: dir, imports: split(parts[1]), deps: split(parts[2])})
	}
	return pkgs
}

// problems lists every broken rule of the packages: a direct import its
// allow-list does not permit, a project package reached transitively that
// the allow-list does not permit (so a package cannot reach through another
// what it may not import itself), and an import, direct or not, between
// siblings of a component family (only the composition roots may know
// several components of a family).
func problems(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, imp := range p.imports {
			if msg := violation(p.dir, imp); msg != "" {
				out = append(out, msg)
			}
		}
		direct := map[string]bool{}
		for _, imp := range p.imports {
			direct[imp] = true
		}
		for _, dep := range p.deps {
			rel, ok := strings.CutPrefix(dep, Module+"/")
			if !ok || direct[dep] {
				continue
			}
			if msg := violation(p.dir, dep); msg != "" {
				out = append(out, p.dir+" depends on "+rel+" through its imports, which its allow-list does not permit (find the import chain with `go list -deps`)")
			}
		}
		if isCompositionRoot(p.dir) {
			continue
		}
		for _, dep := range p.deps {
			rel, ok := strings.CutPrefix(dep, Module+"/")
			if !ok {
				continue
			}
			if fam, a, b, sib := siblings(p.dir, rel); sib {
				out = append(out, fmt.Sprintf("%s depends on %s: %s/%s and %s/%s are siblings of the %s family and must not import one another; move what they share into %s", p.dir, rel, fam, a, fam, b, fam, fam))
			}
		}
	}
	sort.Strings(out)
	return out
}

// siblings reports whether dir and dep are different members of one
// component family (e.g. search/fw and search/adamerging).
func siblings(dir, dep string) (family, a, b string, ok bool) {
	for _, fam := range SiblingFamilies {
		x, okA := strings.CutPrefix(dir, fam+"/")
		y, okB := strings.CutPrefix(dep, fam+"/")
		if !okA || !okB {
			continue
		}
		x, _, _ = strings.Cut(x, "/")
		y, _, _ = strings.Cut(y, "/")
		if x != y && !slices.Contains(SharedMembers, fam+"/"+y) {
			return fam, x, y, true
		}
	}
	return "", "", "", false
}

func isCompositionRoot(dir string) bool {
	for _, r := range CompositionRoots {
		if dir == r || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

// rulesFor returns the allow-list entry of a package directory: its own entry,
// else the nearest "parent/*" entry.
func rulesFor(dir string) ([]string, bool) {
	if allowed, ok := AllowedImports[dir]; ok {
		return allowed, true
	}
	for d := dir; strings.Contains(d, "/"); {
		d = d[:strings.LastIndex(d, "/")]
		if allowed, ok := AllowedImports[d+"/*"]; ok {
			return allowed, true
		}
	}
	return nil, false
}

func isStandardLibrary(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// violation says why importing path from dir is not allowed, or "" if it is.
func violation(dir, path string) string {
	if isStandardLibrary(path) {
		return ""
	}
	allowed, ok := rulesFor(dir)
	if !ok {
		return "package " + dir + " has no entry in AllowedImports (internal/archtest/allowlist.go): decide what it may import"
	}
	target := path
	if rel, found := strings.CutPrefix(path, Module+"/"); found {
		target = rel
		if target == dir {
			return ""
		}
	}
	for _, prefix := range allowed {
		if target == prefix || (strings.HasSuffix(prefix, "/") && strings.HasPrefix(target, prefix)) ||
			strings.HasPrefix(target, prefix+"/") {
			return ""
		}
	}
	return dir + " imports " + path + ", which its allow-list does not permit"
}

func TestImportsFollowTheLayering(t *testing.T) {
	root := moduleRoot(t)
	pkgs := listPackages(t, root)
	if len(pkgs) < 10 {
		t.Fatalf("archtest: found only %d Go packages", len(pkgs))
	}
	for _, p := range problems(pkgs) {
		t.Error(p)
	}
}

// TestPlantedViolationsAreFound plants the imports the rules exist for and
// checks each is reported.
func TestPlantedViolationsAreFound(t *testing.T) {
	m := func(rel string) string { return Module + "/" + rel }
	tests := []struct {
		name string
		pkgs []pkg
		want string // a fragment of the one problem reported; "" for none
	}{
		{"clean", []pkg{{dir: "search/ga", imports: []string{m("population"), m("search")}, deps: []string{m("population"), m("search"), m("internal/rng"), m("fitness")}}}, ""},
		{"transitive: search reaches operators through population",
			[]pkg{{dir: "search", imports: []string{m("population")}, deps: []string{m("population"), m("operators"), m("internal/tensor")}}},
			"search depends on operators through its imports"},
		{"direct sibling import", []pkg{{dir: "search/fw", imports: []string{m("search/adamerging")}, deps: []string{m("search/adamerging"), m("search")}}},
			"search/fw and search/adamerging are siblings"},
		{"transitive sibling import", []pkg{{dir: "search/fw", imports: []string{m("search")}, deps: []string{m("search"), m("search/nsga2")}}},
			"search/fw and search/nsga2 are siblings"},
		{"the composition root may know every component", []pkg{{dir: "internal/registry", imports: []string{m("search/fw"), m("search/nsga2")}, deps: []string{m("search/fw"), m("search/nsga2"), m("search")}}}, ""},
		{"a sub-package of one member is not a sibling", []pkg{{dir: "search/mapmerge", imports: []string{m("search")}, deps: []string{m("search")}}}, ""},
		{"model architectures are siblings", []pkg{{dir: "internal/model/mlp", imports: []string{m("internal/model/cnn")}, deps: []string{m("internal/model/cnn"), m("internal/model")}}},
			"internal/model/mlp and internal/model/cnn are siblings"},
		{"architectures share the layers", []pkg{{dir: "internal/model/cnn", imports: []string{m("internal/model/layers")}, deps: []string{m("internal/model/layers"), m("internal/model"), m("internal/par")}}}, ""},
		{"the layers know no architecture", []pkg{{dir: "internal/model/layers", imports: []string{m("internal/model/mlp")}, deps: []string{m("internal/model/mlp"), m("internal/model")}}},
			"internal/model/layers and internal/model/mlp are siblings"},
		{"the architecture list knows every architecture", []pkg{{dir: "internal/model/all", imports: []string{m("internal/model/mlp"), m("internal/model/cnn")}, deps: []string{m("internal/model/mlp"), m("internal/model/cnn"), m("internal/model/layers"), m("internal/model")}}}, ""},
		{"direct import outside the allow-list", []pkg{{dir: "population", imports: []string{m("operators")}, deps: []string{m("operators")}}},
			"population imports " + Module + "/operators"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range problems(tt.pkgs) {
				// Rules about a package's own third-party or std imports are
				// not what this test plants.
				got = append(got, p)
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %v, want none", got)
			case tt.want != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.want)):
				t.Errorf("problems %v, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestViolationRules(t *testing.T) {
	tests := []struct {
		dir, path string
		allowed   bool
	}{
		{"search", "fmt", true},
		{"search", Module + "/population", true},
		{"search", Module + "/evaluate", false},
		{"search", Module + "/operators", false},
		{"search", Module + "/internal/model", false},
		{"search/ga", eaopt, true},
		{"search", eaopt, false},
		{"operators", Module + "/internal/model", false},
		{"operators", Module + "/internal/tensor", true},
		{"internal/model", Module + "/operators", true},
		{"internal/model/mlp", Module + "/internal/model/layers", true},
		{"internal/tensor", Module + "/internal/model", false},
		{"internal/rng", gonumMat, false},
		{"reports", echarts + "/charts", true},
		{"evaluate", echarts, false},
		{"evaluate/nats", natsClient + "/jetstream", true},
		{"cmd/evomerge", Module + "/internal/run", true},
		{"fitness", Module + "/evaluate", false},
		{"not/listed", "example.com/x", false},
		{"internal/checkpoint", "golang.org/x/sys/unix", true},
		{"operators", Module + "/internal/tensorx", false},
	}
	for _, tc := range tests {
		got := violation(tc.dir, tc.path) == ""
		if got != tc.allowed {
			t.Errorf("%s importing %s: allowed = %v, want %v (%s)", tc.dir, tc.path, got, tc.allowed, violation(tc.dir, tc.path))
		}
	}
}
