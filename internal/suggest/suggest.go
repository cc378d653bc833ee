// Package suggest finds the word a user probably meant, for "did you mean"
// hints in error messages (unknown commands, misspelt configuration keys).
//
// Contract: results are deterministic (ties go to the earliest candidate in
// the given order) and nothing is suggested beyond the given edit distance.
package suggest

// EditDistance is the Levenshtein distance between a and b, counted in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Nearest returns the candidate closest to word within maxDistance edits, or
// "" when none is that close.
func Nearest(word string, candidates []string, maxDistance int) string {
	best, bestDist := "", maxDistance+1
	for _, c := range candidates {
		if d := EditDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
