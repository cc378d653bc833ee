package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/benchmarks"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/internal/data"
	"github.com/evomerge/evomerge/internal/model"
	"github.com/evomerge/evomerge/internal/model/mlp"
	"github.com/evomerge/evomerge/internal/tasks"
)

func TestEvalUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, "needs --model"},
		{[]string{"--model", "m.safetensors"}, "needs --benchmark"},
		{[]string{"--model", "m", "--benchmark", "cifar"}, `unknown benchmark "cifar"`},
		{[]string{"--model", "m", "--benchmark", "mnist-tasks", "--split", "train"}, `--split "train"`},
		{[]string{"--model", "m", "--benchmark", "mnist-tasks", "--split", "dev"}, `--split "dev"`},
		{[]string{"m.safetensors"}, "no positional arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdEval(context.Background(), tc.args, io.Discard, io.Discard)
			var usage usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want usage error mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// TestEvalJSON scores a saved checkpoint on m2n2-scratch (nothing to train)
// and checks the JSON against a direct evaluation.
func TestEvalJSON(t *testing.T) {
	dir := t.TempDir()
	net, err := benchmarks.M2N2Config().New(5)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.safetensors")
	if err := model.Save(path, net, nil); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	var out, errOut bytes.Buffer
	args := []string{"--model", path, "--benchmark", benchmarks.M2N2ScratchName, "--json", "--split", "validation", "--cache-dir", cache}
	if err := cmdEval(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var got benchmarks.Scores
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	var raw map[string]any
	json.Unmarshal(out.Bytes(), &raw)
	for _, key := range []string{"benchmark", "version", "split", "model", "tasks", "mean_accuracy"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	if got.Benchmark != benchmarks.M2N2ScratchName || got.Split != data.Validation || got.Model != path || len(got.Tasks) != 1 {
		t.Fatalf("scores %+v", got)
	}
	b, err := benchmarks.Prepare(context.Background(), benchmarks.M2N2ScratchName, benchmarks.Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	val, err := b.Data(benchmarks.M2N2Head, data.Validation)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tasks.ScoreDataset(context.Background(), net, val, benchmarks.M2N2Head, tasks.ScoreOptions{Batch: 64})
	if err != nil {
		t.Fatal(err)
	}
	ts := got.Tasks[0]
	if ts.Task != benchmarks.M2N2Head || ts.Examples != 5000 || ts.Accuracy != want.Accuracy || ts.HeadSource != "model" {
		t.Fatalf("task score %+v, want accuracy %v on 5000 examples", ts, want.Accuracy)
	}
	if diff := ts.Loss - want.Loss; diff > 1e-9 || diff < -1e-9 {
		t.Fatalf("loss %v, want %v", ts.Loss, want.Loss)
	}

}

func TestPrintScores(t *testing.T) {
	acc, norm := 0.9, 0.95
	s := &benchmarks.Scores{Benchmark: "b", Version: "1", Split: data.Test, Model: "m.safetensors", MeanAccuracy: 0.5, MeanNormalized: &norm,
		Tasks: []benchmarks.TaskScore{
			{Task: "alpha", Accuracy: 0.5, Loss: 1.25, Examples: 10, HeadSource: "expert", ExpertAccuracy: &acc, Normalized: &norm},
			{Task: "beta", Accuracy: 0.5, Loss: 2, Examples: 10, HeadSource: "model"},
		}}
	var out bytes.Buffer
	if err := printScores(&out, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, want := range [][]string{
		{"m.safetensors", "b", "test"},
		{"task", "accuracy", "loss", "examples", "head", "normalized"},
		{"alpha", "0.5000", "1.2500", "10", "expert", "0.9500"},
		{"beta", "0.5000", "2.0000", "10", "model", "-"},
		{"mean", "0.5000", "0.9500"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}

func TestEvalBadModel(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	missing := filepath.Join(dir, "missing.safetensors")
	err := cmdEval(context.Background(), []string{"--model", missing, "--benchmark", benchmarks.M2N2ScratchName, "--cache-dir", cache}, io.Discard, io.Discard)
	var usage usageError
	if err == nil || errors.As(err, &usage) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing model: error %v should be a failure naming %s", err, missing)
	}
	// A model of another architecture is rejected, not mis-scored.
	wrong, err := mlp.Config{Input: [3]int{1, 28, 28}, Hidden: []int{4}, Heads: []model.Head{{Name: benchmarks.M2N2Head, Classes: 10}}}.New(1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wrong.safetensors")
	if err := model.Save(path, wrong, nil); err != nil {
		t.Fatal(err)
	}
	err = cmdEval(context.Background(), []string{"--model", path, "--benchmark", benchmarks.M2N2ScratchName, "--cache-dir", cache}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("wrong architecture: error %v", err)
	}
}

func TestEvalRefusesNonFiniteWeights(t *testing.T) {
	dir := t.TempDir()
	m, err := mlp.Config{Input: [3]int{1, 8, 8}, Hidden: []int{4}, Heads: []model.Head{{Name: benchmarks.M2N2Head, Classes: 10}}}.New(1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nan.safetensors")
	if err := model.Save(path, m, nil); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := checkpoint.LoadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	ts[0].Data[0] = float32(math.Inf(-1))
	if err := checkpoint.Write(path, ts, meta, checkpoint.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = cmdEval(context.Background(), []string{"--model", path, "--benchmark", benchmarks.M2N2ScratchName, "--cache-dir", filepath.Join(dir, "cache")}, io.Discard, io.Discard)
	for _, want := range []string{path, fmt.Sprintf("tensor %q holds 1 non-finite values", ts[0].Name), "is -Inf", "--allow-nonfinite"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}
