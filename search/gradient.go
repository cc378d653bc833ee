package search

import "context"

// Vertex choices of an AlignmentEvaluator step that are not pool members.
const (
	// VertexBase is the null vertex: the base model θ0. The Frank-Wolfe
	// oracle may choose it for a tensor, which pulls that tensor back toward
	// the pretrained weights (never toward zero).
	VertexBase = -1
	// VertexStay keeps a tensor where it is: no vertex has a descent
	// direction for it (every alignment is ≥ 0), so the Frank-Wolfe gap of
	// that tensor is not positive.
	VertexStay = -2
)

// AlignmentEvaluator gives Frank-Wolfe merging (search/fw) what it needs of
// the model, as numbers: the loss at the current merged model θt, the
// alignment of every vertex with the loss gradient per tensor, and the
// update of θt toward the vertex the method chose. The evaluator owns θt;
// the method never sees a tensor.
//
// Vertices are the pool members 0..PoolSize()−1 (streamed from disk by the
// evaluator, one at a time) and VertexBase. Tensors are the mergeable
// tensors 0..NumTensors()−1 in canonical order (per-task heads excluded).
type AlignmentEvaluator interface {
	// PoolSize is the number of pool members.
	PoolSize() int
	// NumTensors is the number of mergeable tensors.
	NumTensors() int
	// Align computes the gradient g of the loss of task (or of the sum
	// over every task when task < 0) at θt, then writes into align the
	// cosine alignment of each vertex with g per tensor: align[v][l] for
	// vertex v = 0..PoolSize()−1 and align[PoolSize()][l] for VertexBase.
	// A vertex whose direction for a tensor is zero gets 0. It returns the
	// loss.
	Align(ctx context.Context, task int, align [][]float64) (loss float64, err error)
	// NumTasks is the number of target tasks (for per-task gradients).
	NumTasks() int
	// Step moves θt toward the vertex: for every tensor l,
	// θt[l] ← θt[l] + scale·(s[l] − θt[l]) under the evaluator's update
	// rule, where s[l] is the tensor of vertex[l] (a pool member,
	// VertexBase, or VertexStay for no move).
	Step(ctx context.Context, vertex []int, scale float64) error
}

// SoftAlignmentEvaluator is an AlignmentEvaluator that can also learn how
// much of a set of selected pool members to take (FW-Soft): it returns a
// GradientEvaluator over coefficients λ[k·NumTensors()+l] of the task
// vectors (θ_{selected[k]} − θt) per tensor, and Apply sets
// θt[l] ← θt[l] + Σk λ[k·L+l]·(θ_{selected[k]}[l] − θt[l]).
type SoftAlignmentEvaluator interface {
	AlignmentEvaluator
	Adapt(ctx context.Context, selected []int) (GradientEvaluator, error)
	Apply(ctx context.Context, selected []int, coefficients []float64) error
}
