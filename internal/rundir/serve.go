package rundir

// Serving run reports over HTTP (`evomerge serve`): an index of the runs and
// each run's report, re-rendered only when the run's files change, behind a
// guard that answers only Host names the server was started for.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/reports"
)

// HostPolicy says which Host headers a report server answers, so that a
// web page on another site cannot read the reports through DNS rebinding:
// localhost, 127.0.0.0/8 and [::1] (any port) always; the listening host
// when that is not a loopback address; any IP address and this machine's
// host name when it listens on every interface; and the extra names given
// ("*" answers any name).
type HostPolicy struct {
	// names are allowed host names and IP addresses, in hostOnly's form.
	names map[string]bool
	// anyIP allows every IP address (the server listens on all
	// interfaces; a rebinding page always uses a name).
	anyIP bool
	// any allows every Host ("*").
	any bool
}

// NewHostPolicy is the policy of a server listening on host (the host part
// of its address) that also answers extra, a comma-separated list of names
// (serve's --allow-host). A malformed name is an error that says how to
// write the list.
func NewHostPolicy(host, extra string) (HostPolicy, error) {
	p := HostPolicy{names: map[string]bool{"localhost": true}}
	h := hostOnly(host)
	switch ip := net.ParseIP(h); {
	case h == "" || ip != nil && ip.IsUnspecified():
		p.anyIP = true
		if name, err := os.Hostname(); err == nil && hostOnly(name) != "" {
			p.names[hostOnly(name)] = true
		}
	case ip != nil && ip.IsLoopback():
	case ip != nil:
		p.names[ip.String()] = true
	default:
		p.names[h] = true
	}
	for _, e := range strings.Split(extra, ",") {
		switch e = strings.TrimSpace(e); {
		case e == "":
		case e == "*":
			p.any = true
		case hostOnly(e) == "" || strings.ContainsAny(e, "/ \t@"):
			return HostPolicy{}, fmt.Errorf("--allow-host %q: give host names separated by commas, e.g. --allow-host reports.lab.example,10.0.0.5", e)
		default:
			if ip := net.ParseIP(hostOnly(e)); ip != nil {
				p.names[ip.String()] = true
			} else {
				p.names[hostOnly(e)] = true
			}
		}
	}
	return p, nil
}

// hostOnly is the host of a Host header or address: without the port and
// the brackets of an IPv6 address, in lower case, without a trailing dot.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// Allows reports whether a request with this Host header is answered.
func (p HostPolicy) Allows(hostHeader string) bool {
	if p.any {
		return true
	}
	h := hostOnly(hostHeader)
	if h == "" {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || p.anyIP || p.names[ip.String()]
	}
	return p.names[h]
}

// GuardHost returns a handler that refuses requests whose Host the policy
// does not allow with 403 Forbidden and the way to allow it, before they
// reach next.
func GuardHost(p HostPolicy, next http.Handler) http.Handler {
	return hostGuard{policy: p, next: next}
}

type hostGuard struct {
	policy HostPolicy
	next   http.Handler
}

func (g hostGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.policy.Allows(r.Host) {
		host := r.Host
		if len(host) > 100 {
			host = host[:100] + "…"
		}
		http.Error(w, fmt.Sprintf("evomerge serve does not answer Host %q (a guard against DNS rebinding): open it as localhost or 127.0.0.1, or restart it with --allow-host NAME to answer that name", host), http.StatusForbidden)
		return
	}
	g.next.ServeHTTP(w, r)
}

