// Package tasks says what a merged model is asked to do and how well it
// does it: the Task type, the one scoring loop and the metric list.
//
// # Contract
//
//   - A Task is a name, the model head that answers it (heads.<Head>.*),
//     its labelled examples per split (internal/data datasets; a split may
//     be absent), its fitness split (train or validation, never test) and,
//     per split, its expert's accuracy: the reference of normalized
//     accuracy. It is the one task type of evomerge: the native, gradient
//     (AdaMerging, FW-Merging) and lineage (M2N2) evaluators, the built-in
//     benchmarks, `evomerge eval` and the claims all take it. Tasks are
//     values: WithData and LimitFitness return or install copies, so a task
//     handed to an evaluator never changes under it.
//
//   - Score (ScoreDataset for examples outside a task) is the one scoring
//     loop: forward passes in batches through the task's head; accuracy is
//     the fraction of examples whose arg-max logit is the label (ties to
//     the lowest class), loss the mean softmax cross-entropy summed in
//     float64 in example order, and per-example correctness goes into the
//     caller's bit words (population.Bitset's layout). Results do not
//     depend on the batch size or the thread count, and the loop allocates
//     nothing beyond the network's own forward buffers. Inputs that cannot
//     be scored (a missing head, mis-sized examples, labels outside the
//     head's classes, token datasets, which no model reads yet) are refused
//     before anything runs.
//
//   - Metrics is the literal list of metrics an objective may name
//     (accuracy, normalized_accuracy, loss), the default first, each with
//     its default direction, whether it needs the expert's reference
//     accuracy and how it is computed from a Result. It is the only place
//     that names them: the configuration checks objectives[].metric against
//     it (through internal/registry and configs.Catalog) and the evaluators
//     compute objectives with it, so adding a metric is one entry there.
package tasks
