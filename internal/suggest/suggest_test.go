package suggest

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"", "abc", 3}, {"abc", "", 3},
		{"kitten", "sitting", 3}, {"verison", "version", 2}, {"flaw", "lawn", 2},
	}
	for _, tc := range tests {
		if got := EditDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := EditDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d (symmetry)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	words := []string{"run", "resume", "report", "merge"}
	tests := []struct {
		word string
		max  int
		want string
	}{
		{"rnu", 2, "run"},
		{"reprot", 2, "report"},
		{"merg", 2, "merge"},
		{"xyzzy", 2, ""},
		{"rum", 0, ""},
		{"run", 0, "run"},
		{"re", 2, "run"}, // "run" (2 edits) comes before equally distant words
	}
	for _, tc := range tests {
		if got := Nearest(tc.word, words, tc.max); got != tc.want {
			t.Errorf("Nearest(%q, %d) = %q, want %q", tc.word, tc.max, got, tc.want)
		}
	}
}
