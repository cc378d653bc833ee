package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/evomerge/evomerge/evaluate"
)

// CoordinatorOptions say where a run's evaluations go.
type CoordinatorOptions struct {
	// Serve, when set, is HOST:PORT of an embedded server the run starts
	// (`evomerge run --serve-nats`), with its streams in StoreDir; else
	// Server is the URL of a running server or cluster.
	Serve, StoreDir string
	Server          string
	// Token protects the embedded server; workers dial
	// nats://TOKEN@HOST:PORT. A non-loopback Serve address requires it.
	Token string
	// Evaluator options (run name, time limit, topology).
	Evaluator Options
}

// Coordinator is the connection, optional embedded server and evaluator of
// a run.
type Coordinator struct {
	srv *Server
	nc  *natsgo.Conn
	ev  *Evaluator
	url string
}

// StartCoordinator starts the embedded server (if asked), connects and
// creates the evaluator for the setup, identified by local (the run's own
// build of the setup).
func StartCoordinator(ctx context.Context, setup *Setup, local evaluate.Identified, opt CoordinatorOptions) (*Coordinator, error) {
	c := &Coordinator{}
	dial := opt.Server
	switch {
	case opt.Serve != "":
		host, _, err := net.SplitHostPort(opt.Serve)
		if err != nil {
			return nil, fmt.Errorf("nats: serve address %q: give HOST:PORT, e.g. 127.0.0.1:4222: %w", opt.Serve, err)
		}
		if ip := net.ParseIP(host); opt.Token == "" && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
			return nil, fmt.Errorf("nats: serving on %s lets other machines in: set a token (EVOMERGE_NATS_TOKEN) that workers give as nats://TOKEN@HOST:PORT, or serve on 127.0.0.1", opt.Serve)
		}
		c.srv, err = StartServer(ServerOptions{Addr: opt.Serve, StoreDir: opt.StoreDir, Token: opt.Token})
		if err != nil {
			return nil, err
		}
		dial = c.srv.ClientURL()
		addr := opt.Serve
		if u, err := url.Parse(dial); err == nil {
			addr = net.JoinHostPort(host, u.Port()) // the port picked for port 0
		}
		c.url = "nats://" + addr
		if opt.Token != "" {
			dial = withToken(dial, opt.Token)
			c.url = "nats://TOKEN@" + addr
		}
	case dial == "":
		return nil, errors.New("nats: no server: give evaluator.server = \"nats://HOST:PORT\" or start the run with --serve-nats HOST:PORT")
	default:
		c.url = redact(dial)
	}
	nc, err := Connect(dial, "evomerge-coordinator")
	if err != nil {
		c.Close()
		return nil, err
	}
	c.nc = nc
	if c.ev, err = NewEvaluator(ctx, nc, setup, local, opt.Evaluator); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Evaluator is the run's evaluator.
func (c *Coordinator) Evaluator() *Evaluator { return c.ev }

// WorkerURL is the URL workers dial (a token shown as TOKEN).
func (c *Coordinator) WorkerURL() string { return c.url }

// Close closes the connection and stops the embedded server; queued
// requests and stored results stay in its store for a resumed run.
func (c *Coordinator) Close() {
	if c.nc != nil {
		c.nc.Close()
	}
	if c.srv != nil {
		c.srv.Shutdown()
	}
}

func withToken(u, token string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	parsed.User = url.User(token)
	return parsed.String()
}

// redact hides credentials in URLs (comma-separated).
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// PoolRefs describes pool files by content: the base (nil for "") and the
// experts with their names.
func PoolRefs(base string, paths, names []string) (*ModelRef, []ModelRef, error) {
	if len(names) != len(paths) {
		return nil, nil, fmt.Errorf("nats: %d names for %d models", len(names), len(paths))
	}
	var baseRef *ModelRef
	if base != "" {
		ref, err := NewModelRef("base", base)
		if err != nil {
			return nil, nil, err
		}
		baseRef = &ref
	}
	var experts []ModelRef
	for i, p := range paths {
		ref, err := NewModelRef(names[i], p)
		if err != nil {
			return nil, nil, err
		}
		experts = append(experts, ref)
	}
	return baseRef, experts, nil
}
