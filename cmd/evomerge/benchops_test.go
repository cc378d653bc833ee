package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/lab"
)

func TestBenchOperatorsFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"extra"}, "takes no positional arguments"},
		{[]string{"--stats-examples", "0"}, "--stats-examples 0: give a positive count"},
		{[]string{"--nope"}, "flag provided but not defined"},
	} {
		err := runOperatorsBenchmark(context.Background(), tc.args, io.Discard, io.Discard)
		var usage usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
	}
}

// The smoke recipe trains tiny experts in about a second; through the
// command, the flags reach the benchmark and the table lands in --out with
// the command line.
func TestOperatorsBenchmarkSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the smoke benchmark")
	}
	if _, err := data.LocateMNIST(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	out := filepath.Join(t.TempDir(), "results.md")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "operators", "--smoke", "--cache-dir", testCache, "--out", out, "--stats-examples", "32"}
	if code := execute(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if got, want := stdout.String(), "wrote the operators results to "+out+"\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{lab.OperatorsBegin, "## Merge operators on mnist-tasks", "| linear | defaults |",
		"Produced by `evomerge bench operators --out " + out + " --stats-examples 32 --smoke`", "first 32 training images", lab.OperatorsEnd} {
		if !strings.Contains(text, want) {
			t.Errorf("results lack %q", want)
		}
	}
}
