// Package nats evaluates candidates on worker processes on other machines
// through NATS JetStream.
//
// The coordinator (Evaluator, a search.Evaluator) publishes one small,
// versioned Request per candidate: the genome, the digest of the Setup that
// turns it into a merged model and scores it (the evaluator kind the
// workers score with and its settings as the run's resolved configuration
// states them, pool by content digest, operator, search space, fixed
// settings, seed, benchmark, objectives; stored once in a bucket), the
// evaluation spec digest and version, and a time limit. Weights never
// travel. The candidate id (population.ID) is the JetStream message id, so
// a re-published request is dropped within the duplicate window. Workers
// (RunWorker, `evomerge worker`) build the Setup's evaluator once
// (Setup.BuildEvaluator: the kind's factory from the registry's list,
// InnerKind, given the pool, merge, benchmark and objectives the setup
// names), resolving each source checkpoint from its path, a
// content-addressed source cache or a prepared benchmark, and check that
// they reproduce the evaluation spec, version and candidate id before
// scoring anything.
//
// # Kinds
//
// The workers' kind is [evaluator.inner] (Settings.Inner): kind =
// "native" (the default, also when the table is absent: then the nats
// kind's own examples key applies) or "command" (the user's command runs
// on the worker machine, on the merged checkpoint it writes there), with
// that kind's own keys, checked as the kind checks them. A native setup
// carries no kind and no settings, so it encodes, and digests, exactly as
// before kinds travelled. Every kind's evaluator is built the same way on
// the coordinator (its local evaluator, which gives candidate ids) and on
// every worker, so ids agree on every machine. A worker keeps the
// evaluators of its last two setups; one it drops is closed (its pool's
// files released) once no evaluation uses it.
// Results go to a key-value bucket keyed by candidate id, which is also the
// shared evaluation cache: a candidate whose result is stored is never
// requested again, in this run, a resumed one or another run with the same
// evaluation.
//
// # Contract
//
//   - At-least-once: a worker stores the result, then acknowledges. A
//     worker killed mid-evaluation stops heartbeating (InProgress every
//     quarter of the ack wait) and JetStream redelivers the request after
//     the ack wait to another worker. A redelivery whose result is stored
//     is acknowledged without evaluating. Stored results are final (the
//     first one stays), and evaluation is deterministic, so a duplicate
//     evaluation changes nothing.
//   - Bounded attempts: after Topology.Attempts deliveries without a result
//     (crashes, kills, watchdog exits, a worker that cannot build the
//     evaluator), the next delivery records the candidate failed with the
//     last attempt's reason; the run goes on. Deliveries themselves are
//     unbounded, so if that delivery dies too the next one does it.
//   - Time limit: an attempt is cancelled at the request's time limit and
//     recorded failed ("exceeded its time limit"); an evaluation that does
//     not stop within the watchdog grace ends the worker process with
//     WatchdogExitCode.
//   - Draining: when RunWorker's context ends the worker takes no new
//     request (one fetched meanwhile is handed back at once), finishes the
//     evaluations in progress, stores their results and returns.
//   - Durability: the stream and buckets use file storage, so a server
//     restart loses no queued request or stored result; clients reconnect.
//   - Determinism: results are written to the candidate at its batch index,
//     whatever the order or the worker they come from, and are bit-for-bit
//     those of the in-process evaluator of the same Setup (for the command
//     kind: as deterministic as the user's command).
package nats
