package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evomerge/evomerge/internal/testkit"
)

// startServe runs `evomerge serve` with args on a free loopback port and
// returns its address; the server stops when the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	code := -1
	done := make(chan struct{})
	go func() {
		defer close(done)
		code = execute(ctx, append([]string{"serve"}, args...), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	addrRE := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case <-done:
			t.Fatalf("serve exited %d: stdout %q stderr %q", code, stdout.String(), stderr.String())
		default:
		}
	}
	t.Fatalf("server did not start: stdout %q stderr %q", stdout.String(), stderr.String())
	return ""
}

// getHost requests url with the given Host header.
func getHost(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// A loopback server answers only loopback Host names, so a page on another
// site cannot reach it through DNS rebinding; --allow-host adds names.
func TestServeCommandChecksHost(t *testing.T) {
	dir := testkit.WriteRun(t, testkit.RunOptions{Evaluations: 3})
	addr := startServe(t, dir, "--addr", "127.0.0.1:0")
	_, port, _ := strings.Cut(addr, ":")
	cases := []struct {
		host string
		code int
	}{
		{"evil.example", http.StatusForbidden},
		{"evil.example:" + port, http.StatusForbidden},
		{"localhost.evil.example", http.StatusForbidden},
		{"127.0.0.1.evil.example", http.StatusForbidden},
		{"192.168.1.5:" + port, http.StatusForbidden},
		{addr, http.StatusOK},
		{"127.0.0.1", http.StatusOK},
		{"127.3.4.5:" + port, http.StatusOK},
		{"localhost", http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LocalHost:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"[::1]", http.StatusOK},
	}
	for _, tc := range cases {
		code, body := getHost(t, "http://"+addr+"/", tc.host)
		if code != tc.code {
			t.Errorf("Host %q: status %d, want %d (body %.80q)", tc.host, code, tc.code, body)
		}
		if tc.code == http.StatusForbidden && !strings.Contains(body, "--allow-host") {
			t.Errorf("Host %q: the refusal %.80q does not say how to allow a name (--allow-host)", tc.host, body)
		}
	}

	allowing := startServe(t, dir, "--addr", "127.0.0.1:0", "--allow-host", "reports.lab.example,other.example")
	for _, tc := range []struct {
		host string
		code int
	}{
		{"reports.lab.example", http.StatusOK},
		{"Reports.Lab.Example:8080", http.StatusOK},
		{"other.example", http.StatusOK},
		{"localhost", http.StatusOK},
		{"evil.example", http.StatusForbidden},
	} {
		if code, body := getHost(t, "http://"+allowing+"/", tc.host); code != tc.code {
			t.Errorf("--allow-host: Host %q: status %d, want %d (body %.80q)", tc.host, code, tc.code, body)
		}
	}
}
