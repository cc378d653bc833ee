package reports

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReportInChromium opens generated reports from disk in headless
// Chromium with networking unavailable and checks that every chart drew
// on its canvas, that no script error or warning was logged, that the page
// made no request but for itself, that hostile names stayed text (no
// element was injected, no script ran) and that tooltips escape them.
func TestReportInChromium(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set EVOMERGE_CHROMIUM to the binary): the browser test is skipped")
	}
	empty := sampleRun(2, 0)
	empty.Sections = nil
	common := []string{"progress_hv", "progress_best", "progress_time", "coefficients_0", "coefficients_1",
		"m2n2_coverage", "m2n2_solved", "map_surrogate", "adamerging_loss", "adamerging_coefficients", "fw_selected", "fw_steps"}
	cases := []struct {
		name   string
		run    *Run
		charts []string // chart element ids that must be drawn
	}{
		{"two objectives", sampleRun(2, 120), append([]string{"pareto"}, common...)},
		{"three objectives", sampleRun(3, 90), append([]string{"pareto", "pareto_0_1", "pareto_0_2", "pareto_1_2", "coefficients_2"}, common...)},
		{"no evaluations yet", empty, nil},
	}
	// EVOMERGE_REPORT_FILE adds a report written by `evomerge report` (for
	// example from a quickstart run) to the pages checked.
	var external []byte
	if path := os.Getenv("EVOMERGE_REPORT_FILE"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		external = data
		cases = append(cases, struct {
			name   string
			run    *Run
			charts []string
		}{"report file " + filepath.Base(path), nil, []string{"pareto", "progress_hv", "progress_best", "coefficients_0"}})
	}
	b := startBrowser(t, bin)
	dir := t.TempDir()
	shots := os.Getenv("EVOMERGE_REPORT_SCREENSHOTS")
	for n, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			html := external
			if tc.run != nil {
				var buf bytes.Buffer
				start := time.Now()
				if err := Render(&buf, tc.run); err != nil {
					t.Fatal(err)
				}
				t.Logf("rendered %d bytes in %v", buf.Len(), time.Since(start))
				html = buf.Bytes()
			}
			if regexp.MustCompile(`(?i)<script[^>]*\ssrc\s*=`).Match(html) {
				t.Fatal("page has a <script src=...>")
			}
			name := "report" + string(rune('a'+n)) + ".html"
			url := writeTemp(t, dir, name, html)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s, err := b.openPage(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			want := len(regexp.MustCompile(`<div class="chart" id="`).FindAll(html, -1))
			if want < len(tc.charts) {
				t.Fatalf("%d chart elements, want at least %d", want, len(tc.charts))
			}
			var drawn int
			deadline := time.Now().Add(15 * time.Second)
			for {
				if err := b.evaluate(ctx, s, `typeof evomerge === "object" ? evomerge.charts.length : -1`, &drawn); err != nil {
					t.Fatal(err)
				}
				if drawn >= want || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if drawn != want {
				problems, _ := pageProblems(b.eventsOf(s), url)
				t.Fatalf("%d charts initialised, want %d; page problems: %q", drawn, want, problems)
			}
			var pix []chartPixels
			if err := b.evaluate(ctx, s, chartPixelsJS, &pix); err != nil {
				t.Fatal(err)
			}
			if len(pix) != want {
				t.Errorf("%d chart elements, want %d", len(pix), want)
			}
			ids := map[string]bool{}
			for _, p := range pix {
				ids[p.ID] = true
				// A drawn chart has axes, labels and marks in several
				// colours; 500 inked pixels is far below any real chart.
				if p.Canvases < 1 || p.Width < 300 || p.Height < 100 || p.Inked < 500 || p.Colours < 3 {
					t.Errorf("chart %s looks blank: %+v", p.ID, p)
				}
			}
			for _, id := range tc.charts {
				if !ids[id] {
					t.Errorf("chart %s missing", id)
				}
			}
			var injected struct {
				Pwned  bool `json:"pwned"`
				Images int  `json:"images"`
				Title  string
			}
			if err := b.evaluate(ctx, s, `({pwned: window.pwned !== undefined, images: document.images.length, Title: document.title})`, &injected); err != nil {
				t.Fatal(err)
			}
			if injected.Pwned || injected.Images != 0 {
				t.Errorf("hostile names were interpreted: %+v", injected)
			}
			if want := "evomerge report: " + evilRun; tc.run != nil && injected.Title != want {
				t.Errorf("title %q, want %q", injected.Title, want)
			}
			if tc.run != nil && len(tc.charts) > 0 {
				checkTooltip(ctx, t, b, s)
				// Heatmap tooltips: the third coefficient cell is the
				// hostile model's.
				checkChartTooltip(ctx, t, b, s, "coefficients_0", 0, 2, "layers.0/weight · "+evilModel)
				checkSort(ctx, t, b, s)
			}
			if shots != "" {
				var shot struct {
					Data string `json:"data"`
				}
				if err := b.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err == nil {
					png, _ := base64.StdEncoding.DecodeString(shot.Data)
					os.WriteFile(filepath.Join(shots, strings.ReplaceAll(tc.name, " ", "_")+".png"), png, 0o644)
				}
			}
			problems, requests := pageProblems(b.eventsOf(s), url)
			for _, p := range problems {
				t.Error(p)
			}
			if len(requests) != 1 {
				t.Errorf("requests %q, want only the page itself", requests)
			}
		})
	}
}

