//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package checkpoint

import (
	"errors"
	"os"
)

// mmapFile is unavailable on this platform; readers fall back to positioned
// reads (os.File.ReadAt), which are just as lazy.
func mmapFile(f *os.File, size int64) ([]byte, error) {
	return nil, errors.New("memory mapping is not supported on this platform")
}

func munmap(b []byte) error { return nil }
