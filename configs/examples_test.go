package configs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEmbeddedExamplesMatchFiles(t *testing.T) {
	files, names := Examples()
	onDisk, _ := filepath.Glob(filepath.Join("examples", "*.toml"))
	if len(names) != len(onDisk) {
		t.Fatalf("embedded %d examples, %d on disk", len(names), len(onDisk))
	}
	for _, f := range onDisk {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := files[filepath.Base(f)]; string(got) != string(want) {
			t.Errorf("embedded %s differs from the file", filepath.Base(f))
		}
	}
	q, _ := os.ReadFile(QuickstartFile)
	if string(q) != string(Quickstart()) {
		t.Error("embedded quickstart differs from the file")
	}
}
