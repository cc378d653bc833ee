package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/checkpoint"
	"github.com/evomerge/evomerge/population"
	"github.com/evomerge/evomerge/search"
)

// CommandVersion is the version of the command evaluator's protocol; it
// enters every candidate id it scores.
const CommandVersion = "command/1"

// Placeholders replaced in every argument of a command template.
const (
	// PlaceholderModel is the merged checkpoint file (model.safetensors).
	PlaceholderModel = "{model}"
	// PlaceholderDir is the directory holding it.
	PlaceholderDir = "{dir}"
)

// DefaultCommandTimeout bounds one command when CommandConfig.Timeout is 0.
const DefaultCommandTimeout = 10 * time.Minute

// MaxCommandOutput caps the standard output the command evaluator keeps
// from a command (1 MiB); the rest is read and discarded, and the candidate
// fails. The scores JSON is small: log output belongs on standard error,
// of which the end is quoted when a command fails. It is fixed (no
// configuration key sets it).
const MaxCommandOutput = 1 << 20

// pipeDrainDelay bounds how long the output pipes are read after the
// command's process group was killed: a process that left the group (setsid)
// could otherwise hold them open forever.
const pipeDrainDelay = time.Second

// stderrTail is how much of the end of a failing command's standard error a
// failure reason quotes.
const stderrTail = 2048

// CommandConfig configures the command evaluator.
type CommandConfig struct {
	Merge MergeConfig
	// Objectives name the scores the command reports, in score order.
	Objectives []fitness.Objective
	// Argv is the command and its arguments; PlaceholderModel and
	// PlaceholderDir are replaced in every argument. No shell is involved.
	Argv []string
	// Dir is the working directory ("" = the evaluator's).
	Dir string
	// Env adds KEY=VALUE entries to the evaluator's environment.
	Env []string
	// Timeout bounds one run of the command; 0 means DefaultCommandTimeout.
	// On expiry the command's whole process group is killed.
	Timeout time.Duration
	// Workers is the number of commands run at once; 0 means 1.
	Workers int
	// TempDir is where the per-candidate directories are made ("" = the
	// system temporary directory). They are always removed.
	TempDir string
	// DType is the merged checkpoint's element type: "" or F32, or BF16.
	DType checkpoint.DType
}

// Command is the command evaluator: for each candidate it writes the merged
// checkpoint (heads included, the model spec in the metadata) into a fresh temporary
// directory, runs the user's command on it and reads the scores the command
// prints on standard output:
//
//	{"scores": {"<objective name>": <number>, ...}}
//
// Standard output must be that JSON object, or end with it on its last
// non-empty line (earlier lines are then ignored as log output). Every
// objective must be present; other names and other top-level keys are
// ignored. A crash, a timeout, a non-zero exit (the reason quotes the end of
// standard error), malformed output or a missing or null score marks that
// candidate failed and the batch goes on. Standard output beyond
// MaxCommandOutput is discarded and fails the candidate. The command runs
// in its own process group (on unix), which is killed once the command's
// process has exited, whatever the outcome: background processes it
// started do not outlive the evaluation. Command implements
// search.Evaluator and is safe for concurrent use.
type Command struct {
	merger  *Merger
	cfg     CommandConfig
	names   []string
	spec    string
	version string
}

// NewCommand checks the configuration.
func NewCommand(cfg CommandConfig) (*Command, error) {
	merger, err := NewMerger(cfg.Merge)
	if err != nil {
		return nil, err
	}
	if len(cfg.Argv) == 0 || strings.TrimSpace(cfg.Argv[0]) == "" {
		return nil, errors.New("evaluate: the command evaluator has no command: give the program and its arguments, e.g. [\"python\", \"eval.py\", \"{model}\"]")
	}
	if cfg.Timeout < 0 || cfg.Workers < 0 {
		return nil, fmt.Errorf("evaluate: command timeout %v and workers %d must not be negative (0 means default)", cfg.Timeout, cfg.Workers)
	}
	for _, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("evaluate: command environment entry %q is not KEY=VALUE", kv)
		}
	}
	if err := fitness.ValidateObjectives(cfg.Objectives); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultCommandTimeout
	}
	cfg.Workers = max(cfg.Workers, 1)
	cfg.Argv, cfg.Env = slices.Clone(cfg.Argv), slices.Clone(cfg.Env)
	c := &Command{merger: merger, cfg: cfg}
	for _, o := range cfg.Objectives {
		c.names = append(c.names, o.Name)
	}
	// The working directory is where the command runs, not what it
	// computes: it stays out of the spec, so a project moved to another
	// directory keeps its cached scores.
	spec := struct {
		Evaluator  string              `json:"evaluator"`
		Argv       []string            `json:"argv"`
		Env        []string            `json:"env,omitempty"`
		DType      checkpoint.DType    `json:"dtype,omitempty"`
		Objectives []fitness.Objective `json:"objectives"`
		Merge      json.RawMessage     `json:"merge"`
	}{"command", cfg.Argv, cfg.Env, cfg.DType, cfg.Objectives, json.RawMessage(merger.desc)}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("evaluate: encode evaluation spec: %w", err)
	}
	c.spec = string(b)
	c.version = CommandVersion + "+pool:" + merger.pool.Version()
	return c, nil
}

