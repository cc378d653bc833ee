package main

import (
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/run"
)

func TestPrintExport(t *testing.T) {
	cases := []struct {
		name    string
		res     run.ExportResult
		want    []string
		notWant []string
	}{
		{"operator merge", run.ExportResult{ID: "abcd1234", Dir: "out/x", RecipePath: "out/x/recipe.toml", Files: []string{"out/x/model.safetensors"}},
			[]string{"exported candidate abcd1234 to out/x\n", "  out/x/model.safetensors\n", "  out/x/recipe.toml (reproduce with: evomerge merge out/x/recipe.toml --out DIR)\n"},
			[]string{"lineage"}},
		{"m2n2 candidate", run.ExportResult{ID: "ef015678", Dir: "out/y", Files: []string{"out/y/model.safetensors"}},
			[]string{"exported candidate ef015678 to out/y\n", "  out/y/model.safetensors\n", "rebuilt from its lineage", "no `evomerge merge` recipe reproduces"},
			[]string{"reproduce with", "evomerge merge  --out", "recipe.toml"}},
	}
	for _, c := range cases {
		var b strings.Builder
		printExport(&b, &c.res)
		out := b.String()
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(out, w) {
				t.Errorf("%s: output says %q:\n%s", c.name, w, out)
			}
		}
	}
}
