//go:build linux

// table.go - the text table: one row per model, C beside Go.

package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
)

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func ratio(goV, cV float64) string {
	if cV <= 0 || goV <= 0 || math.IsNaN(goV) || math.IsNaN(cV) {
		return "-"
	}
	return fmt.Sprintf("%.2f", goV/cV)
}

func num(v float64, format string, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// Cells are the table's columns for a row (or the baseline when row is nil).
func (r *Report) cells(row *Row) []string {
	var c, g *Side
	name, iomodel, parity := load.Baseline, IOModel(load.Baseline), "-"
	if row == nil {
		c = r.Baseline
	} else {
		c, g = row.Sides[standalone.C], row.Sides[standalone.Go]
		name, iomodel = row.Model, row.IOModel
		parity = fmt.Sprintf("%d/%d", row.ParityEqual, row.ParityTotal)
	}
	loadOK := func(s *Side) bool { return s != nil && s.LoadErr == nil && s.Load.Conns > 0 }
	sysOK := func(s *Side) bool { return s != nil && s.SysErr == nil && s.Sys.ByName != nil }
	val := func(s *Side, f func(*Side) float64, ok func(*Side) bool, format string) string {
		return num(func() float64 {
			if ok(s) {
				return f(s)
			}
			return 0
		}(), format, ok(s))
	}
	rate := func(s *Side) float64 { return s.Load.PerSec() }
	p50 := func(s *Side) float64 { return us(s.Load.Quantile(0.50)) }
	p99 := func(s *Side) float64 { return us(s.Load.Quantile(0.99)) }
	cpu := func(s *Side) float64 { return us(s.Load.ServerCPUPerConn()) }
	sys := func(s *Side) float64 { return s.Sys.PerConn }
	rat := func(f func(*Side) float64, ok func(*Side) bool) string {
		if !ok(c) || !ok(g) {
			return "-"
		}
		return ratio(f(g), f(c))
	}
	return []string{
		name, iomodel, parity,
		val(c, rate, loadOK, "%.0f"), val(g, rate, loadOK, "%.0f"), rat(rate, loadOK),
		val(c, p50, loadOK, "%.0f"), val(g, p50, loadOK, "%.0f"),
		val(c, p99, loadOK, "%.0f"), val(g, p99, loadOK, "%.0f"),
		val(c, cpu, loadOK, "%.1f"), val(g, cpu, loadOK, "%.1f"), rat(cpu, loadOK),
		val(c, sys, sysOK, "%.1f"), val(g, sys, sysOK, "%.1f"), rat(sys, sysOK),
	}
}

// Header is the table's column names.
var Header = []string{
	"model", "I/O model", "parity",
	"conn/s C", "conn/s Go", "Go/C",
	"p50 µs C", "p50 µs Go", "p99 µs C", "p99 µs Go",
	"CPU µs/conn C", "CPU µs/conn Go", "Go/C",
	"syscalls/conn C", "syscalls/conn Go", "Go/C",
}

// WriteTable writes the text report: the table, the targets, the notes.
func (r *Report) WriteTable(w io.Writer, full bool) {
	o := r.Opt
	fmt.Fprintf(w, "iomodels side by side: %d clients for %v per model and language, payload %d bytes; syscalls: strace -f -c, %d sequential connections less an idle run\n\n",
		o.Conc, o.Duration, len(o.Msg), o.StraceConns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(Header, "\t"))
	fmt.Fprintln(tw, strings.Join(r.cells(nil), "\t"))
	for _, row := range r.Rows {
		fmt.Fprintln(tw, strings.Join(r.cells(row), "\t"))
	}
	tw.Flush()

	fmt.Fprintln(w)
	for _, line := range r.Targets() {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	for _, line := range r.Notes() {
		fmt.Fprintln(w, line)
	}
	if full {
		fmt.Fprintln(w, "\ntop system calls per connection (C | Go; the example: its own line):")
		for _, row := range r.Rows {
			c, g := row.Sides[standalone.C], row.Sides[standalone.Go]
			if row.Example { // its C side is on its model's row
				fmt.Fprintf(w, "  %s, %s: %s\n", row.Model, row.Port, topLine(g))
				continue
			}
			fmt.Fprintf(w, "  %-10s C:  %s\n", row.Model, topLine(c))
			fmt.Fprintf(w, "  %-10s Go: %s\n", "", topLine(g))
		}
		if len(o.Sweep) > 0 {
			fmt.Fprintln(w, "\nconnections/s by concurrency:")
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			head := "model\timpl\t"
			for _, conc := range o.Sweep {
				head += fmt.Sprintf("%d\t", conc)
			}
			fmt.Fprintln(tw, head)
			sweepLine := func(model string, impl string, s *Side) {
				line := model + "\t" + impl + "\t"
				for _, conc := range o.Sweep {
					if m, ok := s.Sweep[conc]; ok {
						line += fmt.Sprintf("%.0f\t", m.PerSec())
					} else {
						line += "-\t"
					}
				}
				fmt.Fprintln(tw, line)
			}
			sweepLine(load.Baseline, string(standalone.C), r.Baseline)
			for _, row := range r.Rows {
				if row.Example {
					sweepLine(row.Model, row.Port, row.Sides[standalone.Go])
					continue
				}
				for _, impl := range Impls {
					sweepLine(row.Model, string(impl), row.Sides[impl])
				}
			}
			tw.Flush()
		}
	}
	if r.Seed != nil {
		fmt.Fprintln(w)
		for _, line := range r.SeedLines() {
			fmt.Fprintln(w, line)
		}
	}
}

func topLine(s *Side) string {
	if s == nil || s.SysErr != nil || s.Sys.ByName == nil {
		return "-"
	}
	var parts []string
	for _, nc := range s.Sys.Top(8) {
		parts = append(parts, fmt.Sprintf("%s %.2f", nc.Name, nc.Count))
	}
	return strings.Join(parts, ", ")
}
