package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/evomerge/evomerge/internal/benchmarks"
)

// linkBenchmark makes dir a model folder of the prepared benchmark's
// checkpoints: dir/base/model.safetensors and dir/<task>/model.safetensors
// for each expert, as symbolic links into the cache, so that configurations
// (the examples) can name them by relative path. Links it made before are
// replaced; any other file in the way is an error.
func linkBenchmark(w io.Writer, b *benchmarks.Benchmark, dir string) error {
	type link struct{ name, target string }
	var links []link
	if base, ok := b.Base(); ok {
		links = append(links, link{"base", base.Path})
	}
	for _, m := range b.Pool() {
		name := m.Task
		if name == "" {
			name = m.Name
		}
		links = append(links, link{name, m.Path})
	}
	if len(links) == 0 {
		return fmt.Errorf("bench prepare --link: benchmark %s has no trained checkpoints to link", b.Name)
	}
	for _, l := range links {
		sub := filepath.Join(dir, l.name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return fmt.Errorf("bench prepare --link: %w", err)
		}
		path := filepath.Join(sub, "model.safetensors")
		if fi, err := os.Lstat(path); err == nil {
			if fi.Mode()&fs.ModeSymlink == 0 {
				return fmt.Errorf("bench prepare --link: %s exists and is not a link evomerge made: move it away or link into another directory", path)
			}
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("bench prepare --link: %w", err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("bench prepare --link: %w", err)
		}
		if err := os.Symlink(l.target, path); err != nil {
			return fmt.Errorf("bench prepare --link: %w", err)
		}
		fmt.Fprintf(w, "linked %s -> %s\n", path, l.target)
	}
	return nil
}
