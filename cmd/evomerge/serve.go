package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/evomerge/evomerge/internal/rundir"
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
		if _, err := os.Stat(filepath.Join(d, rundir.ConfigFile)); err != nil {
			return fmt.Errorf("%s is not a run directory (no %s): give directories `evomerge run` printed", d, rundir.ConfigFile)
		}
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("--addr %q: %v (use host:port, e.g. 127.0.0.1:8080)", *addr, err)
	}
	policy, err := rundir.NewHostPolicy(host, *allowHost)
	if err != nil {
		return usageError{err}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port? pick another with --addr)", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "warning: serving on %s, which is reachable from other machines; the reports include the run configuration\n", ln.Addr())
	}
	srv := rundir.NewReportServer(dirs, *refresh, reportLoader)
	fmt.Fprintf(stdout, "serving %d run(s) on http://%s/ (Ctrl-C stops)\n", len(dirs), ln.Addr())
	return rundir.ServeUntilDone(ctx, ln, rundir.GuardHost(policy, srv))
}

// reportLoader reads run directories for the report server the way
// `evomerge report` does.
var reportLoader = rundir.DirReports
