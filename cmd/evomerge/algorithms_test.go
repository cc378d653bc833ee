package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/registry"
)

func TestAlgorithmsListsTheRegistry(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"algorithms", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got []algorithmJSON
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	names := registry.AlgorithmNames()
	if len(got) != len(names) {
		t.Fatalf("%d algorithms listed, the registry has %d", len(got), len(names))
	}
	byName := map[string]algorithmJSON{}
	for i, a := range got {
		if a.Name != names[i] || a.Summary == "" {
			t.Errorf("entry %d: %+v, want %s with a summary", i, a, names[i])
		}
		byName[a.Name] = a
	}
	if n := byName["nsga2"]; n.Defaults["population_size"] != float64(100) || n.DerivesSpace || n.EndsByItself {
		t.Errorf("nsga2: %+v", n)
	}
	if a := byName["adamerging"]; !a.DerivesSpace || !a.EndsByItself || a.Operator != "task_arithmetic" || len(a.Needs) != 2 {
		t.Errorf("adamerging: %+v", a)
	}
	stdout.Reset()
	if code := execute(context.Background(), []string{"algorithms"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"[search.ga] defaults:\n", "    scalarization.method = \"weighted-sum\"\n", "fw\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout.String())
		}
	}
	if code := execute(context.Background(), []string{"algorithms", "x"}, &stdout, &stderr); code != 2 {
		t.Errorf("an argument: exit %d, want 2", code)
	}
}
