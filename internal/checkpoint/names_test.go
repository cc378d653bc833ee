package checkpoint

import (
	"slices"
	"testing"

	"github.com/evomerge/evomerge/internal/rng"
)

func TestSortNames(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"numeric blocks", []string{"layers.10.weight", "layers.2.weight", "layers.1.weight"}, []string{"layers.1.weight", "layers.2.weight", "layers.10.weight"}},
		{"prefix before longer", []string{"a.b", "a", "a.b.c"}, []string{"a", "a.b", "a.b.c"}},
		{"digits vs letters", []string{"h.1", "h.a", "h.0"}, []string{"h.0", "h.1", "h.a"}},
		{"leading zeros tie-break", []string{"x.2", "x.02", "x.1"}, []string{"x.1", "x.02", "x.2"}},
		{"huge numbers", []string{"n.100000000000000000000", "n.99999999999999999999"}, []string{"n.99999999999999999999", "n.100000000000000000000"}},
		{"llama", []string{"model.norm.weight", "model.layers.11.mlp.up_proj.weight", "model.layers.9.mlp.up_proj.weight", "model.embed_tokens.weight", "lm_head.weight"},
			[]string{"lm_head.weight", "model.embed_tokens.weight", "model.layers.9.mlp.up_proj.weight", "model.layers.11.mlp.up_proj.weight", "model.norm.weight"}},
		{"weight and bias", []string{"layers.0.weight", "layers.0.bias"}, []string{"layers.0.bias", "layers.0.weight"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Clone(tc.in)
			SortNames(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("SortNames(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// TestSortNamesIsTotalOrder checks that the result does not depend on the
// input order, and that compareNames is antisymmetric and transitive on a
// random sample of confusable names.
func TestSortNamesIsTotalOrder(t *testing.T) {
	r := rng.New(3, "checkpoint-test", "names")
	parts := []string{"layers", "h", ".", "0", "00", "1", "01", "10", "2", "a", "b", "_"}
	var names []string
	seen := map[string]bool{}
	for len(names) < 300 {
		var s string
		for range 1 + r.IntN(5) {
			s += parts[r.IntN(len(parts))]
		}
		if !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	ref := slices.Clone(names)
	SortNames(ref)
	for range 5 {
		shuffled := slices.Clone(names)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		SortNames(shuffled)
		if !slices.Equal(shuffled, ref) {
			t.Fatal("SortNames depends on the input order")
		}
	}
	for i := range ref {
		for j := range ref {
			c := compareNames(ref[i], ref[j])
			if (i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0) {
				t.Fatalf("compareNames(%q, %q) = %d, inconsistent with sorted positions %d, %d", ref[i], ref[j], c, i, j)
			}
		}
	}
}

func TestBlockIndexAndLayerGroup(t *testing.T) {
	tests := []struct {
		name  string
		block int
		ok    bool
		group string
	}{
		{"model.layers.12.self_attn.q_proj.weight", 12, true, "model.layers.12"},
		{"transformer.h.3.attn.c_attn.weight", 3, true, "transformer.h.3"},
		{"visual.transformer.resblocks.7.mlp.c_fc.weight", 7, true, "visual.transformer.resblocks.7"},
		{"vision_model.encoder.layers.11.layer_norm1.bias", 11, true, "vision_model.encoder.layers.11"},
		{"encoder.layer.5.attention.output.dense.weight", 5, true, "encoder.layer.5"},
		{"encoder.block.3.layer.0.SelfAttention.q.weight", 3, true, "encoder.block.3"},
		{"model.decoder.layers.3.fc1.weight", 3, true, "model.decoder.layers.3"},
		{"blocks.0.norm1.weight", 0, true, "blocks.0"},
		{"layers.2.weight", 2, true, "layers.2"},
		{"layers.2", 2, true, "layers.2"},
		{"heads.rot90.weight", 0, false, "heads.rot90"},
		{"heads.rot90.bias", 0, false, "heads.rot90"},
		{"embed_tokens.weight", 0, false, "embed_tokens"},
		{"model.norm.weight", 0, false, "model.norm"},
		{"lm_head.weight", 0, false, "lm_head"},
		{"transformer.wpe.weight", 0, false, "transformer.wpe"},
		{"logit_scale", 0, false, "logit_scale"},
		{"layers.x.weight", 0, false, "layers.x"},
		{"mylayers.3.weight", 0, false, "mylayers.3"},
		{"layers.-1.weight", 0, false, "layers.-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			block, ok := BlockIndex(tc.name)
			if block != tc.block || ok != tc.ok {
				t.Errorf("BlockIndex = %d, %v; want %d, %v", block, ok, tc.block, tc.ok)
			}
			if got := LayerGroup(tc.name); got != tc.group {
				t.Errorf("LayerGroup = %q, want %q", got, tc.group)
			}
		})
	}
}
