package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/lab"
	"github.com/evomerge/evomerge/search/adamerging"
)

// Every claim of lab has its flags here, and nothing else does.
func TestClaimFlagsCoverEveryClaim(t *testing.T) {
	var names []string
	for _, c := range lab.Claims() {
		names = append(names, c.Name)
		if claimFlags[c.Name] == nil {
			t.Errorf("claim %s has no flag parser in claimFlags", c.Name)
		}
	}
	for name := range claimFlags {
		if !slices.Contains(names, name) {
			t.Errorf("claimFlags parses %s, which lab.Claims does not list", name)
		}
	}
}

// The flags reach the claim's options, and the command line recorded with
// the results is the one of before: M2N2 and MAP as typed, AdaMerging and
// FW the flags that differ from their defaults, in a fixed order.
func TestClaimFlagsMakeOptions(t *testing.T) {
	for _, tc := range []struct {
		claim string
		args  []string
		want  lab.ClaimOptions
	}{
		{"m2n2-scratch", []string{"--smoke", "--seeds", "2", "--evals", "40", "--cache-dir", "c"},
			lab.ClaimOptions{Smoke: true, Seeds: 2, Evaluations: 40, FitnessExamples: 1000, CacheDir: "c",
				Command: "evomerge claims m2n2-scratch --smoke --seeds 2 --evals 40 --cache-dir c"}},
		{"m2n2-specialists", nil, lab.ClaimOptions{Seeds: 5, Evaluations: 5000, FitnessExamples: 1000, Sweep: 1000,
			Command: "evomerge claims m2n2-specialists"}},
		{"map", []string{"--grid2", "5", "--out", "r.md", "--test-examples", "7"}, lab.ClaimOptions{Seeds: 3, Evaluations: 100,
			FitnessExamples: 1000, TestExamples: 7, Grid2: 5, Grid3: 21, ResultsFile: "r.md",
			Command: "evomerge claims map --grid2 5 --out r.md --test-examples 7"}},
		{"adamerging", []string{"--evo-evals", "6", "--smoke", "--cache-dir", "c", "--out", "r.md", "--seeds", "2", "--steps", "4", "--mnist-dir", "m"},
			lab.ClaimOptions{Smoke: true, CacheDir: "c", MNISTDir: "m", ResultsFile: "r.md", Seeds: 2, Steps: 4, EvoEvaluations: 6,
				Command: "evomerge claims adamerging --out r.md --seeds 2 --steps 4 --smoke --evo-evals 6"}},
		{"adamerging", []string{"--seeds", "3", "--smoke=false"}, lab.ClaimOptions{Seeds: 3, Steps: adamerging.DefaultSteps, EvoEvaluations: 240,
			Command: "evomerge claims adamerging"}},
		{"fw-scaling", []string{"--eta", "0.5", "--added", "0,2", "--iterations", "3", "--proxy", "20"},
			lab.ClaimOptions{Seeds: 3, Steps: adamerging.DefaultSteps, Added: []int{0, 2}, Proxy: 20, Iterations: 3, Eta: 0.5,
				Command: "evomerge claims fw-scaling --added 0,2 --proxy 20 --iterations 3 --eta 0.5"}},
		{"fw-scaling", nil, lab.ClaimOptions{Seeds: 3, Steps: adamerging.DefaultSteps, Added: []int{0, 4, 8, 16}, Proxy: 200, Iterations: 10, Eta: 1,
			Command: "evomerge claims fw-scaling"}},
	} {
		got, err := claimFlags[tc.claim](tc.args, io.Discard)
		if err != nil {
			t.Errorf("%s %q: %v", tc.claim, tc.args, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %q:\n got %+v\nwant %+v", tc.claim, tc.args, got, tc.want)
		}
	}
}

// The M2N2 and MAP claims report flag problems as failures (exit 1), the
// AdaMerging and FW claims as usage errors (exit 2).
func TestClaimFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"m2n2-scratch", "--evals", "3"}, false, "--evals 3 (at least 10)"},
		{[]string{"m2n2-scratch", "--seeds", "0"}, false, "--seeds 0 (at least 1)"},
		{[]string{"m2n2-scratch", "extra"}, false, `unexpected arguments ["extra"]`},
		{[]string{"m2n2-scratch", "--nope"}, false, "flag provided but not defined"},
		{[]string{"m2n2-specialists", "--sweep", "1"}, false, "--sweep 1: give at least 2 ratios"},
		{[]string{"map", "--grid3", "2"}, false, "--grid3 2: give at least 3"},
		{[]string{"adamerging", "--seeds", "0"}, true, "--seeds 0: give a positive count"},
		{[]string{"adamerging", "--evo-evals", "0"}, true, "--evo-evals 0"},
		{[]string{"adamerging", "x"}, true, "takes no positional arguments"},
		{[]string{"fw-scaling", "--added", "x"}, true, `--added "x"`},
		{[]string{"fw-scaling", "--added", "1,-2"}, true, `--added "1,-2"`},
		{[]string{"fw-scaling", "--eta", "0"}, true, "--proxy, --iterations and --eta must be positive"},
		{[]string{"fw-scaling", "--steps", "0"}, true, "--steps 0"},
	} {
		err := cmdClaims(context.Background(), tc.args, io.Discard, io.Discard)
		var usage usageError
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &usage) != tc.usage {
			t.Errorf("%q: error %v (usage error: %v), want %q (usage error: %v)", tc.args, err, errors.As(err, &usage), tc.want, tc.usage)
		}
	}
	if err := cmdClaims(context.Background(), []string{"map", "-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("map -h: %v, want flag.ErrHelp", err)
	}
}

// One claim end to end through the command: its smoke version writes the
// table and the command line into the results file.
func TestClaimsCommandFWScalingSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the smoke benchmark")
	}
	if _, err := data.LocateMNIST(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	out := filepath.Join(t.TempDir(), "results.md")
	var stdout, stderr bytes.Buffer
	args := []string{"claims", "fw-scaling", "--smoke", "--cache-dir", testCache, "--out", out,
		"--seeds", "1", "--steps", "3", "--added", "0,2", "--proxy", "20", "--iterations", "3"}
	if code := execute(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if got, want := stdout.String(), "wrote the fw results to "+out+"\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	text, _ := os.ReadFile(out)
	for _, want := range []string{lab.AdaFWBegin, "## FW-Merging scaling", "| method | +0 | +2 |",
		"`evomerge claims fw-scaling --out " + out + " --seeds 1 --steps 3 --smoke --added 0,2 --proxy 20 --iterations 3`"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("results lack %q:\n%s", want, text)
		}
	}
}
