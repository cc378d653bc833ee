package configs

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// EncodeMergeRecipe renders a merge recipe as the TOML that LoadMerge reads
// (`evomerge merge`), preceded by comment lines. Floats are written in
// their shortest exact form, so the decoded values are bit-identical.
func EncodeMergeRecipe(r *MergeRecipe, comment string) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(comment, "\n"), "\n") {
		if comment == "" {
			break
		}
		buf.WriteString("# " + line + "\n")
	}
	if comment != "" {
		buf.WriteString("\n")
	}
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("merge recipe: encode: %w", err)
	}
	return buf.Bytes(), nil
}
