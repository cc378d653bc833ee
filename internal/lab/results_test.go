package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetMarked(t *testing.T) {
	const b, e = "<!-- x:start -->", "<!-- x:end -->"
	tests := []struct {
		name, text, heading, content, want, wantErr string
	}{
		{"append to empty", "", "", "table", b + "\ntable\n" + e + "\n", ""},
		{"append with heading", "# Results\n", "## X", "t\n", "# Results\n\n## X\n\n" + b + "\nt\n" + e + "\n", ""},
		{"replace keeps the rest", "a\n" + b + "\nold\n" + e + "\nz\n", "## X", "new", "a\n" + b + "\nnew\n" + e + "\nz\n", ""},
		{"one marker", "a " + b, "", "c", "", "only one of the markers"},
		{"out of order", e + b, "", "c", "", "only one of the markers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := setMarked(tc.text, b, e, tc.heading, tc.content)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestEditResultsNestedSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docs", "results.md")
	outerB, outerE := "<!-- o:start -->", "<!-- o:end -->"
	put := func(key, body string) {
		t.Helper()
		err := editResults(path, func(text string) (string, error) {
			inner, _, err := markedContent(text, outerB, outerE)
			if err != nil {
				return "", err
			}
			inner, err = setMarked(inner, "<!-- "+key+":start -->", "<!-- "+key+":end -->", "", body)
			if err != nil {
				return "", err
			}
			return setMarked(text, outerB, outerE, "## Outer", inner)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("a", "first")
	put("b", "second")
	put("a", "first again")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{"# Results\n", "## Outer", "first again", "second"} {
		if !strings.Contains(text, want) {
			t.Errorf("file lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "first\n") || strings.Count(text, "## Outer") != 1 {
		t.Errorf("sections were duplicated or not replaced:\n%s", text)
	}
}
