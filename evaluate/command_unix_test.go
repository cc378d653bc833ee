//go:build unix

package evaluate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evomerge/evomerge/population"
)

// processGone reports whether pid no longer runs. A killed process whose
// parent does not reap it (a grandchild reparented to an init that does not
// wait, as in some containers) stays a zombie: on Linux that counts as gone.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	if runtime.GOOS != "linux" {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		state := stat[i+2]
		return state == 'Z' || state == 'X'
	}
	return false
}

// After every evaluation, successful or not, the scorer's whole process
// group is killed: background children it started do not outlive it, even
// when they hold its standard output open.
func TestCommandKillsBackgroundChildren(t *testing.T) {
	s := newSynthetic(t, 5)
	const scores = `echo '{"scores": {"acc": 1, "size": 2}}'`
	cases := []struct {
		name, script string
		ok           bool
		want         string
		// escapes: the child leaves the group (setsid), so it cannot be
		// killed; the evaluation must still end promptly.
		escapes bool
	}{
		{"success, child holds stdout", `sleep 300 & echo $! > "$PIDFILE"; ` + scores, true, "", false},
		{"success, child detached from the pipes", `sleep 300 </dev/null >/dev/null 2>&1 & echo $! > "$PIDFILE"; ` + scores, true, "", false},
		{"success, grandchild of a subshell", `(sleep 300 & echo $! > "$PIDFILE"); ` + scores, true, "", false},
		{"failure, child holds stdout", `sleep 300 & echo $! > "$PIDFILE"; echo broken >&2; exit 3`, false, "exit status 3; stderr: broken", false},
		{"malformed output, child holds stderr", `sleep 300 >/dev/null & echo $! > "$PIDFILE"; echo nonsense`, false, "not the scores JSON", false},
		{"child leaves the group holding stdout", `setsid sh -c 'echo $$ > "$PIDFILE"; exec sleep 300' & while ! test -s "$PIDFILE"; do sleep 0.01; done; ` + scores, true, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath("setsid"); tc.escapes && err != nil {
				t.Skip("no setsid on this system")
			}
			c, tmp := newCommand(t, s, tc.script, 20*time.Second, 1)
			pidFile := filepath.Join(t.TempDir(), "pid")
			c.cfg.Env = append(c.cfg.Env, "PIDFILE="+pidFile)
			batch := candidates([]float64{0.5, 0.5})
			start := time.Now()
			if err := c.Evaluate(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			raw, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("the scorer did not record its child: %v (reason %q)", err, batch[0].Error)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			if err != nil || pid <= 1 {
				t.Fatalf("pid file holds %q", raw)
			}
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			deadline := time.Now().Add(3 * time.Second)
			for !tc.escapes && !processGone(pid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if tc.escapes {
				if processGone(pid) {
					t.Errorf("child %d that left the group is gone: the test did not exercise an escaped child", pid)
				}
			} else if !processGone(pid) {
				t.Errorf("background child %d still runs after the evaluation", pid)
			}
			if took > 3*time.Second {
				t.Errorf("the evaluation took %v", took)
			}
			cand := batch[0]
			switch {
			case tc.ok && (!cand.OK() || cand.Scores[0] != 1 || cand.Scores[1] != 2):
				t.Errorf("status %s scores %v reason %q, want ok [1 2]", cand.Status, cand.Scores, cand.Error)
			case !tc.ok && (cand.Status != population.StatusFailed || !strings.Contains(cand.Error, tc.want)):
				t.Errorf("status %s reason %q, want failed mentioning %q", cand.Status, cand.Error, tc.want)
			}
			assertEmptyDir(t, tmp)
		})
	}
}
