// Command evomerge finds good merges of neural-network checkpoints.
//
// Usage:
//
//	evomerge <command> [arguments]
//
// Run "evomerge help" for the list of commands and "evomerge help <command>"
// (or "evomerge <command> --help") for one command's flags.
//
// Exit codes:
//
//	0    success
//	1    the command failed (bad input file, failed training, I/O error, ...)
//	2    usage error (unknown command, bad flag or argument)
//	130  interrupted by Ctrl-C or SIGTERM; work in progress was stopped cleanly
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/evomerge/evomerge/internal/suggest"
)

// Exit codes, documented in the package comment and the README.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks an error caused by how the command was called (unknown
// command, bad flag, missing argument); it maps to exit code 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands returns the command table in the order "evomerge help" lists it.
func commands() []command {
	return []command{
		{"bench", "prepare built-in benchmarks (train and cache base and experts)", cmdBench},
		{"eval", "score a checkpoint on a benchmark's tasks", cmdEval},
		{"merge", "merge checkpoints on disk as a TOML recipe says", cmdMerge},
		{"methods", "list the merge operators with their parameters", cmdMethods},
		{"algorithms", "list the search algorithms with their needs and defaults", cmdAlgorithms},
		{"run", "run a search experiment (no argument: the embedded quickstart)", cmdRun},
		{"resume", "continue an interrupted run from its run directory", cmdResume},
		{"status", "show the progress and best scores of a run, even mid-run", cmdStatus},
		{"export", "write a candidate's merged checkpoint and its merge recipe", cmdExport},
		{"report", "regenerate a run's HTML report from its directory, even mid-run", cmdReport},
		{"serve", "serve the reports of runs over HTTP, refreshed while they run", cmdServe},
		{"worker", "evaluate candidates for runs on other machines (NATS JetStream)", cmdWorker},
		{"claims", "reproduce the papers' claims on the built-in benchmarks", cmdClaims},
		{"version", "print the version of evomerge", cmdVersion},
		{"help", "show help for evomerge or one command", nil},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the command line args and returns the process exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			printUsage(stdout)
			return exitOK
		}
		return execute(ctx, []string{rest[0], "--help"}, stdout, stderr)
	case "-v", "-version", "--version":
		name = "version"
	}
	cmd, ok := lookup(name)
	if !ok || cmd.run == nil {
		fmt.Fprintf(stderr, "evomerge: unknown command %q\n", name)
		if suggestion := closest(name); suggestion != "" {
			fmt.Fprintf(stderr, "Did you mean %q?\n", suggestion)
		}
		fmt.Fprintln(stderr, "Run 'evomerge help' for the list of commands.")
		return exitUsage
	}
	err := cmd.run(ctx, rest, stdout, stderr)
	return report(err, name, ctx, stderr)
}

// report prints err (if any) and maps it to an exit code.
func report(err error, name string, ctx context.Context, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintf(stderr, "evomerge %s: interrupted: %v\n", name, err)
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "evomerge %s: %v\n", name, err)
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "Run 'evomerge help %s' for usage.\n", name)
		return exitUsage
	}
	return exitFailure
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// closest returns the command name within edit distance 2 of name, if any.
func closest(name string) string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return suggest.Nearest(name, names, 2)
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "evomerge finds good merges of neural-network checkpoints.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  evomerge <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'evomerge help <command>' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.")
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage (with the given synopsis) to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: evomerge %s\n", synopsis)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args with fs; a parse error becomes a usageError and
// -h/--help comes back as flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}
