package reports

import (
	"html/template"
	"strconv"
)

// pageScript defines the page's functions: tooltip formatters that escape
// every string they show (ECharts 4 renders tooltips as HTML), chart
// drawing, and table sorting. The tooltip texts come in as JSON. It is a
// constant, so nothing from run data is ever code.
const pageScript = `var evomerge = (function () {
  "use strict";
  var items = JSON.parse(document.getElementById("evomerge-items").textContent);
  var charts = [];
  function esc(s) {
    return String(s).split("&").join("&amp;").split("\x3c").join("&lt;").split(">").join("&gt;").split('"').join("&quot;").split("'").join("&#39;");
  }
  function num(v) {
    if (typeof v === "number") { return String(+v.toPrecision(6)); }
    return esc(v);
  }
  function pair(v) {
    if (v instanceof Array) { return "(" + v.map(num).join(", ") + ")"; }
    return num(v);
  }
  function one(p) {
    var d = p.data || {};
    var lines = items[d.name];
    var head = esc(p.seriesName);
    if (lines) { return head + "\x3cbr>" + lines.map(esc).join("\x3cbr>"); }
    return head + "\x3cbr>" + pair(p.value);
  }
  function tip(p) {
    if (p instanceof Array) { return p.map(one).join("\x3cbr>"); }
    return one(p);
  }
  function axisTip(ps) {
    if (!(ps instanceof Array)) { ps = [ps]; }
    if (ps.length === 0) { return ""; }
    var v0 = ps[0].value;
    var out = ["x = " + num(v0 instanceof Array ? v0[0] : v0)];
    ps.forEach(function (p) {
      var y = p.value instanceof Array ? p.value[1] : p.value;
      out.push(esc(p.seriesName) + ": " + num(y));
    });
    return out.join("\x3cbr>");
  }
  function heatTip(p) {
    var d = p.data || {};
    var v = d.value || p.value || [];
    return esc(d.name) + "\x3cbr>" + num(v[2]);
  }
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") { return; }
    var c = echarts.init(el, null, { renderer: "canvas" });
    c.setOption(option);
    charts.push(c);
  }
  function sortTable(th) {
    var table = th.parentNode.parentNode.parentNode;
    var body = table.tBodies[0];
    var col = +th.getAttribute("data-col");
    var numeric = th.getAttribute("data-type") === "num";
    var asc = th.getAttribute("data-dir") !== "asc";
    Array.prototype.forEach.call(table.querySelectorAll("th[data-col]"), function (h) { h.removeAttribute("data-dir"); });
    th.setAttribute("data-dir", asc ? "asc" : "desc");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-sort"), y = b.cells[col].getAttribute("data-sort");
      if (x === y) { return 0; }
      if (x === "") { return 1; }
      if (y === "") { return -1; }
      var r;
      if (numeric) { r = parseFloat(x) - parseFloat(y); } else { r = x > y ? 1 : -1; }
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.addEventListener("click", function (e) {
    var t = e.target;
    while (t && t !== document && !(t.tagName === "TH" && t.hasAttribute("data-col"))) { t = t.parentNode; }
    if (t && t !== document) { sortTable(t); }
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  return { tip: tip, axisTip: axisTip, heatTip: heatTip, draw: draw, charts: charts, sortTable: sortTable };
})();
`

