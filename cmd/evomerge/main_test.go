package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestExecuteExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no arguments", nil, exitUsage, "", "Usage:"},
		{"help", []string{"help"}, exitOK, "Commands:", ""},
		{"--help", []string{"--help"}, exitOK, "Exit codes:", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"typo suggests", []string{"verison"}, exitUsage, "", `Did you mean "version"?`},
		{"version", []string{"version"}, exitOK, "evomerge " + version, ""},
		{"--version", []string{"--version"}, exitOK, "evomerge " + version, ""},
		{"version rejects arguments", []string{"version", "extra"}, exitUsage, "", "takes no arguments"},
		{"bad flag", []string{"version", "--nope"}, exitUsage, "", "flag provided but not defined"},
		{"command help", []string{"help", "version"}, exitOK, "", "Usage: evomerge version"},
		{"bench dispatches operators", []string{"bench", "operators", "--nope"}, exitUsage, "", "Usage: evomerge bench operators"},
		{"bench operators help", []string{"bench", "operators", "--help"}, exitOK, "", "Fisher and RegMean statistics"},
		{"bench dispatches perf", []string{"bench", "perf", "--nope"}, exitUsage, "", "Usage: evomerge bench perf"},
		{"claims lists claims", []string{"claims"}, exitUsage, "", "fw-scaling"},
		{"claims help", []string{"claims", "--help"}, exitOK, "", "m2n2-specialists"},
		{"unknown claim", []string{"claims", "nope"}, exitUsage, "", `unknown claim "nope"`},
		{"claim flags reach the claim", []string{"claims", "fw-scaling", "--bogus"}, exitUsage, "", "Usage: evomerge claims fw-scaling"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}

func TestReportMapsErrorsToExitCodes(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"nil", context.Background(), nil, exitOK},
		{"failure", context.Background(), errors.New("disk full"), exitFailure},
		{"usage", context.Background(), usagef("missing --model"), exitUsage},
		{"wrapped usage", context.Background(), fmt.Errorf("eval: %w", usagef("bad")), exitUsage},
		{"canceled error", context.Background(), fmt.Errorf("training: %w", context.Canceled), exitInterrupted},
		{"cancelled context", cancelled, errors.New("stopped early"), exitInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := report(tc.err, "x", tc.ctx, &stderr); got != tc.want {
				t.Fatalf("exit code %d, want %d", got, tc.want)
			}
			if tc.err != nil && !strings.Contains(stderr.String(), tc.err.Error()) {
				t.Fatalf("stderr %q does not show the error %q", stderr.String(), tc.err)
			}
		})
	}
}
