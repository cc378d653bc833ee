package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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

// packageImports returns, for every directory with non-test Go files, the
// sorted set of its imports. Directories the go tool ignores (names starting
// with "." or "_", and testdata) are skipped.
func packageImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	imports := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "runs") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if imports[rel] == nil {
			imports[rel] = map[string]bool{}
		}
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			imports[rel][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for dir, set := range imports {
		for p := range set {
			out[dir] = append(out[dir], p)
		}
		sort.Strings(out[dir])
	}
	return out
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
	pkgs := packageImports(t, root)
	if len(pkgs) == 0 {
		t.Fatal("archtest: found no Go packages")
	}
	var problems []string
	for dir, imps := range pkgs {
		for _, p := range imps {
			if msg := violation(dir, p); msg != "" {
				problems = append(problems, msg)
			}
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
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
		{"search", Module + "/internal/nn", false},
		{"search/ga", eaopt, true},
		{"search", eaopt, false},
		{"operators", Module + "/internal/nn", false},
		{"operators", Module + "/internal/tensor", true},
		{"internal/nn", Module + "/operators", true},
		{"internal/tensor", Module + "/internal/nn", false},
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
