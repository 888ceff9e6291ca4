//go:build linux

package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"runtime"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// svg draws p as an inline SVG element (no XML prologue, fonts by family name only: the
// page loads nothing).
func svg(p *plot.Plot, w, h vg.Length) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return template.HTML(s), nil
}

// cdf is the latency distribution as at most 400 points (µs, fraction of connections).
func cdf(lat []int64) plotter.XYs {
	n := len(lat)
	if n == 0 {
		return nil
	}
	k := min(n, 400)
	pts := make(plotter.XYs, 0, k)
	for i := 0; i < k; i++ {
		idx := i * (n - 1) / max(k-1, 1)
		pts = append(pts, plotter.XY{X: float64(lat[idx]) / 1e3, Y: float64(idx+1) / float64(n)})
	}
	return pts
}

// sideName labels a row's side in plots: C, or the row's port.
func sideName(row *Row, impl standalone.Impl) string {
	if impl == standalone.Go {
		return row.Port
	}
	return implName(impl)
}

func latencyPlot(row *Row) (*plot.Plot, error) {
	model, sides := row.Model, row.Sides
	p := plot.New()
	p.Title.Text = model + ": latency per connection (CDF)"
	p.X.Label.Text = "connect to end of stream, µs (log)"
	p.Y.Label.Text = "fraction of connections"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	var args []any
	for _, impl := range Impls {
		if s := sides[impl]; s != nil && s.LoadErr == nil && len(s.Load.Lat) > 0 {
			args = append(args, sideName(row, impl), cdf(s.Load.Lat))
		}
	}
	if len(args) == 0 {
		return nil, nil
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return nil, err
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(-8)
	return p, nil
}

func sweepPlot(row *Row, sweep []int, base *Side) (*plot.Plot, error) {
	model, sides := row.Model, row.Sides
	p := plot.New()
	p.Title.Text = model + ": connections/s by concurrency"
	p.X.Label.Text = "concurrent clients (log)"
	p.Y.Label.Text = "connections/s"
	p.X.Scale = plot.LogScale{}
	ticks := make([]plot.Tick, 0, len(sweep))
	for _, c := range sweep {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: fmt.Sprint(c)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	points := func(s *Side) plotter.XYs {
		var xys plotter.XYs
		for _, c := range sweep {
			if m, ok := s.Sweep[c]; ok {
				xys = append(xys, plotter.XY{X: float64(c), Y: m.PerSec()})
			}
		}
		return xys
	}
	var args []any
	for _, impl := range Impls {
		if s := sides[impl]; s != nil && len(s.Sweep) > 0 {
			args = append(args, sideName(row, impl), points(s))
		}
	}
	if base != nil && len(base.Sweep) > 0 {
		args = append(args, "baseline", points(base))
	}
	if len(args) == 0 {
		return nil, nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	// Headroom above the highest point keeps the legend off the lines.
	top := 0.0
	for _, a := range args {
		if xys, ok := a.(plotter.XYs); ok {
			for _, xy := range xys {
				top = max(top, xy.Y)
			}
		}
	}
	p.Y.Max = top * 1.35
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(-8)
	return p, nil
}

type htmlModel struct {
	Name, IOModel   string
	Latency, Sweep  template.HTML
	TopC, TopGo     []load.NameCount
	Port            string // the Go side's name
	ParityDiffs     []string
	ParityEq, Total int
}

type htmlPage struct {
	Header    []string
	Rows      [][]string
	Targets   []string
	Notes     []string
	Seed      []string
	Models    []htmlModel
	Settings  string
	Machine   string
	Generated string
}

// WriteHTML writes the report as one self-contained page: inline CSS, inline SVG.
func (r *Report) WriteHTML(w io.Writer) error {
	page := htmlPage{
		Header:    Header,
		Targets:   r.Targets(),
		Notes:     r.Notes(),
		Generated: r.Started.UTC().Format("2006-01-02 15:04 UTC"),
		Machine:   fmt.Sprintf("%d CPUs, %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version()),
		Settings: fmt.Sprintf("%d clients for %v per model and language; system calls: strace -f -c over %d sequential connections less an idle run",
			r.Opt.Conc, r.Opt.Duration, r.Opt.StraceConns),
	}
	page.Rows = append(page.Rows, r.cells(nil))
	for _, row := range r.Rows {
		page.Rows = append(page.Rows, r.cells(row))
		hm := htmlModel{Name: row.Model, IOModel: row.IOModel, ParityDiffs: row.ParityDiffs,
			ParityEq: row.ParityEqual, Total: row.ParityTotal, Port: row.Port}
		if p, err := latencyPlot(row); err != nil {
			return err
		} else if p != nil {
			if hm.Latency, err = svg(p, 6.2*vg.Inch, 3.6*vg.Inch); err != nil {
				return err
			}
		}
		if len(r.Opt.Sweep) > 0 {
			if p, err := sweepPlot(row, r.Opt.Sweep, r.Baseline); err != nil {
				return err
			} else if p != nil {
				if hm.Sweep, err = svg(p, 6.2*vg.Inch, 3.6*vg.Inch); err != nil {
					return err
				}
			}
		}
		if s := row.Sides[standalone.C]; s != nil && s.SysErr == nil {
			hm.TopC = s.Sys.Top(10)
		}
		if s := row.Sides[standalone.Go]; s != nil && s.SysErr == nil {
			hm.TopGo = s.Sys.Top(10)
		}
		page.Models = append(page.Models, hm)
	}
	if r.Seed != nil {
		page.Seed = r.SeedLines()
	}
	return pageTmpl.Execute(w, page)
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"f2": func(v float64) string { return fmt.Sprintf("%.2f", v) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>iomodels: C and Go side by side</title>
<style>
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 24px; color: #222; max-width: 1360px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p.meta { color: #666; font-size: 13px; margin-top: 0; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; }
th { background: #f0f0f0; font-weight: 600; }
table.main td { text-align: right; white-space: nowrap; }
table.main td:nth-child(1), table.main td:nth-child(2) { text-align: left; }
table.main tr:nth-child(2) { color: #666; font-style: italic; }
pre { background: #f7f7f7; padding: 8px; font-size: 12.5px; white-space: pre-wrap; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots svg { border: 1px solid #eee; background: #fff; }
.sys { display: flex; gap: 24px; }
.bad { color: #b00; }
</style></head><body>
<h1>iomodels: every I/O model in C and in Go, side by side</h1>
<p class="meta">{{.Generated}} · {{.Machine}} · {{.Settings}}</p>
<table class="main">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<pre>{{range .Targets}}{{.}}
{{end}}
{{range .Notes}}{{.}}
{{end}}</pre>
{{if .Seed}}<h2>The seed's benchmark, reproduced</h2>
<pre>{{range .Seed}}{{.}}
{{end}}</pre>{{end}}
{{range .Models}}
<h2>{{.Name}} — {{.IOModel}}</h2>
<p>parity probes, C against {{.Port}}: {{.ParityEq}}/{{.Total}} equal{{range .ParityDiffs}}<br><span class="bad">{{.}}</span>{{end}}</p>
<div class="plots">{{.Latency}}{{.Sweep}}</div>
<div class="sys">
<div><h3>C: system calls per connection</h3><table><tr><th>call</th><th>per conn</th></tr>
{{range .TopC}}<tr><td>{{.Name}}</td><td>{{f2 .Count}}</td></tr>{{end}}</table></div>
<div><h3>{{.Port}}: system calls per connection</h3><table><tr><th>call</th><th>per conn</th></tr>
{{range .TopGo}}<tr><td>{{.Name}}</td><td>{{f2 .Count}}</td></tr>{{end}}</table></div>
</div>
{{end}}
</body></html>
`))

func implName(impl standalone.Impl) string {
	if impl == standalone.Go {
		return "Go"
	}
	return "C"
}
