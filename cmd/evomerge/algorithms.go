package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/evomerge/evomerge/internal/registry"
	"github.com/evomerge/evomerge/search"
)

const algorithmsSynopsis = `algorithms [--json]

Lists every search algorithm (search.algorithm) with a one-line summary, what
it needs (scores only, loss gradients, alignment, recipe genomes), whether it
derives its own search space and ends by itself, and the values its
[search.<name>] table takes when left empty (for a run with a budget of 100
evaluations; settings computed from the search space stay absent).

--json prints an array of
  {"name", "summary", "needs": [...], "derives_space", "operator",
   "ends_by_itself", "defaults": {key: value}}`

type algorithmJSON struct {
	Name         string         `json:"name"`
	Summary      string         `json:"summary"`
	Needs        []string       `json:"needs"`
	DerivesSpace bool           `json:"derives_space"`
	Operator     string         `json:"operator,omitempty"`
	EndsByItself bool           `json:"ends_by_itself"`
	Defaults     map[string]any `json:"defaults"`
}

func cmdAlgorithms(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("algorithms", algorithmsSynopsis, stderr)
	asJSON := fs.Bool("json", false, "print the algorithms as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("algorithms takes no arguments, got %q", pos)
	}
	infos, err := registry.Describe()
	if err != nil {
		return err
	}
	out := make([]algorithmJSON, len(infos))
	for i, a := range infos {
		needs := []string{string(search.NeedScores)}
		for _, n := range a.Traits.Needs {
			needs = append(needs, string(n))
		}
		out[i] = algorithmJSON{Name: a.Name, Summary: a.Summary, Needs: needs, DerivesSpace: a.Traits.DerivesSpace,
			Operator: a.Traits.Operator, EndsByItself: a.Traits.EndsByItself, Defaults: a.Defaults}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, a := range out {
		fmt.Fprintf(stdout, "%s\n  %s\n  needs: %s\n", a.Name, a.Summary, strings.Join(a.Needs, ", "))
		var traits []string
		if a.DerivesSpace {
			traits = append(traits, "derives its search space (no [[merge.search]])")
		}
		if a.Operator != "" {
			traits = append(traits, "merges with "+a.Operator)
		}
		if a.EndsByItself {
			traits = append(traits, "ends by itself (no budget needed)")
		} else {
			traits = append(traits, "runs until a budget is reached")
		}
		fmt.Fprintf(stdout, "  %s\n  [search.%s] defaults:", strings.Join(traits, "; "), a.Name)
		lines := flatten("", a.Defaults)
		if len(lines) == 0 {
			fmt.Fprint(stdout, " (none)")
		}
		for _, l := range lines {
			fmt.Fprintf(stdout, "\n    %s", l)
		}
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout)
	}
	return nil
}

// flatten writes a table's values as sorted "key = value" lines, sub-tables
// as dotted keys.
func flatten(prefix string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		switch v := m[k].(type) {
		case map[string]any:
			out = append(out, flatten(prefix+k+".", v)...)
		case string:
			out = append(out, fmt.Sprintf("%s%s = %q", prefix, k, v))
		default:
			out = append(out, fmt.Sprintf("%s%s = %v", prefix, k, v))
		}
	}
	return out
}