// checkTooltip shows the tooltip of the hostile-named expert on the first
// scatter chart (ECharts 4.1 cannot show a parallel-series tooltip by API) and checks that its text is shown literally.
func checkTooltip(ctx context.Context, t *testing.T, b *browser, s string) {
	t.Helper()
	const js = `(function () {
  var c = null, idx = -1;
  for (var n = 0; n < evomerge.charts.length && idx < 0; n++) {
    c = evomerge.charts[n];
    var series = c.getOption().series;
    for (var i = 0; i < series.length; i++) { if (series[i].name === "experts" && series[i].type === "scatter") { idx = i; } }
  }
  if (idx < 0) { return {found: false}; }
  c.dispatchAction({type: "showTip", seriesIndex: idx, dataIndex: 0});
  var tips = document.getElementById(c.getDom().id).querySelectorAll("div");
  var text = "";
  for (var k = 0; k < tips.length; k++) { if (tips[k].textContent.indexOf("expert") >= 0) { text = tips[k].textContent; } }
  return {found: true, text: text, images: document.images.length, pwned: window.pwned !== undefined};
})()`
	var res struct {
		Found  bool   `json:"found"`
		Text   string `json:"text"`
		Images int    `json:"images"`
		Pwned  bool   `json:"pwned"`
	}
	if err := b.evaluate(ctx, s, js, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Found {
		t.Fatal("no experts series on the first chart")
	}
	if !strings.Contains(res.Text, "expert: "+evilExpert) || res.Images != 0 || res.Pwned {
		t.Errorf("tooltip of the hostile expert: %+v; want its name as text", res)
	}
}

// checkChartTooltip shows the tooltip of one data item of a chart and
// checks that it shows want as text, injecting no element.
func checkChartTooltip(ctx context.Context, t *testing.T, b *browser, s, chartID string, series, item int, want string) {
	t.Helper()
	js := `(function (id, series, item, want) {
  var c = null;
  for (var n = 0; n < evomerge.charts.length; n++) { if (evomerge.charts[n].getDom().id === id) { c = evomerge.charts[n]; } }
  if (!c) { return {text: "no chart " + id}; }
  c.dispatchAction({type: "showTip", seriesIndex: series, dataIndex: item});
  var divs = c.getDom().querySelectorAll("div"), text = "";
  for (var k = 0; k < divs.length; k++) { if (divs[k].textContent.indexOf(want) >= 0) { text = divs[k].textContent; } }
  return {text: text, images: document.images.length, pwned: window.pwned !== undefined};
})(` + strconv.Quote(chartID) + `, ` + strconv.Itoa(series) + `, ` + strconv.Itoa(item) + `, ` + strconv.Quote(want) + `)`
	var res struct {
		Text   string `json:"text"`
		Images int    `json:"images"`
		Pwned  bool   `json:"pwned"`
	}
	if err := b.evaluate(ctx, s, js, &res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text, want) || res.Images != 0 || res.Pwned {
		t.Errorf("tooltip of %s item %d: %+v; want %q as text", chartID, item, res, want)
	}
}

// checkSort clicks the first validation column header twice and checks
// the table is sorted ascending, then descending.
func checkSort(ctx context.Context, t *testing.T, b *browser, s string) {
	t.Helper()
	const js = `(function () {
  var th = document.querySelector("#front-table th[data-col='1']"), out = [];
  for (var n = 0; n < 2; n++) {
    th.click();
    out.push(Array.prototype.map.call(document.querySelectorAll("#front-table tbody tr"), function (r) { return parseFloat(r.cells[1].getAttribute("data-sort")); }));
  }
  return out;
})()`
	var orders [][]float64
	if err := b.evaluate(ctx, s, js, &orders); err != nil {
		t.Fatal(err)
	}
	if len(orders) != 2 || len(orders[0]) < 2 {
		t.Fatalf("sort result %v", orders)
	}
	for i := 1; i < len(orders[0]); i++ {
		if orders[0][i] < orders[0][i-1] || orders[1][i] > orders[1][i-1] {
			t.Fatalf("column not sorted: ascending %v, descending %v", orders[0], orders[1])
		}
	}
}

// TestLivePageInChromium serves a running report over loopback and checks
// in Chromium that the page polls its status (allowed by its
// Content-Security-Policy), reloads when the version changes, and reloads
// no more once the run is finished.
func TestLivePageInChromium(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set EVOMERGE_CHROMIUM to the binary): the browser test is skipped")
	}
	var (
		mu       sync.Mutex
		version  = 1
		finished bool
		loads    int
		polls    int
	)
	run := sampleRun(2, 30)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		loads++
		v := version
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := RenderOptions(w, run, Options{PollURL: "status.json", PollSeconds: 1, Version: strconv.Itoa(v)}); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		polls++
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"version": strconv.Itoa(version), "finished": finished})
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	b := startBrowser(t, bin, "127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := b.openPage(ctx, ts.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	var marked bool
	if err := b.evaluate(ctx, s, `(window.evomergeTestMarker = true)`, &marked); err != nil {
		t.Fatal(err)
	}

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				problems, requests := pageProblems(b.eventsOf(s), "")
				t.Fatalf("timed out waiting for %s; page problems %q, requests %q", what, problems, requests)
			}
		}
	}
	waitFor("two polls", func() bool { mu.Lock(); defer mu.Unlock(); return polls >= 2 })
	mu.Lock()
	if loads != 1 {
		t.Errorf("page loaded %d times while its version did not change", loads)
	}
	version = 2
	finished = true
	mu.Unlock()
	waitFor("the reload", func() bool { mu.Lock(); defer mu.Unlock(); return loads == 2 })
	waitFor("the reloaded page", func() bool {
		var gone bool
		return b.evaluate(ctx, s, `window.evomergeTestMarker === undefined && typeof evomerge === "object" && evomerge.charts.length > 0`, &gone) == nil && gone
	})
	mu.Lock()
	pollsAtReload := polls
	mu.Unlock()
	time.Sleep(2500 * time.Millisecond)
	mu.Lock()
	// The reloaded page polls once, sees the run finished, and stops.
	if extra := polls - pollsAtReload; extra > 1 || loads != 2 {
		t.Errorf("after the run finished: %d more polls and %d loads, want at most 1 poll and 2 loads", extra, loads)
	}
	mu.Unlock()
	problems, requests := pageProblems(b.eventsOf(s), "")
	for _, p := range problems {
		if !strings.HasPrefix(p, "network request: "+ts.URL+"/") {
			t.Error(p)
		}
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, ts.URL+"/") {
			t.Errorf("request to %s", u)
		}
	}
}
