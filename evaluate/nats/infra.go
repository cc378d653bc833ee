package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Topology names the JetStream objects of distributed evaluation and the
// delivery policy. The coordinator creates them; workers bind to them and
// read the policy (ack wait, attempts) from the consumer.
type Topology struct {
	// Stream holds the requests on Subject: work-queue retention, file
	// storage, de-duplication by message id within Duplicates.
	Stream, Subject string
	// Consumer is the durable pull consumer every worker shares.
	Consumer string
	// Results is the key-value bucket of results by candidate id, the
	// shared evaluation cache; Setups holds setups by digest; Attempts
	// holds the last worker error of a candidate still being retried.
	Results, Setups, AttemptLog string
	// AckWait is how long a delivery may go without an acknowledgement or
	// heartbeat before JetStream redelivers it.
	AckWait time.Duration
	// Attempts bounds the evaluations of one request: after that many
	// deliveries ended without a result (crashes, watchdog exits), the next
	// delivery records the candidate failed with the last reason.
	Attempts int
	// Duplicates is the de-duplication window of message ids.
	Duplicates time.Duration
	// Replicas of the stream and buckets (1 embedded; 3 on a cluster).
	Replicas int
}

// DefaultTopology is what `evomerge run` and `evomerge worker` use.
func DefaultTopology() Topology {
	return Topology{
		Stream: "EVOMERGE_EVALS", Subject: "evomerge.eval.requests", Consumer: "evaluators",
		Results: "evomerge-results", Setups: "evomerge-setups", AttemptLog: "evomerge-attempts",
		AckWait: 60 * time.Second, Attempts: 3, Duplicates: 2 * time.Hour, Replicas: 1,
	}
}

func (t Topology) validate() error {
	switch {
	case t.Stream == "" || t.Subject == "" || t.Consumer == "" || t.Results == "" || t.Setups == "" || t.AttemptLog == "":
		return errors.New("nats: topology: every stream, subject, consumer and bucket needs a name")
	case t.AckWait < 100*time.Millisecond:
		return fmt.Errorf("nats: topology: ack wait %v is too short: give at least 100ms (default 60s)", t.AckWait)
	case t.Attempts < 1:
		return fmt.Errorf("nats: topology: attempts %d: give at least 1", t.Attempts)
	case t.Duplicates <= 0:
		return fmt.Errorf("nats: topology: duplicate window %v: give a positive duration", t.Duplicates)
	case t.Replicas < 1:
		return fmt.Errorf("nats: topology: replicas %d: give at least 1", t.Replicas)
	}
	return nil
}

// attemptsMetadata is the consumer metadata key that tells workers the
// attempts of a request.
const attemptsMetadata = "evomerge.attempts"

// attemptLogTTL bounds how long the note of a candidate's latest attempt
// is kept (results are kept for good: they are the shared cache).
const attemptLogTTL = 7 * 24 * time.Hour

// handles are the JetStream objects a coordinator or worker uses.
type handles struct {
	js                      jetstream.JetStream
	stream                  jetstream.Stream
	consumer                jetstream.Consumer
	results, setups, errors jetstream.KeyValue
}

// ensure creates (or updates) the stream, consumer and buckets.
func ensure(ctx context.Context, js jetstream.JetStream, t Topology) (*handles, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	h := &handles{js: js}
	var err error
	// The stream and buckets are created when missing and otherwise used as
	// they are, so an operator may create them beforehand (replicas 3 on a
	// cluster); the consumer carries the delivery policy and is updated.
	h.stream, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: t.Stream, Subjects: []string{t.Subject},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
		Duplicates: t.Duplicates, Replicas: t.Replicas,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		h.stream, err = js.Stream(ctx, t.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("nats: create stream %s: %w", t.Stream, err)
	}
	h.consumer, err = js.CreateOrUpdateConsumer(ctx, t.Stream, jetstream.ConsumerConfig{
		Durable: t.Consumer, AckPolicy: jetstream.AckExplicitPolicy,
		// Deliveries are unbounded: workers evaluate a request at most
		// Attempts times and the next delivery records it failed, so a
		// request never sits undelivered if that one dies too.
		AckWait: t.AckWait, MaxDeliver: -1, MaxAckPending: 10000,
		FilterSubject: t.Subject,
		Metadata:      map[string]string{attemptsMetadata: strconv.Itoa(t.Attempts)},
	})
	if err != nil {
		return nil, fmt.Errorf("nats: create consumer %s on %s: %w", t.Consumer, t.Stream, err)
	}
	for _, b := range []struct {
		name string
		dst  *jetstream.KeyValue
		ttl  time.Duration
	}{{t.Results, &h.results, 0}, {t.Setups, &h.setups, 0}, {t.AttemptLog, &h.errors, attemptLogTTL}} {
		*b.dst, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.name, Storage: jetstream.FileStorage, Replicas: t.Replicas, TTL: b.ttl})
		if errors.Is(err, jetstream.ErrBucketExists) {
			*b.dst, err = js.KeyValue(ctx, b.name)
		}
		if err != nil {
			return nil, fmt.Errorf("nats: create bucket %s: %w", b.name, err)
		}
	}
	return h, nil
}

