package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evomerge/evomerge/internal/run"
	"github.com/evomerge/evomerge/reports"
)

const serveSynopsis = `serve RUN_DIR... [--addr 127.0.0.1:8080] [--allow-host NAME,...] [--refresh 5s]

Serves the reports of one or more runs over HTTP: an index of the runs and
each run's report, regenerated from its directory when its files change.
A page of a run that is still going reloads itself when new evaluations
are recorded. It binds to the loopback interface unless --addr names
another; stop it with Ctrl-C.

It answers only requests whose Host header names it, so that a web page
on another site cannot read the reports through DNS rebinding: localhost,
127.0.0.0/8 and [::1] (any port) always; the --addr host when that is not
a loopback address; any IP address and this machine's host name when
--addr is 0.0.0.0 or [::]; and the names --allow-host lists (e.g. the
machine's DNS name, or a proxy's; "*" answers any name). Other requests
get 403 Forbidden.`

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSynopsis, stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	refresh := fs.Duration("refresh", 5*time.Second, "how often pages of running runs check for new evaluations")
	allowHost := fs.String("allow-host", "", "more Host names to answer, comma-separated, e.g. reports.lab.example (\"*\": any name, which turns the DNS-rebinding check off)")
	dirs, err := parseArgsAnyOrder(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef("serve needs at least one run directory")
	}
	if *refresh < time.Second {
		return usagef("--refresh %v: use at least 1s", *refresh)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, run.ConfigFile)); err != nil {
			return fmt.Errorf("%s is not a run directory (no %s): give directories `evomerge run` printed", d, run.ConfigFile)
		}
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("--addr %q: %v (use host:port, e.g. 127.0.0.1:8080)", *addr, err)
	}
	policy, err := newHostPolicy(host, *allowHost)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port? pick another with --addr)", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "warning: serving on %s, which is reachable from other machines; the reports include the run configuration\n", ln.Addr())
	}
	srv := newReportServer(dirs, *refresh)
	fmt.Fprintf(stdout, "serving %d run(s) on http://%s/ (Ctrl-C stops)\n", len(dirs), ln.Addr())
	return serveUntilDone(ctx, ln, hostGuard{policy: policy, next: srv})
}

// hostPolicy says which Host headers serve answers (see serveSynopsis).
type hostPolicy struct {
	// names are allowed host names and IP addresses, in hostOnly's form.
	names map[string]bool
	// anyIP allows every IP address (the server listens on all
	// interfaces; a rebinding page always uses a name).
	anyIP bool
	// any allows every Host (--allow-host "*").
	any bool
}

// newHostPolicy is the policy of a server bound to host (from --addr) with
// --allow-host's comma-separated extra names.
func newHostPolicy(host, extra string) (hostPolicy, error) {
	p := hostPolicy{names: map[string]bool{"localhost": true}}
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
			return hostPolicy{}, usagef("--allow-host %q: give host names separated by commas, e.g. --allow-host reports.lab.example,10.0.0.5", e)
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

// allows reports whether a request with this Host header is answered.
func (p hostPolicy) allows(hostHeader string) bool {
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

// hostGuard refuses requests whose Host the policy does not allow, before
// they reach the report server.
type hostGuard struct {
	policy hostPolicy
	next   http.Handler
}

func (g hostGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.policy.allows(r.Host) {
		host := r.Host
		if len(host) > 100 {
			host = host[:100] + "…"
		}
		http.Error(w, fmt.Sprintf("evomerge serve does not answer Host %q (a guard against DNS rebinding): open it as localhost or 127.0.0.1, or restart it with --allow-host NAME to answer that name", host), http.StatusForbidden)
		return
	}
	g.next.ServeHTTP(w, r)
}

// serveUntilDone serves h on ln until ctx is cancelled, then shuts the
// server down, letting requests in flight finish for up to 5 seconds.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
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

// reportServer serves an index of runs and each run's report, re-rendered
// only when the stamp of the run's files changes.
type reportServer struct {
	dirs    []string
	refresh time.Duration
	mux     *http.ServeMux

	mu    sync.Mutex
	cache []cachedReport
	// renders counts report renders (tests check the cache with it).
	renders int
}

type cachedReport struct {
	stamp    runStamp
	page     []byte
	name     string
	finished bool
	evals    int
	err      error
}

func newReportServer(dirs []string, refresh time.Duration) *reportServer {
	s := &reportServer{dirs: dirs, refresh: refresh, cache: make([]cachedReport, len(dirs)), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /runs/{run}/{$}", s.report)
	s.mux.HandleFunc("GET /runs/{run}/status.json", s.status)
	s.mux.HandleFunc("GET /runs/{run}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
	})
	return s
}

func (s *reportServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// load returns the run's report, rendering it again only when the run's
// files changed since the last render.
func (s *reportServer) load(i int) cachedReport {
	stamp, err := stampRun(s.dirs[i])
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return cachedReport{err: err, name: s.dirs[i]}
	}
	if c := s.cache[i]; c.stamp == stamp && (c.page != nil || c.err != nil) {
		return c
	}
	c := cachedReport{stamp: stamp, name: s.dirs[i]}
	run, readStamp, err := loadReportRun(s.dirs[i])
	if err == nil {
		// Stamp what was read: if a file changed while it was read, the
		// next request renders again.
		c.stamp = readStamp
		c.name, c.finished, c.evals = run.Name, run.Finished, len(run.Candidates)
		var buf bytes.Buffer
		err = reports.RenderOptions(&buf, run, reports.Options{
			PollURL: "status.json", PollSeconds: int(s.refresh / time.Second), Version: string(readStamp),
		})
		c.page = buf.Bytes()
		s.renders++
	}
	c.err = err
	s.cache[i] = c
	return c
}

func (s *reportServer) runIndex(w http.ResponseWriter, r *http.Request) (int, bool) {
	i, err := strconv.Atoi(r.PathValue("run"))
	if err != nil || i < 0 || i >= len(s.dirs) {
		http.Error(w, "no such run: the index at / lists them", http.StatusNotFound)
		return 0, false
	}
	return i, true
}

func (s *reportServer) report(w http.ResponseWriter, r *http.Request) {
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

// runStatus is what a running report page polls.
type runStatus struct {
	Version     string `json:"version"`
	Finished    bool   `json:"finished"`
	Evaluations int    `json:"evaluations"`
	Error       string `json:"error,omitempty"`
}

func (s *reportServer) status(w http.ResponseWriter, r *http.Request) {
	i, ok := s.runIndex(w, r)
	if !ok {
		return
	}
	c := s.load(i)
	st := runStatus{Version: string(c.stamp), Finished: c.finished, Evaluations: c.evals}
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

func (s *reportServer) index(w http.ResponseWriter, r *http.Request) {
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