// ServeUntilDone serves h on ln until ctx is cancelled, then shuts the
// server down, letting requests in flight finish for up to 5 seconds. A
// server that stops by itself is an error.
func ServeUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("serve: shut down: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// ReportLoader reads run directories for a [ReportServer].
type ReportLoader struct {
	// Stamp is a cheap fingerprint of a run directory's files: it changes
	// whenever the report would.
	Stamp func(dir string) (string, error)
	// Load reads a run for its report and returns the stamp of what it
	// read.
	Load func(dir string) (*reports.Run, string, error)
}

// ReportServer serves an index of runs at / and each run's report at
// /runs/N/ with its status at /runs/N/status.json (which a running report
// polls), rendering a report again only when the stamp of the run's files
// changes.
type ReportServer struct {
	dirs    []string
	refresh time.Duration
	loader  ReportLoader
	mux     *http.ServeMux

	mu    sync.Mutex
	cache []cachedReport
}

type cachedReport struct {
	stamp    string
	page     []byte
	name     string
	finished bool
	evals    int
	err      error
}

// NewReportServer serves the runs in dirs; pages of runs in progress check
// for new evaluations every refresh (whole seconds).
func NewReportServer(dirs []string, refresh time.Duration, loader ReportLoader) *ReportServer {
	s := &ReportServer{dirs: dirs, refresh: refresh, loader: loader, cache: make([]cachedReport, len(dirs)), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /runs/{run}/{$}", s.report)
	s.mux.HandleFunc("GET /runs/{run}/status.json", s.status)
	s.mux.HandleFunc("GET /runs/{run}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
	})
	return s
}

func (s *ReportServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// load returns the run's report, rendering it again only when the run's
// files changed since the last render.
func (s *ReportServer) load(i int) cachedReport {
	stamp, err := s.loader.Stamp(s.dirs[i])
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return cachedReport{err: err, name: s.dirs[i]}
	}
	if c := s.cache[i]; c.stamp == stamp && (c.page != nil || c.err != nil) {
		return c
	}
	c := cachedReport{stamp: stamp, name: s.dirs[i]}
	run, readStamp, err := s.loader.Load(s.dirs[i])
	if err == nil {
		// Stamp what was read: if a file changed while it was read, the
		// next request renders again.
		c.stamp = readStamp
		c.name, c.finished, c.evals = run.Name, run.Finished, len(run.Candidates)
		var buf bytes.Buffer
		err = reports.RenderOptions(&buf, run, reports.Options{
			PollURL: "status.json", PollSeconds: int(s.refresh / time.Second), Version: readStamp,
		})
		c.page = buf.Bytes()
	}
	c.err = err
	s.cache[i] = c
	return c
}

func (s *ReportServer) runIndex(w http.ResponseWriter, r *http.Request) (int, bool) {
	i, err := strconv.Atoi(r.PathValue("run"))
	if err != nil || i < 0 || i >= len(s.dirs) {
		http.Error(w, "no such run: the index at / lists them", http.StatusNotFound)
		return 0, false
	}
	return i, true
}

func (s *ReportServer) report(w http.ResponseWriter, r *http.Request) {
	i, ok := s.runIndex(w, r)
	if !ok {
		return
	}
	c := s.load(i)
	if c.err != nil {
		http.Error(w, "cannot build the report of "+s.dirs[i]+": "+c.err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(c.page)
}

// ReportStatus is what a running report page polls (/runs/N/status.json).
type ReportStatus struct {
	Version     string `json:"version"`
	Finished    bool   `json:"finished"`
	Evaluations int    `json:"evaluations"`
	Error       string `json:"error,omitempty"`
}

func (s *ReportServer) status(w http.ResponseWriter, r *http.Request) {
	i, ok := s.runIndex(w, r)
	if !ok {
		return
	}
	c := s.load(i)
	st := ReportStatus{Version: c.stamp, Finished: c.finished, Evaluations: c.evals}
	if c.err != nil {
		st.Error = c.err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

type indexEntry struct {
	Link, Name, Dir, State, Error string
	Evaluations                   int
}

func (s *ReportServer) index(w http.ResponseWriter, r *http.Request) {
	entries := make([]indexEntry, len(s.dirs))
	running := false
	for i := range s.dirs {
		c := s.load(i)
		e := indexEntry{Link: "runs/" + strconv.Itoa(i) + "/", Name: c.name, Dir: s.dirs[i], Evaluations: c.evals, State: "in progress"}
		switch {
		case c.err != nil:
			e.State, e.Error = "unreadable", c.err.Error()
		case c.finished:
			e.State = "finished"
		default:
			running = true
		}
		entries[i] = e
	}
	var buf bytes.Buffer
	err := indexTemplate.Execute(&buf, struct {
		Runs    []indexEntry
		Refresh int
	}{entries, map[bool]int{true: int(s.refresh / time.Second), false: 0}[running]})
	if err != nil {
		http.Error(w, "index: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">
{{end}}<title>evomerge runs</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:24px auto;padding:0 16px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb}.error{color:#b42318}</style>
</head>
<body>
<h1>evomerge runs</h1>
<table>
<thead><tr><th>run</th><th>directory</th><th>state</th><th>evaluations</th></tr></thead>
<tbody>
{{range .Runs}}<tr><td><a href="{{.Link}}">{{.Name}}</a></td><td><code>{{.Dir}}</code></td><td>{{.State}}{{with .Error}}<div class="error">{{.}}</div>{{end}}</td><td>{{.Evaluations}}</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))
