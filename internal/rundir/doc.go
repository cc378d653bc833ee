// Package rundir is the run directory: the files a run writes, their types,
// and their readers and writers. It reads a run directory without the
// components that made it (status, verify, the report model, the chosen
// front member, the report server) and gives internal/run, which builds the
// components and executes sessions, the writers and the journal it records
// through. It does not import internal/run: what needs the components
// (exporting a candidate's merged checkpoint, scoring the front) stays
// there and calls this package. internal/run and cmd/evomerge import it.
//
// # Files
//
//   - config.toml (ConfigFile): the resolved experiment, defaults filled in
//     and input paths made absolute; every reader decodes it with
//     configs.LoadResolved or configs.DecodeResolved.
//   - journal.jsonl (JournalFile): one Record per finished evaluation
//     (below).
//   - state.json (StateFile): State, where the run stands (status, counts,
//     best scores, sessions, elapsed time, a method's saved state),
//     rewritten after every batch.
//   - front.json (FrontFile): Front, the final Pareto front on the fitness
//     split with test scores and the reference figures (experts, plain
//     weight averaging).
//   - views.json (ViewsFile): reports.Views, the data of the report's
//     method sections; what the report shows of a method is keyed on the
//     parts present, never on the algorithm's name.
//   - adamerging.json, fw.json (AdaMergingFile, FWFile): AdaMergingRecord
//     and FWRecord, the result of AdaMerging's and FW-Merging's
//     optimisation.
//   - report.html (ReportFile), rendered from the report model
//     (ReportModel, WriteReport).
//   - log.jsonl (LogFile): the structured log (log/slog JSON lines).
//   - exports/ (ExportsDir), nats/ (NATSDir), m2n2-archive/ (M2N2Dir):
//     exported checkpoints, the streams of an embedded NATS server, M2N2's
//     archive checkpoints.
//   - run.lock, report.lock (LockFile, ReportLockFile): the locks.
//
// Entries lists what a run writes (a run started over removes exactly
// these); the lock files are not among them.
//
// # Writes
//
// Every file but the journal and the log is written atomically: to a
// temporary name, fsynced, renamed over the file, the directory fsynced
// (internal/atomicfile), so a reader never sees a half-written file and a
// crash leaves the old one or the new one. A failed write of the journal,
// the config, state, front, views or a method's result (Journal.Append,
// WriteFile and the Write functions) is a *WriteError naming the file and
// the OS error (errors.Is(err, syscall.ENOSPC) holds on a full disk). JSON
// files are indented, one value, ending with a newline.
//
// # Journal records
//
// journal.jsonl holds one JSON object per line, written with one write
// (O_APPEND) and fsynced before Append returns: the candidate id (SHA-256
// hex), genome, lineage, status (ok or failed), scores, error, per-example
// correctness and the chunk's start and finish. Each line ends with "sum",
// 64 bits of SHA-256 (16 hex digits) over the line without that field
// (Record.Checksum): a line that fails its checksum, or lacks one after
// lines that have one, is an error naming the file and line; journals
// written before checksums are read as they are. A final line without a
// newline is a write cut short by a crash: readers ignore it and
// OpenJournal truncates it away. Any other malformed line is an error
// naming the file and line. Record.CheckScores cross-checks accuracy
// scores against the per-example correctness.
//
// # Versions
//
// Journal records carry "v" (JournalVersion), state.json and front.json
// carry "v" (StateVersion, FrontVersion), adamerging.json and fw.json "v"
// 1; a reader refuses a journal record or state.json of another version.
// views.json is read strictly (an unknown key is an error). Run directories
// written by earlier versions keep loading and rendering as they did
// (testdata/report-v1 holds one of each method).
//
// # One writer
//
// One session (`evomerge run` or `resume`) writes a run directory at a
// time: it holds run.lock (LockDir: a flock(2) lock, an exclusively
// created file where there is no flock) for the whole session, and a second
// is refused at once with a *BusyError naming the holder's pid and command.
// A flock ends with its process, so a killed run leaves nothing stuck. Readers (Status, Verify, ReportModel) and writers beside the run
// (export into exports/, report.html written atomically) take no run lock
// and work while it goes; writers of report.html take turns on report.lock
// (LockReport).
//
// # Reading
//
// Status reports where a run stands from state.json and the journal (from
// the journal alone, in state "unknown", when state.json is missing);
// Verify checks a whole directory and lists the problems it finds, each
// naming the file (and line) and what to do. ChooseMember picks the front
// member a run recommends on fitness-split scores only (test scores never
// select). ReportModel turns a directory into reports.Run; ReportServer
// serves the reports of several directories, rendering a run again only
// when its files change (ReportStamp).
package rundir
