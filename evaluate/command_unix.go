//go:build unix

package evaluate

import (
	"fmt"
	"os/exec"
	"syscall"
)

// killGroupOnCancel starts the command in its own process group and makes
// cancellation kill the whole group, so children the command started (a
// shell's pipeline, a Python worker pool) die with it.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killGroup kills what is left of the command's process group once its
// process has exited: background children it started (and did not move to
// another group) do not outlive the evaluation. The group keeps its id
// while any member lives, so the signal reaches no other process; an empty
// group is not an error.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.Process.Pid > 0 {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// exitReason describes how a command ended.
func exitReason(exit *exec.ExitError) string {
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %v (crashed)", ws.Signal())
	}
	return fmt.Sprintf("exit status %d", exit.ExitCode())
}
