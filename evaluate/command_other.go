//go:build !unix

package evaluate

import (
	"fmt"
	"os/exec"
)

// killGroupOnCancel keeps exec's default on systems without process groups:
// cancellation kills the command's process only.
func killGroupOnCancel(cmd *exec.Cmd) {}

// killGroup does nothing on systems without process groups: the command's
// process has exited, and children it started are not tracked.
func killGroup(cmd *exec.Cmd) {}

// exitReason describes how a command ended.
func exitReason(exit *exec.ExitError) string {
	return fmt.Sprintf("exit status %d", exit.ExitCode())
}
