package operators

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// writeWithBuffer writes float tensors plus an I64 buffer "pos.position_ids"
// holding ids (a GPT-2/BERT-style integer buffer).
func writeWithBuffer(t *testing.T, path string, ts []checkpoint.Tensor, ids []int64) {
	t.Helper()
	plan := []checkpoint.TensorInfo{{Name: "pos.position_ids", DType: checkpoint.I64, Shape: []int{1, len(ids)}}}
	for _, x := range ts {
		plan = append(plan, checkpoint.TensorInfo{Name: x.Name, Shape: x.Shape})
	}
	w, err := checkpoint.NewShardedWriter(path, plan, nil, checkpoint.ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if err := w.WriteTensor(x.Name, x.Data); err != nil {
			t.Fatal(err)
		}
	}
	raw := make([]byte, 8*len(ids))
	for i, v := range ids {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	if err := w.WriteRaw("pos.position_ids", raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestStreamMergeIntegerBuffers(t *testing.T) {
	lin := func(v float32) []checkpoint.Tensor {
		return []checkpoint.Tensor{tensorOf("layers.0.weight", []int{2}, v, 2*v)}
	}
	ids := []int64{0, 1, 2, 1 << 40}
	tests := []struct {
		name     string
		tasks    []string
		otherIDs []int64
		wantErr  []string
	}{
		{"not listed: refused, naming the tensor and task_tensors", nil, ids,
			[]string{`"pos.position_ids" (I64 in`, "not floating point", "task_tensors"}},
		{"listed: copied through unchanged", []string{"heads.", "pos.position_ids"}, ids, nil},
		{"listed but the inputs differ", []string{"pos."}, []int64{0, 1, 2, 3},
			[]string{`tensor "pos.position_ids" (I64) differs between`, "must agree"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "base")
			writeWithBuffer(t, base, lin(1), ids)
			m1 := filepath.Join(dir, "m1")
			writeWithBuffer(t, m1, lin(3), tt.otherIDs)
			src, err := OpenCheckpointSource(base, []string{m1})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			opts := PlanOptions{}
			if tt.tasks != nil {
				opts.TaskTensors = &TaskTensors{Patterns: tt.tasks}
			}
			op, err := Builtin().Get("linear")
			if err != nil {
				t.Fatal(err)
			}
			plan, err := NewPlan(op, src, Settings{}, opts)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			rep, err := StreamMerge(context.Background(), plan, src, out, StreamOptions{})
			if tt.wantErr != nil {
				for _, w := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want it to contain %q", err, w)
					}
				}
				if _, statErr := os.Stat(out); statErr == nil {
					t.Error("a refused merge left its output directory")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Tensors != 2 {
				t.Errorf("report counts %d tensors, want 2 (one merged, one copied)", rep.Tensors)
			}
			r, err := checkpoint.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			info, _ := r.Info("pos.position_ids")
			got, err := r.ReadRaw("pos.position_ids")
			if err != nil {
				t.Fatal(err)
			}
			want, _ := src.ReadRaw(-1, "pos.position_ids")
			if info.DType != checkpoint.I64 || !slices.Equal(info.Shape, []int{1, 4}) || string(got) != string(want) {
				t.Errorf("copied buffer %s %v %x, want I64 [1 4] %x", info.DType, info.Shape, got, want)
			}
			// linear averages the expert models (the base is no input of
			// it): the one expert's weights.
			if w, _ := r.Read("layers.0.weight"); !slices.Equal(w, []float32{3, 6}) {
				t.Errorf("merged weight %v, want model 1's [3 6]", w)
			}
		})
	}
}

func TestCheckpointSourceRawTensorMismatches(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	writeWithBuffer(t, base, []checkpoint.Tensor{tensorOf("layers.0.weight", []int{2}, 1, 2)}, []int64{0, 1})
	// The same name as a float tensor in another model.
	asFloat := filepath.Join(dir, "float.safetensors")
	writeCheckpoint(t, asFloat, []checkpoint.Tensor{
		tensorOf("layers.0.weight", []int{2}, 1, 2), tensorOf("pos.position_ids", []int{1, 2}, 0, 1),
	}, nil, checkpoint.F32, 0)
	// The same name with another shape.
	longer := filepath.Join(dir, "longer")
	writeWithBuffer(t, longer, []checkpoint.Tensor{tensorOf("layers.0.weight", []int{2}, 1, 2)}, []int64{0, 1, 2})
	for _, tt := range []struct {
		name   string
		models []string
		want   string
	}{
		{"float in a later model", []string{asFloat}, `tensor "pos.position_ids" is F32 in ` + asFloat + ` but I64 in ` + base},
		{"other shape", []string{longer}, `tensor "pos.position_ids" is I64 [1 3] in ` + filepath.Join(longer, checkpoint.SingleFileName) + ` but I64 [1 2] in ` + filepath.Join(base, checkpoint.SingleFileName)},
	} {
		src, err := OpenCheckpointSource(base, tt.models)
		if err == nil {
			src.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "architectures differ") {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	// A float tensor first, the raw one later.
	if _, err := OpenCheckpointSource(asFloat, []string{base}); err == nil || !strings.Contains(err.Error(), `is I64 in `+filepath.Join(base, checkpoint.SingleFileName)+` but a float tensor in `+asFloat) {
		t.Errorf("raw after float: error %v", err)
	}
}
