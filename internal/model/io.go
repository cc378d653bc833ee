package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// Tensors returns copies of every parameter of net as checkpoint tensors, in
// canonical order.
func Tensors(net Network) []checkpoint.Tensor {
	params := net.Params()
	out := make([]checkpoint.Tensor, len(params))
	for i, p := range params {
		out[i] = checkpoint.Tensor{Name: p.Name, Shape: slices.Clone(p.Shape), Data: slices.Clone(p.Data)}
	}
	return out
}

// Save writes net as a float32 safetensors file at path (atomically, through
// checkpoint.Write), with its config's metadata (Config.Metadata) so that
// Load rebuilds it from the file alone. extraMeta adds further entries and
// may not contain a key of the config's metadata.
func Save(path string, net Network, extraMeta map[string]string) error {
	meta := net.Config().Metadata()
	for k, v := range extraMeta {
		if _, reserved := meta[k]; reserved {
			return fmt.Errorf("model: saving %s: metadata key %s is reserved for the model's config: rename the extra entry", path, k)
		}
		meta[k] = v
	}
	params := net.Params()
	tensors := make([]checkpoint.Tensor, len(params))
	for i, p := range params {
		tensors[i] = checkpoint.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data}
	}
	if err := checkpoint.Write(path, tensors, meta, checkpoint.WriteOptions{}); err != nil {
		return fmt.Errorf("model: saving model: %w", err)
	}
	return nil
}

// ConfigFileName is the config file an architecture may read besides the
// checkpoint's metadata (Hugging Face's layout).
const ConfigFileName = "config.json"

// ConfigFile returns the bytes of the config.json that belongs to the
// checkpoint at path: the one inside it when path is a directory, else the
// one beside it. It returns nil and no error when there is none.
func ConfigFile(path string) ([]byte, error) {
	dir := path
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	b, err := os.ReadFile(filepath.Join(dir, ConfigFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("model: reading the config of checkpoint %s: %w", path, err)
	}
	return b, nil
}

// Load reads a checkpoint (any path checkpoint.LoadAll accepts), detects its
// architecture among archs (Detect, from its metadata and ConfigFile) and
// rebuilds the network from its tensors.
func Load(archs []Architecture, path string) (Network, error) {
	tensors, meta, err := checkpoint.LoadAll(path)
	if err != nil {
		return nil, fmt.Errorf("model: loading model: %w", err)
	}
	config, err := ConfigFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Detect(archs, path, meta, config)
	if err != nil {
		return nil, err
	}
	net, err := cfg.FromTensors(tensors)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return net, nil
}
