package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"regexp"
	"strings"
	"sync"

	"github.com/go-echarts/go-echarts/v2/types"
	"github.com/go-echarts/statsview/statics"
)

// chartOptions is what the report needs from a go-echarts chart: Validate
// fills defaults and JSON returns the ECharts option object.
type chartOptions interface {
	Validate()
	JSON() map[string]interface{}
}

// fnPrefix marks a string option value that must become a reference to one
// of the page's own formatter functions (see pageScript). Only names in
// pageFunctions are replaced, and only when the whole JSON string is the
// marker, so no value coming from run data can turn into code.
const fnPrefix = "__evomerge_fn__"

// pageFunctions are the formatter functions defined by pageScript.
var pageFunctions = []string{"tip", "axisTip", "heatTip"}

// fn returns the option value that refers to page function name.
func fn(name string) types.FuncStr {
	for _, f := range pageFunctions {
		if f == name {
			return types.FuncStr(fnPrefix + name)
		}
	}
	panic("reports: unknown page function " + name)
}

// scriptJSON encodes v for a <script> element: encoding/json escapes <, >, &
// and U+2028/U+2029, so no string can end the script or open a comment, and
// the result is valid JavaScript. Function markers become references to the
// page functions.
func scriptJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	for _, f := range pageFunctions {
		b = bytes.ReplaceAll(b, []byte(`"`+fnPrefix+f+`"`), []byte("evomerge."+f))
	}
	return b, nil
}

// chartScript returns the script that draws chart c into the element with
// the given id. The chart's own ChartID must equal id (it is set by the
// chart constructors here, so renders are deterministic).
func chartScript(id string, c chartOptions) (template.JS, error) {
	c.Validate()
	opt, err := scriptJSON(c.JSON())
	if err != nil {
		return "", fmt.Errorf("reports: chart %s: encode options: %w", id, err)
	}
	idJSON, _ := json.Marshal(id)
	var b strings.Builder
	b.WriteString("evomerge.draw(")
	b.Write(idJSON)
	b.WriteString(", ")
	b.Write(opt)
	b.WriteString(");\n")
	return template.JS(b.String()), nil
}

var (
	echartsOnce   sync.Once
	echartsScript template.JS
	echartsErr    error
)

// scriptBreakout matches what would end or confuse a <script> element.
var scriptBreakout = regexp.MustCompile(`(?i)</script|<!--|<script`)

// echartsJS returns ECharts 4.1.0 from the statsview module, checked once to
// be safe to inline in a <script> element.
func echartsJS() (template.JS, error) {
	echartsOnce.Do(func() {
		if loc := scriptBreakout.FindStringIndex(statics.EchartJS); loc != nil {
			echartsErr = fmt.Errorf("reports: the ECharts script from github.com/go-echarts/statsview contains %q at byte %d and cannot be inlined", statics.EchartJS[loc[0]:loc[1]], loc[0])
			return
		}
		echartsScript = template.JS(statics.EchartJS)
	})
	return echartsScript, echartsErr
}