// pollScript returns the live view's polling script.
func pollScript(p *page) (template.JS, error) {
	url, err := scriptJSON(p.PollURL)
	if err != nil {
		return "", err
	}
	version, err := scriptJSON(p.Version)
	if err != nil {
		return "", err
	}
	return template.JS(`(function () {
  "use strict";
  var url = ` + string(url) + `, version = ` + string(version) + `, every = ` + strconv.Itoa(p.PollSeconds*1000) + `;
  function poll() {
    fetch(url, { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.version !== version) { location.reload(); return; }
      if (!s.finished) { setTimeout(poll, every); }
    }).catch(function () { setTimeout(poll, every); });
  }
  setTimeout(poll, every);
})();
`), nil
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"pageScript": func() template.JS { return template.JS(pageScript) },
	"pollScript": pollScript,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'">
<title>evomerge report: {{.Name}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 48px;color:#1f2933}
h1{margin:24px 0 4px}h2{margin-top:40px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
.status{color:#52606d}.note{color:#52606d;font-size:0.92em}
.splits{background:#f0f4f8;border-left:4px solid #2e86ab;padding:8px 12px;margin:16px 0}
.chart{width:100%;margin:12px 0}
table{border-collapse:collapse;font-size:0.9em;width:100%}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th[data-col]{cursor:pointer;user-select:none;background:#f5f7fa}
th[data-dir=asc]::after{content:" ▲"}th[data-dir=desc]::after{content:" ▼"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th.test,td.test{background:#fff8e6}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:0.85em}
pre{background:#f5f7fa;padding:12px;overflow:auto}
td pre{white-space:pre-wrap;word-break:break-all;max-width:36em}
p.caveat{background:#fff4e5;border-left:4px solid #d97706;padding:6px 10px}dl.facts{display:grid;grid-template-columns:max-content auto;gap:4px 16px}dl.facts dt{color:#52606d}dl.facts dd{margin:0}tr.chosen td{font-weight:600}
</style>
</head>
<body>
<header>
<h1>{{.Name}}</h1>
<p class="status" id="run-status">Run {{.Status}}.{{if .Live}} This page reloads when new evaluations are recorded.{{end}}</p>
<p class="splits"><strong>Validation</strong> scores come from the fitness split <code>{{.FitnessSplit}}</code>: the search optimised them.
<strong>Test</strong> scores come from the held-out split <code>{{.TestSplit}}</code>, scored only for final front members and never used by the search.</p>
{{with .Note}}<p class="caveat" id="run-note"><strong>Note:</strong> {{.}}</p>{{end}}
</header>
<noscript><p>The charts need JavaScript; the tables below do not.</p></noscript>
{{if .Empty}}<p id="empty">No candidate has been scored yet.</p>{{end}}
<section id="section-pareto">
<h2>Pareto front</h2>
{{with .ParetoNote}}<p class="note">{{.}}</p>{{end}}
{{range .Pareto}}<div class="chart" id="{{.ID}}" style="height:{{.Height}}px"></div>
{{end}}</section>
<section id="section-progress">
<h2>Progress</h2>
{{with .ProgressNote}}<p class="note">{{.}}</p>{{end}}
{{range .Progress}}<div class="chart" id="{{.ID}}" style="height:{{.Height}}px"></div>
{{end}}</section>
<section id="section-front">
<h2>Front members</h2>
{{if .FrontComputed}}<p class="note">The run has not written its final front yet: these are the non-dominated candidates so far, by validation score; test scores are pending.</p>{{end}}
{{with .ChosenNote}}<p class="note" id="chosen-note">{{.}}</p>{{end}}
<p class="note">Click a column header to sort. Validation columns are fitness-split scores; shaded columns are held-out test scores.</p>
<table id="front-table">
<thead><tr>{{range $i, $h := .Table.Head}}<th data-col="{{$i}}"{{if $i}} data-type="num"{{end}}{{with $h.Class}} class="{{.}}"{{end}}>{{$h.Label}}</th>{{end}}<th>recipe and export</th></tr></thead>
<tbody>
{{range .Table.Rows}}<tr{{if .Chosen}} class="chosen"{{end}}>{{range .Cells}}<td data-sort="{{.Sort}}"{{with .Class}} class="{{.}}"{{end}}{{with .Title}} title="{{.}}"{{end}}>{{.Text}}</td>{{end}}<td><details><summary>show</summary><pre>{{.Recipe}}</pre><p>Export this merge:</p><pre class="cmd">{{.Export}}</pre></details></td></tr>
{{end}}</tbody>
</table>
{{with .References.Rows}}<h3>Reference models</h3>
<table id="reference-table">
<thead><tr>{{range $i, $h := $.References.Head}}<th data-col="{{$i}}"{{if gt $i 1}} data-type="num"{{end}}{{with $h.Class}} class="{{.}}"{{end}}>{{$h.Label}}</th>{{end}}</tr></thead>
<tbody>
{{range .}}<tr>{{range .Cells}}<td data-sort="{{.Sort}}"{{with .Class}} class="{{.}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>{{end}}
</section>
<section id="section-coefficients">
<h2>Coefficients</h2>
{{with .CoeffNote}}<p class="note">{{.}}</p>{{else}}<p class="note">This run's genomes have no named coefficients.</p>{{end}}
{{range .Coefficients}}<div class="chart" id="{{.ID}}" style="height:{{.Height}}px"></div>
{{end}}</section>
{{range .Sections}}<section class="view">
<h2>{{.Title}}</h2>
{{with .Note}}<p class="note">{{.}}</p>
{{end}}{{range .Charts}}<div class="chart" id="{{.ID}}" style="height:{{.Height}}px"></div>
{{end}}{{range .Tables}}<table class="section-table">{{with .Caption}}<caption>{{.}}</caption>{{end}}
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}</section>
{{end}}<section id="section-facts">
<h2>Run facts</h2>
<dl class="facts">
{{range .Facts}}<dt>{{.Key}}</dt><dd>{{.Value}}</dd>
{{end}}</dl>
<h3>Failed evaluations</h3>
{{if .Failures}}<table id="failures"><thead><tr><th>evaluation</th><th>candidate</th><th>reason</th></tr></thead><tbody>
{{range .Failures}}<tr><td>{{.Evaluation}}</td><td title="{{.ID}}"><code>{{.ID}}</code></td><td>{{.Error}}</td></tr>
{{end}}</tbody></table>{{else}}<p>None.</p>{{end}}
<h3>Configuration</h3>
<pre id="config">{{.Config}}</pre>
</section>
<script type="application/json" id="evomerge-items">{{.Items}}</script>
<script>{{.ECharts}}</script>
<script>{{pageScript}}</script>
<script>
{{range .Pareto}}{{.Script}}{{end}}{{range .Progress}}{{.Script}}{{end}}{{range .Coefficients}}{{.Script}}{{end}}{{range .Sections}}{{range .Charts}}{{.Script}}{{end}}{{end}}</script>
{{if .Live}}<script>{{pollScript .}}</script>
{{end}}</body>
</html>
`))
