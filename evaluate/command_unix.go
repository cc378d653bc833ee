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

// exitReason describes how a command ended.
func exitReason(exit *exec.ExitError) string {
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %v (crashed)", ws.Signal())
	}
	return fmt.Sprintf("exit status %d", exit.ExitCode())
}
