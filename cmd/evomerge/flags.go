package main

// Flag helpers shared by the commands.

import "flag"

// benchDataFlags are the flags that locate benchmarks (bench, eval).
type benchDataFlags struct {
	cacheDir string
	mnistDir string
}

func (f *benchDataFlags) register(fs *flag.FlagSet) { registerDataFlags(fs, &f.cacheDir, &f.mnistDir) }

// registerDataFlags registers --cache-dir and --mnist-dir into the given
// strings.
func registerDataFlags(fs *flag.FlagSet, cacheDir, mnistDir *string) {
	fs.StringVar(cacheDir, "cache-dir", "", "benchmark cache root (default $EVOMERGE_CACHE/bench or the user cache dir)")
	fs.StringVar(mnistDir, "mnist-dir", "", "directory holding the MNIST idx files (default $EVOMERGE_MNIST_DIR or the GoMNIST module)")
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments (flag.Parse alone stops at the first positional one)
// and returns the positional arguments. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// commandLine is prefix followed by the named flags of fs whose values
// differ from their defaults, in the order given: the command line a result
// records. Boolean flags appear without a value.
func commandLine(fs *flag.FlagSet, prefix string, names ...string) string {
	s := prefix
	for _, name := range names {
		f := fs.Lookup(name)
		if f == nil || f.Value.String() == f.DefValue {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			s += " --" + name
		} else {
			s += " --" + name + " " + f.Value.String()
		}
	}
	return s
}
