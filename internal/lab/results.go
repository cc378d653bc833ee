package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evomerge/evomerge/internal/atomicfile"
)

// Results files (docs/results.md) are shared by several commands, each of
// which owns the text between its own pair of HTML-comment markers.

// markedContent returns the text between begin and end, and whether both
// markers are present. One marker alone, or the two out of order, is an
// error.
func markedContent(text, begin, end string) (string, bool, error) {
	i, j := strings.Index(text, begin), strings.Index(text, end)
	switch {
	case i < 0 && j < 0:
		return "", false, nil
	case i < 0 || j < 0 || j < i:
		return "", false, fmt.Errorf("it has only one of the markers %s and %s, or they are out of order; fix or remove them", begin, end)
	}
	return text[i+len(begin) : j], true, nil
}

// setMarked returns text with the content between begin and end replaced by
// content. When the markers are absent, the marked block is appended after a
// blank line, preceded by heading when heading is not empty.
func setMarked(text, begin, end, heading, content string) (string, error) {
	block := begin + "\n" + strings.Trim(content, "\n") + "\n" + end
	if _, found, err := markedContent(text, begin, end); err != nil {
		return "", err
	} else if found {
		i, j := strings.Index(text, begin), strings.Index(text, end)
		return text[:i] + block + text[j+len(end):], nil
	}
	text = strings.TrimRight(text, "\n")
	if text != "" {
		text += "\n\n"
	}
	if heading != "" {
		text += heading + "\n\n"
	}
	return text + block + "\n", nil
}

// editResults applies edit to the markdown file at path (a missing file
// starts as a "# Results" title) and writes the result back atomically.
func editResults(path string, edit func(text string) (string, error)) error {
	old, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		old = []byte("# Results\n")
	case err != nil:
		return fmt.Errorf("results file: %w", err)
	}
	text, err := edit(string(old))
	if err != nil {
		return fmt.Errorf("results file %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, []byte(text), 0o644)
}
