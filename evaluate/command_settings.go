package evaluate

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// CommandKind is the command evaluator's name in evaluator.kind.
const CommandKind = "command"

// CommandSettings are the command evaluator's keys of [evaluator].
type CommandSettings struct {
	// Command is the argv of the scoring command (no shell);
	// PlaceholderModel is replaced by the merged checkpoint file,
	// PlaceholderDir by its directory.
	Command []string `toml:"command,omitempty"`
	// Timeout bounds one evaluation (default DefaultCommandTimeout).
	Timeout time.Duration `toml:"timeout,omitempty"`
	// Dir is the command's working directory; relative to the
	// configuration file's directory, which it is when absent, so a
	// command naming a script beside the configuration runs from
	// anywhere.
	Dir string `toml:"dir,omitempty"`
}

// MapPaths resolves the working directory (absent: the configuration's
// own directory, ".").
func (s *CommandSettings) MapPaths(f func(string) string) {
	if s.Dir == "" {
		s.Dir = "."
	}
	s.Dir = f(s.Dir)
}

// NewCommandSettings returns empty settings to decode [evaluator] into.
func NewCommandSettings() Settings { return new(CommandSettings) }

// Defaults fills the timeout.
func (s *CommandSettings) Defaults() {
	if s.Timeout == 0 {
		s.Timeout = DefaultCommandTimeout
	}
}

// Validate reports every problem.
func (s *CommandSettings) Validate(report func(key, msg string)) {
	if len(s.Command) == 0 || strings.TrimSpace(s.Command[0]) == "" {
		report("command", `missing: give the argv of the scoring command, e.g. ["python", "score.py", "{model}"]`)
	}
	if s.Timeout < 0 {
		report("timeout", fmt.Sprintf("%v: give a positive duration", s.Timeout))
	}
}

// Describe is the command line.
func (s *CommandSettings) Describe() string {
	if len(s.Command) == 0 {
		return ""
	}
	return "command: " + strings.Join(s.Command, " ")
}

// BuildCommand is the command kind's factory.
func BuildCommand(_ context.Context, settings Settings, env Env) (*Built, error) {
	s, ok := settings.(*CommandSettings)
	if !ok {
		return nil, fmt.Errorf("evaluate: command settings of type %T", settings)
	}
	if s.Dir != "" {
		if st, err := os.Stat(s.Dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("evaluator.dir: the command's working directory %s is not a directory: create it or set evaluator.dir to one (relative paths are relative to the configuration file)", s.Dir)
		}
	}
	cmd, err := NewCommand(CommandConfig{
		Merge: env.Merge, Objectives: env.Objectives, Argv: s.Command,
		Timeout: s.Timeout, Workers: env.Workers, Dir: s.Dir,
	})
	if err != nil {
		return nil, err
	}
	return &Built{Evaluator: cmd}, nil
}
