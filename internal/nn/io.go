package nn

import (
	"fmt"
	"slices"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// Tensors returns copies of every parameter as checkpoint tensors, in canonical order.
func (m *Model) Tensors() []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(m.params))
	for i, p := range m.params {
		out[i] = checkpoint.Tensor{Name: p.Name, Shape: slices.Clone(p.Shape), Data: slices.Clone(p.Data)}
	}
	return out
}

// Save writes the model as a float32 safetensors file at path (atomically, through
// checkpoint.Write). The spec is stored as JSON under SpecMetadataKey; extraMeta adds
// further metadata entries and may not contain SpecMetadataKey.
func (m *Model) Save(path string, extraMeta map[string]string) error {
	meta := make(map[string]string, len(extraMeta)+1)
	for k, v := range extraMeta {
		if k == SpecMetadataKey {
			return fmt.Errorf("nn: saving %s: metadata key %s is reserved for the model spec: rename the extra entry", path, SpecMetadataKey)
		}
		meta[k] = v
	}
	spec, err := encodeSpec(m.spec)
	if err != nil {
		return err
	}
	meta[SpecMetadataKey] = spec
	params := make([]checkpoint.Tensor, len(m.params))
	for i, p := range m.params {
		params[i] = checkpoint.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data}
	}
	if err := checkpoint.Write(path, params, meta, checkpoint.WriteOptions{}); err != nil {
		return fmt.Errorf("nn: saving model: %w", err)
	}
	return nil
}

// Load reads a checkpoint written by Save (or any safetensors checkpoint, file or
// sharded directory, whose metadata holds SpecMetadataKey) and rebuilds the model.
func Load(path string) (*Model, error) {
	tensors, meta, err := checkpoint.LoadAll(path)
	if err != nil {
		return nil, fmt.Errorf("nn: loading model: %w", err)
	}
	text, ok := meta[SpecMetadataKey]
	if !ok {
		return nil, fmt.Errorf("nn: loading %s: metadata key %s is missing, so the architecture is unknown: save the model with nn's Save, or build it with FromTensors and an explicit Spec", path, SpecMetadataKey)
	}
	spec, err := decodeSpec(text)
	if err != nil {
		return nil, fmt.Errorf("nn: loading %s: %w", path, err)
	}
	m, err := FromTensors(spec, tensors)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return m, nil
}

// FromTensors builds a model of spec whose parameters are copied from tensors. Every
// backbone parameter and every head listed in spec must be present with the shape the
// spec implies. Heads present as heads.{name}.weight/bias but not listed in spec are
// added, with their class count taken from the tensors. Any other tensor is an error.
func FromTensors(spec Spec, tensors []checkpoint.Tensor) (*Model, error) {
	// Discover heads that the tensors hold but the spec does not list.
	spec = cloneSpec(spec)
	listed := map[string]bool{}
	for _, h := range spec.Heads {
		listed[h.Name] = true
	}
	var extra []string
	extraClasses := map[string]int{}
	for _, t := range tensors {
		head, which, ok := parseHeadParam(t.Name)
		if !ok || listed[head] {
			continue
		}
		if _, seen := extraClasses[head]; !seen {
			extra = append(extra, head)
			extraClasses[head] = -1
		}
		if which == "bias" {
			if len(t.Shape) != 1 {
				return nil, fmt.Errorf("nn: tensor %s has shape %v, want [classes]", t.Name, t.Shape)
			}
			extraClasses[head] = t.Shape[0]
		}
	}
	slices.Sort(extra)
	for _, head := range extra {
		if extraClasses[head] < 0 {
			return nil, fmt.Errorf("nn: tensor %s is missing (found %s only): a head needs both weight and bias", headParamName(head, "bias"), headParamName(head, "weight"))
		}
		spec.Heads = append(spec.Heads, HeadSpec{Name: head, Classes: extraClasses[head]})
	}
	m, err := build(spec)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range tensors {
		p := m.byName[t.Name]
		if p == nil {
			return nil, fmt.Errorf("nn: unexpected tensor %s: it is not a parameter of this %q architecture (parameters are layers.N.weight/bias and heads.<task>.weight/bias)", t.Name, spec.Arch)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("nn: tensor %s appears twice", t.Name)
		}
		seen[t.Name] = true
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("nn: tensor %s has shape %v but the spec implies %v", t.Name, t.Shape, p.Shape)
		}
		if len(t.Data) != len(p.Data) {
			return nil, fmt.Errorf("nn: tensor %s has %d values, want %d for shape %v", t.Name, len(t.Data), len(p.Data), p.Shape)
		}
		copy(p.Data, t.Data)
	}
	for _, p := range m.params {
		if !seen[p.Name] {
			return nil, fmt.Errorf("nn: tensor %s (shape %v) is missing", p.Name, p.Shape)
		}
	}
	return m, nil
}
