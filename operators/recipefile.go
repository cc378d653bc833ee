package operators

import (
	"context"
	"fmt"

	"github.com/evomerge/evomerge/internal/checkpoint"
)

// FileMergeOptions configure [Recipe.MergeFiles].
type FileMergeOptions struct {
	// Workers is the number of tensors merged at once (0: one per core);
	// the output does not depend on it.
	Workers int
	// DType is the dtype merged tensors are written as (F32, BF16 or F16).
	DType checkpoint.DType
	// MaxShardBytes caps one shard's data (0: one file).
	MaxShardBytes int64
	// AllowNonFinite merges inputs that hold NaN or ±Inf values, which are
	// refused by default.
	AllowNonFinite bool
	// Origin names the recipe (its file) in errors about the checkpoints it
	// lists.
	Origin string
}

// MergeFiles merges the safetensors checkpoints the recipe names into dir,
// tensor by tensor with bounded memory ([StreamMerge]), and records the
// recipe in the output's metadata under [RecipeMetadataKey].
//
// Problems with the recipe itself come back as [RecipeErrors] naming the
// key, before any checkpoint is opened: an unknown method ("method"), a
// method that needs data statistics a merge of checkpoints does not have
// (Fisher information or input Gram matrices: "method"), a missing base for
// a method that needs one ("base"), and every bad parameter value.
func (r *Recipe) MergeFiles(ctx context.Context, dir string, opt FileMergeOptions) (StreamReport, error) {
	op, err := Builtin().Get(r.Method)
	if err != nil {
		return StreamReport{}, RecipeErrors{{Key: "method", Err: err}}
	}
	req := op.Requirements()
	if req.Fisher || req.Gram {
		return StreamReport{}, RecipeErrors{{Key: "method", Err: fmt.Errorf(
			"%s needs statistics computed on each model's task data (Fisher information or input Gram matrices), which a merge of checkpoints alone does not have; use it through a benchmark ('evomerge bench operators') or a search config", op.Name())}}
	}
	if req.Base == BaseRequired && r.Base == "" {
		return StreamReport{}, RecipeErrors{{Key: "base", Err: fmt.Errorf("missing: %s works on task vectors θi − θ0 and needs the base model θ0", op.Name())}}
	}
	if _, err := r.Settings(op); err != nil {
		return StreamReport{}, err
	}
	paths := make([]string, len(r.Models))
	for i, m := range r.Models {
		paths[i] = m.Path
	}
	src, err := OpenCheckpointSource(r.Base, paths)
	if err != nil {
		if opt.Origin != "" {
			err = fmt.Errorf("%s: %w", opt.Origin, err)
		}
		return StreamReport{}, err
	}
	defer src.Close()
	plan, err := r.Plan(op, src, nil)
	if err != nil {
		return StreamReport{}, err
	}
	text, err := r.JSON()
	if err != nil {
		return StreamReport{}, err
	}
	meta := src.Metadata()
	meta[RecipeMetadataKey] = text
	return StreamMerge(ctx, plan, src, dir, StreamOptions{
		Workers:        opt.Workers,
		DType:          opt.DType,
		MaxShardBytes:  opt.MaxShardBytes,
		Metadata:       meta,
		AllowNonFinite: opt.AllowNonFinite,
	})
}
