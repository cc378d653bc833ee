package reports

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file drives headless Chromium over the DevTools protocol through
// --remote-debugging-pipe: the browser reads NUL-terminated JSON messages
// on fd 3 and writes them on fd 4, so no websocket is needed.

// findChromium returns the Chromium binary: $EVOMERGE_CHROMIUM, or the first
// of the usual names on PATH; "" when there is none.
func findChromium() string {
	if p := os.Getenv("EVOMERGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type browser struct {
	cmd     *exec.Cmd
	toB     *os.File
	stderr  *strings.Builder
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage
	events  []cdpMessage
	notify  chan struct{}
	done    chan struct{}
}

// startBrowser launches headless Chromium with networking made unavailable
// (every host resolves to nothing, no proxy) and a fresh profile. The
// hosts in allow (e.g. "127.0.0.1" for a test server) are exempt.
func startBrowser(t *testing.T, bin string, allow ...string) *browser {
	t.Helper()
	profile := t.TempDir()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--mute-audio",
		"--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND" + exclusions(allow),
		"--user-data-dir=" + profile, "--window-size=1280,1600",
		"--remote-debugging-pipe", "about:blank",
	}
	toBrowserR, toBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowserR, fromBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{toBrowserR, fromBrowserW} // fd 3, fd 4
	stderr := &strings.Builder{}
	cmd.Stderr = &syncWriter{w: stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	toBrowserR.Close()
	fromBrowserW.Close()
	b := &browser{cmd: cmd, toB: toBrowserW, stderr: stderr, pending: map[int64]chan cdpMessage{}, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go b.readLoop(fromBrowserR)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		b.call(ctx, "", "Browser.close", map[string]any{}, nil)
		cancel()
		b.toB.Close()
		waited := make(chan struct{})
		go func() { cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-waited
		}
	})
	return b
}

func exclusions(hosts []string) string {
	var b strings.Builder
	for _, h := range hosts {
		b.WriteString(", EXCLUDE " + h)
	}
	return b.String()
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (b *browser) readLoop(r io.Reader) {
	defer close(b.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.pending[m.ID]; ok {
				delete(b.pending, m.ID)
				ch <- m
			}
		} else {
			b.events = append(b.events, m)
			select {
			case b.notify <- struct{}{}:
			default:
			}
		}
		b.mu.Unlock()
	}
}

// call sends a command (to the browser when session is "", else to that
// target session) and waits for its result.
func (b *browser) call(ctx context.Context, session, method string, params any, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	msg, _ := json.Marshal(cdpMessage{ID: id, Method: method, Params: p, SessionID: session})
	if _, err := b.toB.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("%s: write: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: browser exited; stderr:\n%s", method, b.stderr.String())
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// waitEvent waits for an event of the given method in session.
func (b *browser) waitEvent(ctx context.Context, session, method string) error {
	seen := 0
	for {
		b.mu.Lock()
		for ; seen < len(b.events); seen++ {
			if e := b.events[seen]; e.Method == method && e.SessionID == session {
				b.mu.Unlock()
				return nil
			}
		}
		b.mu.Unlock()
		select {
		case <-b.notify:
		case <-b.done:
			return errors.New("browser exited while waiting for " + method)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		}
	}
}

func (b *browser) eventsOf(session string) []cdpMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []cdpMessage
	for _, e := range b.events {
		if e.SessionID == session {
			out = append(out, e)
		}
	}
	return out
}

// evaluate runs a JavaScript expression in the page and decodes its JSON
// value into out.
func (b *browser) evaluate(ctx context.Context, session, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s %s", expr, res.ExceptionDetails.Text, res.ExceptionDetails.Exception.Description)
	}
	return json.Unmarshal(res.Result.Value, out)
}

// openPage opens url in a new tab with the Runtime, Log, Network and Page
// domains enabled, waits for the load event and returns the session id.
func (b *browser) openPage(ctx context.Context, url string) (string, error) {
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		return "", err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		return "", err
	}
	s := attached.SessionID
	for _, domain := range []string{"Runtime", "Log", "Network", "Page"} {
		if err := b.call(ctx, s, domain+".enable", map[string]any{}, nil); err != nil {
			return "", err
		}
	}
	if err := b.call(ctx, s, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return "", err
	}
	return s, b.waitEvent(ctx, s, "Page.loadEventFired")
}

// pageProblems lists JavaScript exceptions, console errors and warnings,
// browser log errors and every network request other than allowed.
func pageProblems(events []cdpMessage, allowed string) (problems, requests []string) {
	for _, e := range events {
		switch e.Method {
		case "Runtime.exceptionThrown":
			problems = append(problems, "exception: "+string(e.Params))
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Type == "error" || p.Type == "warning" || p.Type == "assert" {
				problems = append(problems, "console "+p.Type+": "+string(e.Params))
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level string `json:"level"`
				} `json:"entry"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				problems = append(problems, "log: "+string(e.Params))
			}
		case "Network.requestWillBeSent":
			var p struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			json.Unmarshal(e.Params, &p)
			requests = append(requests, p.Request.URL)
			if p.Request.URL != allowed {
				problems = append(problems, "network request: "+p.Request.URL)
			}
		}
	}
	return problems, requests
}

// chartPixels is what the page reports about each chart element.
type chartPixels struct {
	ID       string `json:"id"`
	Canvases int    `json:"canvases"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Inked    int    `json:"inked"`
	Colours  int    `json:"colours"`
}

// chartPixelsJS counts, for every chart element, its canvases, and in
// them the pixels that are neither transparent nor white, and the number
// of distinct colours among them (a blank or single-colour canvas means
// nothing was drawn).
const chartPixelsJS = `Array.prototype.map.call(document.querySelectorAll("div.chart"), function (el) {
  var cs = el.querySelectorAll("canvas"), inked = 0, w = 0, h = 0, colours = {};
  for (var i = 0; i < cs.length; i++) {
    var c = cs[i]; w = Math.max(w, c.width); h = Math.max(h, c.height);
    var d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (var k = 0; k < d.length; k += 4) {
      if (d[k+3] === 0 || (d[k] > 250 && d[k+1] > 250 && d[k+2] > 250)) { continue; }
      inked++; colours[(d[k] >> 4) + "," + (d[k+1] >> 4) + "," + (d[k+2] >> 4)] = true;
    }
  }
  return { id: el.id, canvases: cs.length, width: w, height: h, inked: inked, colours: Object.keys(colours).length };
})`

// writeTemp writes data to name in dir and returns the file URL.
func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}
