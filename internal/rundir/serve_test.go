package rundir

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evomerge/evomerge/fitness"
	"github.com/evomerge/evomerge/internal/testkit"
	"github.com/evomerge/evomerge/reports"
)

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
		p, err := NewHostPolicy(tc.bind, tc.allow)
		if err != nil {
			t.Fatalf("bind %q allow %q: %v", tc.bind, tc.allow, err)
		}
		for _, h := range tc.allowed {
			if !p.Allows(h) {
				t.Errorf("bind %q allow %q: Host %q refused, want allowed", tc.bind, tc.allow, h)
			}
		}
		for _, h := range tc.refused {
			if p.Allows(h) {
				t.Errorf("bind %q allow %q: Host %q allowed, want refused", tc.bind, tc.allow, h)
			}
		}
	}
	for _, bad := range []string{"a b", "http://x.example", "user@x.example", ":8080"} {
		if _, err := NewHostPolicy("127.0.0.1", bad); err == nil || !strings.Contains(err.Error(), "--allow-host") {
			t.Errorf("--allow-host %q: error %v, want an error naming --allow-host", bad, err)
		}
	}
}

// The guard answers 403 with the fix before the report server sees the
// request.
func TestHostGuard(t *testing.T) {
	p, err := NewHostPolicy("127.0.0.1", "")
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	g := GuardHost(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
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

// fakeRuns is a ReportLoader over in-memory runs whose stamps the test sets.
type fakeRuns struct {
	mu     sync.Mutex
	stamps map[string]string
	runs   map[string]*reports.Run
	loads  int
}

func (f *fakeRuns) loader() ReportLoader {
	return ReportLoader{
		Stamp: func(dir string) (string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if s, ok := f.stamps[dir]; ok {
				return s, nil
			}
			return "", errors.New(dir + ": no state.json")
		},
		Load: func(dir string) (*reports.Run, string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.loads++
			return f.runs[dir], f.stamps[dir], nil
		},
	}
}

func (f *fakeRuns) set(dir, stamp string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stamps[dir] = stamp
}

func (f *fakeRuns) loadCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads
}

// The server renders a run again only when its stamp changes, escapes what
// the runs name, and reports an unreadable run instead of serving it.
func TestReportServerCachesByStamp(t *testing.T) {
	objs := []fitness.Objective{{Name: "digits/accuracy", Task: "digits", Metric: "accuracy", Direction: fitness.Maximize}}
	f := &fakeRuns{
		stamps: map[string]string{"a": "s1", "b": "t1"},
		runs: map[string]*reports.Run{
			"a": {Name: "live<script>x</script>", Method: "random", Operator: "linear", Objectives: objs},
			"b": {Name: "done", Method: "random", Operator: "linear", Objectives: objs, Finished: true},
		},
	}
	ts := httptest.NewServer(NewReportServer([]string{"a", "b", "gone"}, 3*time.Second, f.loader()))
	defer ts.Close()

	code, body, hdr := testkit.Get(t, ts.URL+"/")
	if code != http.StatusOK || hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("index: %d %v", code, hdr)
	}
	for _, want := range []string{`<a href="runs/0/">live&lt;script&gt;x&lt;/script&gt;</a>`, "<td>finished</td>",
		"unreadable", "gone: no state.json", `<meta http-equiv="refresh" content="3">`} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q:\n%s", want, body)
		}
	}
	loads := f.loadCount()
	if loads != 2 {
		t.Errorf("index loaded %d runs, want 2", loads)
	}
	if code, page, _ := testkit.Get(t, ts.URL+"/runs/0/"); code != http.StatusOK || !strings.Contains(page, `var url = "status.json"`) {
		t.Fatalf("report: %d", code)
	}
	if f.loadCount() != loads {
		t.Errorf("an unchanged run was loaded again")
	}
	status := func() ReportStatus {
		_, body, _ := testkit.Get(t, ts.URL+"/runs/0/status.json")
		var st ReportStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("status %q: %v", body, err)
		}
		return st
	}
	if st := status(); st.Version != "s1" || st.Finished {
		t.Errorf("status %+v, want version s1, not finished", st)
	}
	f.set("a", "s2")
	if st := status(); st.Version != "s2" || f.loadCount() != loads+1 {
		t.Errorf("after a change: status %+v, %d loads (want s2 and %d)", st, f.loadCount(), loads+1)
	}
	if code, body, _ := testkit.Get(t, ts.URL+"/runs/2/"); code != http.StatusInternalServerError || !strings.Contains(body, "no state.json") {
		t.Errorf("unreadable run: %d %q", code, body)
	}
	for _, c := range []struct {
		path string
		code int
	}{
		{"/runs/3/", http.StatusNotFound},
		{"/runs/x/status.json", http.StatusNotFound},
		{"/nope", http.StatusNotFound},
		{"/runs/1", http.StatusMovedPermanently},
	} {
		if code, _, _ := testkit.Get(t, ts.URL+c.path); code != c.code {
			t.Errorf("GET %s: %d, want %d", c.path, code, c.code)
		}
	}
}