// EvalSpec is the evaluation spec that enters candidate ids: the command
// template, working directory, environment, objectives and the merge.
func (c *Command) EvalSpec() string { return c.spec }

// Version is the evaluator and pool version that enters candidate ids.
func (c *Command) Version() string { return c.version }

// Merger returns the evaluator's merger.
func (c *Command) Merger() *Merger { return c.merger }

// Evaluate implements search.Evaluator with at most Workers commands at
// once. Cancelling ctx kills running commands and returns ctx's error;
// unfinished candidates stay pending.
func (c *Command) Evaluate(ctx context.Context, batch []*population.Candidate) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(c.cfg.Workers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batch) || ctx.Err() != nil {
					return
				}
				scores, err := c.run(ctx, batch[i].Genome)
				switch {
				case err != nil && ctx.Err() != nil:
					return
				case err != nil:
					batch[i].Fail(err)
				default:
					batch[i].Scores, batch[i].Correct, batch[i].Status, batch[i].Error = scores, nil, population.StatusOK, ""
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// run materialises one genome and runs the command on it.
func (c *Command) run(ctx context.Context, g population.Genome) ([]float64, error) {
	tmp, err := os.MkdirTemp(c.cfg.TempDir, "evomerge-eval-*")
	if err != nil {
		return nil, fmt.Errorf("temporary directory for the merged model: %w (set the evaluator's temp_dir to a writable directory)", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "model")
	if _, err := c.merger.Export(ctx, g, dir, ExportOptions{DType: c.cfg.DType}); err != nil {
		return nil, fmt.Errorf("writing the merged checkpoint: %w", err)
	}
	model := filepath.Join(dir, checkpoint.SingleFileName)
	argv := make([]string, len(c.cfg.Argv))
	for i, a := range c.cfg.Argv {
		argv[i] = strings.NewReplacer(PlaceholderModel, model, PlaceholderDir, dir).Replace(a)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, argv[0], argv[1:]...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = append(os.Environ(), c.cfg.Env...)
	cmd.WaitDelay = time.Second
	killGroupOnCancel(cmd)
	stdout := &limitedBuffer{limit: MaxCommandOutput}
	stderr := &tailBuffer{limit: stderrTail}
	runErr := runCollecting(cmd, stdout, stderr)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	what := fmt.Sprintf("command %q", strings.Join(argv, " "))
	if rctx.Err() != nil {
		return nil, fmt.Errorf("%s timed out after %v and was killed%s", what, c.cfg.Timeout, stderr.quote())
	}
	if runErr != nil && !errors.Is(runErr, exec.ErrWaitDelay) {
		var exit *exec.ExitError
		if errors.As(runErr, &exit) {
			return nil, fmt.Errorf("%s failed: %s%s", what, exitReason(exit), stderr.quote())
		}
		return nil, fmt.Errorf("%s could not run: %w", what, runErr)
	}
	if stdout.overflow {
		return nil, fmt.Errorf(`%s wrote more than 1 MiB (%d bytes) on standard output (%d bytes read), the fixed limit evaluate.MaxCommandOutput: print only {"scores": {"<objective>": <number>, ...}} there and send log output to standard error`, what, MaxCommandOutput, stdout.total)
	}
	scores, err := parseScores(stdout.Bytes(), c.names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w%s", what, err, stderr.quote())
	}
	return scores, nil
}

// parseScores reads {"scores": {name: number}} from a command's standard
// output (the whole output, else its last non-empty line) and returns the
// scores of names in order.
func parseScores(out []byte, names []string) ([]float64, error) {
	var doc struct {
		Scores map[string]*float64 `json:"scores"`
	}
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf(`printed nothing on standard output: print {"scores": {"<objective>": <number>, ...}}`)
	}
	err := json.Unmarshal(trimmed, &doc)
	if err != nil {
		if i := bytes.LastIndexByte(trimmed, '\n'); i >= 0 {
			err = json.Unmarshal(bytes.TrimSpace(trimmed[i+1:]), &doc)
		}
	}
	if err != nil && nonFinite.Match(lastLine(trimmed)) {
		return nil, fmt.Errorf(`a score is not a number (the output's last line is %q): a candidate the command cannot score should exit non-zero with the reason on standard error`, head(lastLine(trimmed), 120))
	}
	if err != nil {
		return nil, fmt.Errorf(`standard output is not the scores JSON (%v): print {"scores": {"<objective>": <number>, ...}}; output starts %q`, err, head(trimmed, 120))
	}
	if doc.Scores == nil {
		return nil, fmt.Errorf(`standard output has no "scores" object: print {"scores": {"<objective>": <number>, ...}}`)
	}
	scores := make([]float64, len(names))
	var missing []string
	for i, name := range names {
		v, ok := doc.Scores[name]
		if !ok || v == nil {
			missing = append(missing, fmt.Sprintf("%q", name))
			continue
		}
		scores[i] = *v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the scores lack objective %s (got %s)", strings.Join(missing, ", "), strings.Join(sortedKeys(doc.Scores), ", "))
	}
	return scores, nil
}

// nonFinite finds the NaN and infinity tokens some JSON writers emit
// (Python's json.dumps), which JSON does not allow.
var nonFinite = regexp.MustCompile(`(?i)(^|[^a-z"])(nan|-?infinity|-?inf)([^a-z"]|$)`)

func lastLine(b []byte) []byte {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return bytes.TrimSpace(b[i+1:])
	}
	return b
}

func head(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// runCollecting runs cmd with its standard output and error copied into
// stdout and stderr through pipes of its own, so that it learns when the
// command's process exits even if a background child keeps the pipes open.
// Once the process has exited, whatever its status, its whole process
// group is killed: no child the command started (and left in the group)
// outlives the evaluation or keeps the pipes open. It then reads what is
// left in the pipes, for at most pipeDrainDelay (a process that left the
// group may hold them), and returns cmd.Wait's error.
func runCollecting(cmd *exec.Cmd, stdout, stderr io.Writer) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	// The child holds its own copies of the write ends; closing ours lets
	// the reads end once every process holding them is gone.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	var copies sync.WaitGroup
	for _, p := range []struct {
		w io.Writer
		r *os.File
	}{{stdout, outR}, {stderr, errR}} {
		copies.Go(func() { io.Copy(p.w, p.r) })
	}
	err = cmd.Wait()
	killGroup(cmd)
	drained := make(chan struct{})
	go func() {
		copies.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(pipeDrainDelay):
		// A process outside the group still holds a pipe: stop reading.
		outR.Close()
		errR.Close()
		<-drained
	}
	outR.Close()
	errR.Close()
	return err
}

// limitedBuffer keeps the first limit bytes written, counts the rest and
// discards them, and notes the overflow. It is deliberately not an
// io.ReaderFrom (io.Copy would bypass Write) and never grows its buffer
// beyond limit.
type limitedBuffer struct {
	buf      []byte
	limit    int
	total    int64
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.total += int64(len(p))
	keep := p
	if room := b.limit - len(b.buf); len(keep) > room {
		b.overflow = true
		keep = keep[:max(room, 0)]
	}
	if len(keep) == 0 {
		return len(p), nil
	}
	if need := len(b.buf) + len(keep); need > cap(b.buf) {
		grown := make([]byte, len(b.buf), min(max(2*cap(b.buf), need, 512), b.limit))
		copy(grown, b.buf)
		b.buf = grown
	}
	b.buf = append(b.buf, keep...)
	return len(p), nil
}

// Bytes returns the bytes kept.
func (b *limitedBuffer) Bytes() []byte { return b.buf }

// Len is the number of bytes kept.
func (b *limitedBuffer) Len() int { return len(b.buf) }

// Cap is the memory the buffer retains, at most its limit.
func (b *limitedBuffer) Cap() int { return cap(b.buf) }

// tailBuffer keeps the last limit bytes written.
type tailBuffer struct {
	buf   []byte
	limit int
	cut   bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if extra := len(b.buf) - b.limit; extra > 0 {
		b.buf = append(b.buf[:0], b.buf[extra:]...)
		b.cut = true
	}
	return len(p), nil
}

// quote renders the tail for a failure reason ("" when empty).
func (b *tailBuffer) quote() string {
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return ""
	}
	if b.cut {
		s = "…" + s
	}
	return "; stderr: " + s
}

var _ search.Evaluator = (*Command)(nil)
