package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/benchmarks"
)

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, "needs a subcommand"},
		{[]string{"frob"}, `unknown bench subcommand "frob"`},
		{[]string{"prepare"}, "exactly one benchmark name"},
		{[]string{"prepare", "a", "b"}, "exactly one benchmark name"},
		{[]string{"prepare", "cifar"}, `unknown benchmark "cifar"`},
		{[]string{"list", "x"}, "takes no arguments"},
		{[]string{"prepare", "mnist-tasks", "--nope"}, "flag provided but not defined"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdBench(context.Background(), tc.args, io.Discard, io.Discard)
			var usage usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want usage error mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestBenchList(t *testing.T) {
	var out bytes.Buffer
	if err := cmdBench(context.Background(), []string{"list"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(out.String()); !slices.Equal(got, benchmarks.Names()) {
		t.Fatalf("bench list printed %v, want %v", got, benchmarks.Names())
	}
}

func TestBenchPrepareSmoke(t *testing.T) {
	cache := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"prepare", "--smoke", "mnist-tasks", "--cache-dir", cache}
	if err := cmdBench(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"mnist-tasks version " + benchmarks.MNISTTasksVersion + " (recipe smoke)",
		filepath.Join(cache, "mnist-tasks-"+benchmarks.MNISTTasksVersion),
		"digits", "rotated", "permuted", "mod3", "mean",
		"base", "expert-digits", "expert-rotated", "expert-permuted", "expert-mod3",
		"plain average", "task arithmetic λ=",
		"points below the experts",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(errOut.String(), "expert rotated: fine-tuned") {
		t.Errorf("progress not reported on stderr: %s", errOut.String())
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantPos []string
		wantX   string
	}{
		{[]string{"a", "-x", "1", "b"}, []string{"a", "b"}, "1"},
		{[]string{"-x", "2", "a"}, []string{"a"}, "2"},
		{[]string{"a", "--", "-x", "3"}, []string{"a", "-x", "3"}, ""},
		{nil, nil, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		x := fs.String("x", "", "")
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pos, tc.wantPos) || *x != tc.wantX {
			t.Fatalf("parseInterleaved(%q) = %q, x=%q; want %q, x=%q", tc.args, pos, *x, tc.wantPos, tc.wantX)
		}
	}
}
