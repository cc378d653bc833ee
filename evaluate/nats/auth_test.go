package nats

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A worker whose token the server refuses says so promptly instead of
// waiting for the server forever; the right token gets it through.
func TestWorkerReportsRefusedCredentials(t *testing.T) {
	srv, err := StartServer(ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	hostport := strings.TrimPrefix(srv.ClientURL(), "nats://")
	cases := []struct {
		name, url string
		refused   bool
		want      []string
	}{
		{"missing token", "nats://" + hostport, true, []string{
			"the NATS server at nats://" + hostport + " refused the worker's credentials (authorization violation)",
			"the URL carries no token", "--server nats://TOKEN@" + hostport, "EVOMERGE_NATS_TOKEN"}},
		{"wrong token", "nats://wrong@" + hostport, true, []string{
			"the NATS server at nats://REDACTED@" + hostport + " refused the worker's credentials (authorization violation)",
			"the token in the URL is not the server's", "--server nats://TOKEN@" + hostport}},
		{"right token", "nats://s3cret@" + hostport, false, []string{"waiting for a coordinator to create stream"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := ConnectWaiting(tc.url, "test-worker")
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			wait := 10 * time.Second
			if !tc.refused {
				wait = 1500 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			var log syncBuffer
			start := time.Now()
			_, err = RunWorker(ctx, nc, WorkerOptions{Log: &log, Exit: func(int) { t.Error("worker exited the process") }})
			took := time.Since(start)
			if !tc.refused {
				if err != nil {
					t.Fatalf("right token: %v", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(log.String(), w) {
						t.Errorf("log %q lacks %q", log.String(), w)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("RunWorker returned no error after %v; log %q", took, log.String())
			}
			t.Logf("refusal: %v", err)
			if !errors.Is(err, natsgo.ErrAuthorization) {
				t.Errorf("error %v is not natsgo.ErrAuthorization", err)
			}
			if took > 5*time.Second {
				t.Errorf("the refusal took %v to report", took)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong@") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a token", err)
			}
		})
	}
}
