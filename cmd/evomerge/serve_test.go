package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/rundir"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/reports"
)

func TestReportServer(t *testing.T) {
	running := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 8, Experiment: `live<script>alert(1)</script>`})
	done := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 14, Finished: true})
	var renders atomic.Int64
	loader := reportLoader
	loader.Load = func(dir string) (*reports.Run, string, error) {
		renders.Add(1)
		return reportLoader.Load(dir)
	}
	ts := httptest.NewServer(rundir.NewReportServer([]string{running, done}, 2*time.Second, loader))
	defer ts.Close()

	code, body, hdr := testkit.Get(t, ts.URL+"/")
	if code != http.StatusOK || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("index: %d %v", code, hdr)
	}
	for _, want := range []string{`<a href="runs/0/">live&lt;script&gt;alert(1)&lt;/script&gt;</a>`, `<a href="runs/1/">nsga2-two-tasks</a>`,
		"<td>in progress</td><td>8</td>", "<td>finished</td><td>14</td>", `<meta http-equiv="refresh" content="2">`} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("index contains a hostile name unescaped")
	}
	rendersAfterIndex := renders.Load()

	code, page, hdr := testkit.Get(t, ts.URL+"/runs/0/")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("report: %d %v", code, hdr)
	}
	if !strings.Contains(page, `var url = "status.json"`) || !strings.Contains(page, "every = 2000;") {
		t.Error("running report does not poll its status")
	}
	if renders.Load() != rendersAfterIndex {
		t.Errorf("report rendered again without a change (%d renders, want %d)", renders.Load(), rendersAfterIndex)
	}
	_, finishedPage, _ := testkit.Get(t, ts.URL+"/runs/1/")
	if strings.Contains(finishedPage, "fetch(") {
		t.Error("finished run's report polls")
	}

	status := func() rundir.ReportStatus {
		_, body, _ := testkit.Get(t, ts.URL+"/runs/0/status.json")
		var st rundir.ReportStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("status %q: %v", body, err)
		}
		return st
	}
	before := status()
	if before.Finished || before.Evaluations != 8 || !strings.Contains(page, `version = "`+before.Version+`"`) {
		t.Fatalf("status %+v does not match the page", before)
	}
	// A new evaluation changes the version and the next page.
	f, err := os.OpenFile(filepath.Join(running, rundir.JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(testkit.JournalLine(8))
	f.Close()
	after := status()
	if after.Version == before.Version || after.Evaluations != 9 {
		t.Errorf("after a new evaluation: %+v (before %+v)", after, before)
	}
	_, page2, _ := testkit.Get(t, ts.URL+"/runs/0/")
	if !strings.Contains(page2, "<dd>9 of 400 (2.2%)</dd>") {
		t.Error("report not regenerated after a new evaluation")
	}

	for _, c := range []struct {
		path string
		code int
	}{
		{"/runs/2/", http.StatusNotFound},
		{"/runs/x/", http.StatusNotFound},
		{"/runs/-1/status.json", http.StatusNotFound},
		{"/nope", http.StatusNotFound},
		{"/runs/0", http.StatusMovedPermanently},
	} {
		if code, _, _ := testkit.Get(t, ts.URL+c.path); code != c.code {
			t.Errorf("GET %s: %d, want %d", c.path, code, c.code)
		}
	}

	// A damaged run is reported, not served half-built.
	os.WriteFile(filepath.Join(done, rundir.StateFile), []byte("{"), 0o644)
	if code, body, _ := testkit.Get(t, ts.URL+"/runs/1/"); code != http.StatusInternalServerError || !strings.Contains(body, "state.json") {
		t.Errorf("damaged run: %d %q", code, body)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeCommandLoopbackAndShutdown(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() { exit <- execute(ctx, []string{"serve", dir, "--addr", "127.0.0.1:0"}, &stdout, &stderr) }()
	addrRE := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("server did not start: stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if code, body, _ := testkit.Get(t, "http://"+addr+"/runs/0/"); code != http.StatusOK || !strings.Contains(body, "evomerge report: nsga2-two-tasks") {
		t.Fatalf("GET report: %d", code)
	}
	if stderr.String() != "" {
		t.Errorf("loopback serve printed %q", stderr.String())
	}
	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Fatalf("exit %d after cancel, stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestServeCommandErrors(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 2})
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no run", []string{"serve"}, exitUsage, "at least one run directory"},
		{"not a run", []string{"serve", t.TempDir()}, exitFailure, "is not a run directory"},
		{"bad addr", []string{"serve", dir, "--addr", "nonsense"}, exitUsage, "--addr"},
		{"refresh too fast", []string{"serve", dir, "--refresh", "10ms"}, exitUsage, "at least 1s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), c.args, &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, stderr.String(), c.code, c.want)
			}
		})
	}
}
