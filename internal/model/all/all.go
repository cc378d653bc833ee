// Package all lists the architectures evomerge's Go-native backend runs and
// detects and loads checkpoints with them.
//
// # Contract
//
//   - Architectures returns the known architectures in detection order:
//     mlp, then cnn. The list is written out here, once; no package
//     registers itself.
//   - Detect and Load try every architecture on a checkpoint's metadata and
//     config.json (model.Detect, model.Load); a checkpoint none recognises
//     is an error naming it, listing the known architectures and saying why
//     each declined.
package all

import (
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/cnn"
	"github.com/evomerge/evomerge/internal/model/mlp"
)

// Architectures returns the known architectures, in detection order.
func Architectures() []model.Architecture {
	return []model.Architecture{mlp.Architecture(), cnn.Architecture()}
}

// Detect returns the config of a checkpoint from its metadata and config
// file bytes (nil: none); path names it in messages.
func Detect(path string, meta map[string]string, config []byte) (model.Config, error) {
	return model.Detect(Architectures(), path, meta, config)
}

// Load reads the checkpoint at path (a safetensors file, a sharded index or
// a directory holding one) and rebuilds its network.
func Load(path string) (model.Network, error) {
	return model.Load(Architectures(), path)
}