// bind finds the objects a coordinator created, waiting for them until ctx
// ends (workers may start first).
func bind(ctx context.Context, js jetstream.JetStream, t Topology, waiting func(connected bool)) (*handles, error) {
	h := &handles{js: js}
	told := false
	for {
		var err error
		if !js.Conn().IsConnected() {
			// A worker started before the server: Connect keeps trying.
			err = jetstream.ErrStreamNotFound
		} else if h.stream, err = js.Stream(ctx, t.Stream); err == nil {
			if h.consumer, err = h.stream.Consumer(ctx, t.Consumer); err == nil {
				break
			}
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("nats: bind to %s/%s: %w", t.Stream, t.Consumer, err)
		}
		if !told && waiting != nil {
			waiting(js.Conn().IsConnected())
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, b := range []struct {
		name string
		dst  *jetstream.KeyValue
	}{{t.Results, &h.results}, {t.Setups, &h.setups}, {t.AttemptLog, &h.errors}} {
		var err error
		if *b.dst, err = js.KeyValue(ctx, b.name); err != nil {
			return nil, fmt.Errorf("nats: bucket %s: %w", b.name, err)
		}
	}
	return h, nil
}

// Connect dials a NATS server (URL nats://[TOKEN@]HOST:PORT, or several
// separated by commas) and keeps reconnecting if it goes away, so a server
// restart only pauses the run.
func Connect(url, name string) (*natsgo.Conn, error) {
	nc, err := natsgo.Connect(url,
		natsgo.Name(name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250*time.Millisecond),
		natsgo.RetryOnFailedConnect(false),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w (is a server listening there? start one with `evomerge run --serve-nats HOST:PORT` or nats-server -js)", url, err)
	}
	return nc, nil
}

// ConnectWaiting is Connect for workers: when no server answers yet it
// returns at once and keeps trying in the background, so workers may start
// before the run that serves them.
func ConnectWaiting(url, name string) (*natsgo.Conn, error) {
	nc, err := natsgo.Connect(url,
		natsgo.Name(name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250*time.Millisecond),
		natsgo.RetryOnFailedConnect(true),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", url, err)
	}
	return nc, nil
}

// ServerOptions configure an embedded NATS server with JetStream.
type ServerOptions struct {
	// Addr is HOST:PORT to listen on; port 0 picks a free one. Use a
	// loopback host unless workers on other machines must join, and then
	// set Token.
	Addr string
	// StoreDir holds the file-backed streams and buckets; the queue and the
	// results survive a restart on the same directory.
	StoreDir string
	// Token, when set, is required from every client (nats://TOKEN@HOST:PORT).
	Token string
	// Log prints the server's log to standard error.
	Log bool
}

// Server is an embedded NATS server with JetStream.
type Server struct {
	ns *server.Server
}

// StartServer starts an embedded server and waits until it accepts
// connections.
func StartServer(opt ServerOptions) (*Server, error) {
	host, portText, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("nats: serve address %q: give HOST:PORT, e.g. 127.0.0.1:4222 or 0.0.0.0:4222: %w", opt.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("nats: serve address %q: port %q is not a number in 0..65535", opt.Addr, portText)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if opt.StoreDir == "" {
		return nil, errors.New("nats: an embedded server needs a store directory for its file-backed streams")
	}
	if err := os.MkdirAll(opt.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("nats: store directory: %w", err)
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "evomerge", Host: host, Port: port,
		JetStream: true, StoreDir: opt.StoreDir,
		Authorization: opt.Token,
		NoLog:         !opt.Log, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: embedded server on %s: %w", opt.Addr, err)
	}
	if opt.Log {
		ns.ConfigureLogger()
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats: embedded server on %s did not start within 10s (is the port in use?)", opt.Addr)
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the URL clients on this machine dial (the token excluded).
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
