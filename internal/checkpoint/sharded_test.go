package checkpoint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// shardPlan is a small model: 6 blocks of a 4x4 weight (64 bytes F32) and a
// 4-bias (16 bytes), plus an embedding and a head.
func shardPlan() ([]TensorInfo, map[string][]float32) {
	var plan []TensorInfo
	data := map[string][]float32{}
	add := func(name string, shape ...int) {
		info := TensorInfo{Name: name, Shape: shape}
		plan = append(plan, info)
		v := make([]float32, info.NumElements())
		for i := range v {
			v[i] = float32(len(data)*100 + i)
		}
		data[name] = v
	}
	for i := range 6 {
		add(fmt.Sprintf("layers.%d.weight", i), 4, 4)
		add(fmt.Sprintf("layers.%d.bias", i), 4)
	}
	add("embed.weight", 8, 4)
	add("heads.digits.weight", 10, 4)
	return plan, data
}

func TestShardedWriterRoundTrip(t *testing.T) {
	plan, data := shardPlan()
	dir := filepath.Join(t.TempDir(), "out")
	md := map[string]string{"evomerge.spec": "{}", "format": "pt"}
	w, err := NewShardedWriter(dir, plan, md, ShardOptions{MaxShardBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	// Write concurrently, in reverse plan order.
	var wg sync.WaitGroup
	errs := make([]error, len(plan))
	for i := len(plan) - 1; i >= 0; i-- {
		wg.Go(func() { errs[i] = w.WriteTensor(plan[i].Name, data[plan[i].Name]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteTensor("embed.weight", data["embed.weight"]); err == nil || !strings.Contains(err.Error(), "written twice") {
		t.Errorf("second write: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	// Canonical order: embed(128 B) | heads(160 B) | layers.0.bias+weight(80), layers.1(80) | ...
	// Greedy packing under 200 bytes: [embed] [heads] [l0 l1] [l2 l3] [l4 l5].
	want := []string{"model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors", "model-00003-of-00005.safetensors",
		"model-00004-of-00005.safetensors", "model-00005-of-00005.safetensors", IndexFileName}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("directory holds %v, want %v", names, want)
	}
	if got := w.Files(); len(got) != 6 {
		t.Errorf("Files = %v", got)
	}

	// The index, parsed independently.
	raw, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range plan {
		total += int64(p.NumElements()) * 4
	}
	if got := index.Metadata["total_size"]; got != float64(total) {
		t.Errorf("total_size = %v, want %d", got, total)
	}
	if index.Metadata["format"] != "pt" || len(index.WeightMap) != len(plan) {
		t.Errorf("index = %s", raw)
	}
	if index.WeightMap["layers.3.weight"] != "model-00004-of-00005.safetensors" {
		t.Errorf("layers.3.weight is in %s", index.WeightMap["layers.3.weight"])
	}
	for _, f := range want[:5] {
		checkByteValid(t, filepath.Join(dir, f), "F32")
	}

	for _, path := range []string{dir, filepath.Join(dir, IndexFileName)} {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		wantNames := make([]string, 0, len(plan))
		for _, p := range plan {
			wantNames = append(wantNames, p.Name)
		}
		SortNames(wantNames)
		if !slices.Equal(r.Names(), wantNames) {
			t.Errorf("Names = %v", r.Names())
		}
		for _, p := range plan {
			got, err := r.Read(p.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, data[p.Name]) {
				t.Errorf("%s = %v, want %v", p.Name, got, data[p.Name])
			}
		}
		gotMD := r.Metadata()
		if gotMD["evomerge.spec"] != "{}" || gotMD["total_size"] != fmt.Sprint(total) {
			t.Errorf("Metadata = %v", gotMD)
		}
		r.Close()
	}
}

func TestShardedWriterSingleFileAndDTypes(t *testing.T) {
	plan := []TensorInfo{
		{Name: "a", Shape: []int{2}},
		{Name: "b", Shape: []int{2}, DType: F32}, // overrides the BF16 default
	}
	dir := t.TempDir()
	w, err := NewShardedWriter(dir, plan, nil, ShardOptions{DType: BF16})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("a", []float32{1.00390625, 2}); err != nil { // 1+2^-8 ties to 1 in bf16
		t.Fatal(err)
	}
	if err := w.WriteTensor("b", []float32{1.00390625, 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 || files[0].Name() != SingleFileName {
		t.Fatalf("directory holds %v, want only %s", files, SingleFileName)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if info, _ := r.Info("a"); info.DType != BF16 {
		t.Errorf("a is %s, want BF16", info.DType)
	}
	a, _ := r.Read("a")
	b, _ := r.Read("b")
	if !slices.Equal(a, []float32{1, 2}) || !slices.Equal(b, []float32{1.00390625, 2}) {
		t.Errorf("a = %v, b = %v", a, b)
	}
}

func TestShardedWriterCommitListsMissingAndAbortCleansUp(t *testing.T) {
	plan, data := shardPlan()
	dir := t.TempDir()
	w, err := NewShardedWriter(dir, plan, nil, ShardOptions{MaxShardBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan {
		if p.Name == "layers.4.bias" || p.Name == "embed.weight" {
			continue
		}
		if err := w.WriteTensor(p.Name, data[p.Name]); err != nil {
			t.Fatal(err)
		}
	}
	err = w.Commit()
	if err == nil || !strings.Contains(err.Error(), "2 planned tensors were never written: embed.weight, layers.4.bias") {
		t.Fatalf("Commit error = %v", err)
	}
	if err := w.WriteTensor("nope", nil); err == nil || !strings.Contains(err.Error(), `"nope" is not in the plan`) {
		t.Errorf("unplanned tensor: %v", err)
	}
	if err := w.WriteTensor("embed.weight", []float32{1}); err == nil || !strings.Contains(err.Error(), "1 values were given") {
		t.Errorf("short data: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("Abort left %v", left)
	}
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if err := w.WriteTensor("embed.weight", data["embed.weight"]); err == nil {
		t.Error("WriteTensor after Abort succeeded")
	}
}

func TestShardedWriterRejectsBadPlans(t *testing.T) {
	tests := []struct {
		name string
		plan []TensorInfo
		opt  ShardOptions
		want string
	}{
		{"duplicate", []TensorInfo{{Name: "a", Shape: []int{1}}, {Name: "a", Shape: []int{1}}}, ShardOptions{}, "twice in the plan"},
		{"negative dim", []TensorInfo{{Name: "a", Shape: []int{-2}}}, ShardOptions{}, "negative dimension"},
		{"bad default dtype", []TensorInfo{{Name: "a", Shape: []int{1}}}, ShardOptions{DType: U8}, `cannot write dtype "U8"`},
		{"bad tensor dtype", []TensorInfo{{Name: "a", Shape: []int{1}, DType: "Q4_K"}}, ShardOptions{}, `tensor "a": cannot write dtype "Q4_K"`},
		{"negative cap", []TensorInfo{{Name: "a", Shape: []int{1}}}, ShardOptions{MaxShardBytes: -1}, "MaxShardBytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := NewShardedWriter(dir, tc.plan, nil, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left %v", left)
			}
		})
	}
}

// writeShards writes two hand-made shards and an index into dir.
func writeShards(t *testing.T, dir string, index string) {
	t.Helper()
	one := []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "b", Shape: []int{1}, Data: []float32{2}}}
	two := []Tensor{{Name: "c", Shape: []int{1}, Data: []float32{3}}, {Name: "b", Shape: []int{1}, Data: []float32{9}}}
	if err := Write(filepath.Join(dir, "s1.safetensors"), one, map[string]string{"format": "pt"}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "s2.safetensors"), two, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenIndexRejectsInconsistentShards(t *testing.T) {
	tests := []struct {
		name   string
		index  string
		tensor string
		want   string
	}{
		{"tensor in two shards", `{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}}`, "b", "two shards"},
		{"listed tensor missing from shard", `{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s1.safetensors"}}`, "c", "does not"},
		{"missing shard file", `{"weight_map":{"a":"s3.safetensors"}}`, "", "s3.safetensors"},
		{"shard escapes directory", `{"weight_map":{"a":"../s1.safetensors"}}`, "a", "plain relative path"},
		{"absolute shard path", `{"weight_map":{"a":"/etc/passwd"}}`, "a", "plain relative path"},
		{"no weight_map", `{"metadata":{}}`, "", `no "weight_map"`},
		{"weight_map not object", `{"weight_map":[]}`, "", "weight_map is an array"},
		{"duplicate weight_map key", `{"weight_map":{"a":"s1.safetensors","a":"s2.safetensors"}}`, "a", "more than once in weight_map"},
		{"shard name not a string", `{"weight_map":{"a":1}}`, "a", "want the shard's file name"},
		{"invalid json", `{"weight_map":`, "", "not a valid JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeShards(t, dir, tc.index)
			_, err := Open(dir)
			if err == nil {
				t.Fatalf("Open succeeded, want %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, IndexFileName) {
				t.Errorf("error %q does not contain %q and the index path", msg, tc.want)
			}
			if tc.tensor != "" && !strings.Contains(msg, fmt.Sprintf("tensor %q", tc.tensor)) {
				t.Errorf("error %q does not name tensor %q", msg, tc.tensor)
			}
		})
	}
}

func TestOpenIndexListsUnindexedTensor(t *testing.T) {
	dir := t.TempDir()
	one := []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "extra", Shape: []int{1}, Data: []float32{2}}}
	if err := Write(filepath.Join(dir, "s1.safetensors"), one, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"a":"s1.safetensors"}}`), 0o644)
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), `tensor "extra": shard s1.safetensors holds this tensor but weight_map does not list it`) {
		t.Errorf("error = %v", err)
	}
}

func TestOpenDirectoryWithIndexAndSingleFileIsAmbiguous(t *testing.T) {
	dir := t.TempDir()
	writeShards(t, dir, `{"weight_map":{"a":"s1.safetensors"}}`)
	if err := Write(filepath.Join(dir, SingleFileName), []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}}, nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "holds both") {
		t.Errorf("error = %v", err)
	}
}

func TestShardedWriterEmptyPlan(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShardedWriter(dir, nil, map[string]string{"k": "v"}, ShardOptions{MaxShardBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Names()) != 0 || r.Metadata()["k"] != "v" {
		t.Errorf("Names = %v, Metadata = %v", r.Names(), r.Metadata())
	}
}

// TestShardedWriterOversizedTensorGetsOwnShard checks the packing rule: a
// tensor larger than MaxShardBytes sits alone in its shard.
func TestShardedWriterOversizedTensorGetsOwnShard(t *testing.T) {
	plan := []TensorInfo{{Name: "a", Shape: []int{2}}, {Name: "b", Shape: []int{100}}, {Name: "c", Shape: []int{2}}}
	dir := t.TempDir()
	w, err := NewShardedWriter(dir, plan, nil, ShardOptions{MaxShardBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan {
		if err := w.WriteTensor(p.Name, make([]float32, p.NumElements())); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, IndexFileName))
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "model-00001-of-00003.safetensors", "b": "model-00002-of-00003.safetensors", "c": "model-00003-of-00003.safetensors"}
	for k, v := range want {
		if index.WeightMap[k] != v {
			t.Errorf("%s in %s, want %s", k, index.WeightMap[k], v)
		}
	}
}
