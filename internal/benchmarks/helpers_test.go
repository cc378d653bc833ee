package benchmarks

import (
	"sync"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
)

var (
	realOnce  sync.Once
	realMNIST *data.MNIST
	realErr   error
)

// loadRealMNIST loads the real dataset once per test binary.
func loadRealMNIST(t *testing.T) *data.MNIST {
	t.Helper()
	realOnce.Do(func() { realMNIST, realErr = data.LoadMNIST("") })
	if realErr != nil {
		t.Fatalf("real MNIST: %v", realErr)
	}
	return realMNIST
}
