package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
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
	dir := writeTestRun(t, testRunOptions{evaluations: 3})
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

// The Host rule for each kind of --addr host and --allow-host list.
func TestHostPolicy(t *testing.T) {
	anyIP := []string{"192.168.1.5:8080", "10.0.0.5", "[fe80::1]:8080", "localhost"}
	if hostname, err := os.Hostname(); err == nil && hostname != "" {
		anyIP = append(anyIP, strings.ToLower(hostname)+":8080")
	}
	cases := []struct {
		bind, allow string
		allowed     []string
		refused     []string
	}{
		{"127.0.0.1", "",
			[]string{"127.0.0.1:8080", "127.0.0.1", "127.255.0.9:1", "localhost", "LOCALHOST:8080", "localhost.", "[::1]:8080", "[::1]", "::1"},
			[]string{"evil.example", "evil.example:8080", "", "localhost.evil.example", "127.0.0.1.evil.example", "10.0.0.5", "[fe80::1]:8080", "0.0.0.0"}},
		{"localhost", "", []string{"localhost:8080", "127.0.0.1"}, []string{"evil.example"}},
		{"::1", "", []string{"[::1]:8080", "localhost"}, []string{"evil.example", "10.0.0.5"}},
		{"192.168.1.5", "",
			[]string{"192.168.1.5:8080", "192.168.1.5", "localhost", "127.0.0.1:8080"},
			[]string{"192.168.1.6", "evil.example", "lab.example"}},
		{"lab.example", "", []string{"lab.example:8080", "Lab.Example", "localhost"}, []string{"evil.example", "10.0.0.5"}},
		{"0.0.0.0", "", anyIP, []string{"evil.example", "evil.example:8080"}},
		{"", "", []string{"10.0.0.5:8080"}, []string{"evil.example"}},
		{"::", "", []string{"[2001:db8::1]:8080", "10.0.0.5"}, []string{"evil.example"}},
		{"127.0.0.1", "reports.lab.example, 10.0.0.5,[2001:db8::1]:8080",
			[]string{"reports.lab.example", "REPORTS.lab.example:8080", "10.0.0.5:80", "[2001:db8::1]", "localhost"},
			[]string{"evil.example", "lab.example", "10.0.0.6"}},
		{"127.0.0.1", "*", []string{"evil.example", "", "10.0.0.6"}, nil},
	}
	for _, tc := range cases {
		p, err := newHostPolicy(tc.bind, tc.allow)
		if err != nil {
			t.Fatalf("bind %q allow %q: %v", tc.bind, tc.allow, err)
		}
		for _, h := range tc.allowed {
			if !p.allows(h) {
				t.Errorf("bind %q allow %q: Host %q refused, want allowed", tc.bind, tc.allow, h)
			}
		}
		for _, h := range tc.refused {
			if p.allows(h) {
				t.Errorf("bind %q allow %q: Host %q allowed, want refused", tc.bind, tc.allow, h)
			}
		}
	}
	for _, bad := range []string{"a b", "http://x.example", "user@x.example", ":8080"} {
		if _, err := newHostPolicy("127.0.0.1", bad); err == nil || !strings.Contains(err.Error(), "--allow-host") {
			t.Errorf("--allow-host %q: error %v, want a usage error naming --allow-host", bad, err)
		}
	}
}

// The guard answers 403 with the fix before the report server sees the
// request.
func TestHostGuard(t *testing.T) {
	p, err := newHostPolicy("127.0.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	g := hostGuard{policy: p, next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })}
	cases := []struct {
		host    string
		code    int
		reached int
	}{
		{"evil.example", http.StatusForbidden, 0},
		{"localhost:8080", http.StatusOK, 1},
		{"127.0.0.1:8080", http.StatusOK, 2},
		{"[::1]:8080", http.StatusOK, 3},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != tc.code || reached != tc.reached {
			t.Errorf("Host %q: status %d, handler reached %d times; want %d and %d", tc.host, rec.Code, reached, tc.code, tc.reached)
		}
		if tc.code == http.StatusForbidden {
			if body := rec.Body.String(); !strings.Contains(body, `Host "evil.example"`) || !strings.Contains(body, "--allow-host NAME") {
				t.Errorf("refusal %q does not name the Host and --allow-host", body)
			}
		}
	}
}
