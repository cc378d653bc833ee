package checkpoint

import (
	"slices"
	"strconv"
	"strings"
)

// SortNames sorts tensor names into evomerge's canonical order: natural
// order, where runs of digits compare by numeric value (layers.2 before
// layers.10) and everything else compares bytewise. Names that compare equal
// that way (layers.02 and layers.2) fall back to plain string order, so the
// order is total and never depends on the input order.
func SortNames(names []string) {
	slices.SortFunc(names, compareNames)
}

// compareNames is the canonical order of SortNames.
func compareNames(a, b string) int {
	if c := naturalCompare(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// naturalCompare compares a and b by alternating non-digit and digit runs.
func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			da := strings.TrimLeft(a[si:i], "0")
			db := strings.TrimLeft(b[sj:j], "0")
			if len(da) != len(db) { // more significant digits: larger number
				if len(da) < len(db) {
					return -1
				}
				return 1
			}
			if c := strings.Compare(da, db); c != 0 {
				return c
			}
			continue
		}
		if a[i] != b[j] {
			if a[i] < b[j] {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	switch {
	case len(a)-i < len(b)-j:
		return -1
	case len(a)-i > len(b)-j:
		return 1
	}
	return 0
}

// blockSegments are the path segments that, followed by an integer segment,
// number the repeated blocks of a network: llama/mistral/whisper "layers",
// GPT-2 "h", "blocks", CLIP "resblocks", BERT/ViT "layer", T5 "block".
var blockSegments = map[string]bool{
	"layers": true, "h": true, "blocks": true, "resblocks": true, "layer": true, "block": true,
}

// blockPosition finds the first "<block segment>.<integer>" pair in name and
// returns the integer and the byte offset just past it.
func blockPosition(name string) (index, end int, ok bool) {
	pos := 0
	prev := ""
	for pos <= len(name) {
		next := strings.IndexByte(name[pos:], '.')
		seg := name[pos:]
		if next >= 0 {
			seg = name[pos : pos+next]
		}
		if blockSegments[prev] && seg != "" && allDigits(seg) {
			if n, err := strconv.Atoi(seg); err == nil {
				return n, pos + len(seg), true
			}
		}
		if next < 0 {
			break
		}
		prev = seg
		pos += next + 1
	}
	return 0, 0, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// BlockIndex returns the block number of a tensor name: the integer after the
// first "layers", "h", "blocks", "resblocks", "layer" or "block" path segment
// ("model.layers.12.self_attn.q_proj.weight" -> 12). ok is false for tensors
// outside the repeated blocks (embeddings, final norms, heads).
func BlockIndex(name string) (int, bool) {
	n, _, ok := blockPosition(name)
	return n, ok
}

// LayerGroup names the group a tensor belongs to for per-layer-group
// coefficients. For a tensor inside a block it is the name up to and
// including the block number ("model.layers.3.mlp.up_proj.weight" ->
// "model.layers.3"), so all tensors of one block share a group and blocks
// of different stacks (encoder.layers.3, decoder.layers.3) do not. A tensor
// outside the blocks forms a group with the other parameters of its module:
// the name without its last segment ("model.norm.weight" -> "model.norm",
// "heads.rot90.bias" -> "heads.rot90"); a name without a dot is its own group.
func LayerGroup(name string) string {
	if _, end, ok := blockPosition(name); ok {
		return name[:end]
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}
