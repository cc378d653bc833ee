package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// Through the command, the flags reach the measurements: one tiny run.
func TestPerfBenchmarkFlagsReachTheRun(t *testing.T) {
	args := []string{"bench", "perf", "--sizes", "8", "--gonum-max", "4", "--images", "40", "--batch", "16",
		"--merge-elements", "4096", "--merge-models", "3", "--repeat", "1", "--min-time", "1ms", "--threads", "1",
		"--python", "", "--skip", "eval"}
	var out, errOut bytes.Buffer
	if code := execute(context.Background(), args, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	text := out.String()
	for _, want := range []string{"GOMAXPROCS=1", "best of 1 rounds of at least 1ms", "reference: skipped",
		"Forward pass, 40 images of 1×28×28 in batches of 16", "Merges of 3 models, one tensor of 4096 float32 values"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Full evaluations") {
		t.Errorf("--skip eval did not skip the eval part:\n%s", text)
	}
	// Size 8 is above --gonum-max 4: no gonum figure.
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[0] == "8" && f[3] != "-" {
			t.Errorf("GEMM row %q has a gonum figure above --gonum-max", line)
		}
	}
}

func TestPerfBenchmarkRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--sizes", "12,x"}, {"--sizes", "0"}, {"--repeat", "0"}, {"--skip", "gpu"},
		{"--merge-elements", "1000"}, {"--merge-models", "1"}, {"--min-time", "0s"}, {"extra"}, {"--threads", "0"},
	} {
		var out, errOut bytes.Buffer
		err := runPerfBenchmark(context.Background(), args, &out, &errOut)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}
