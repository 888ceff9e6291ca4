//go:build linux

package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// TestExampleRow: the example's row repeats its model's C measurement, shows its own
// beside it with the ratio, and its targets line judges nothing.
func TestExampleRow(t *testing.T) {
	side := func(conns int, cpu time.Duration) *Side {
		return &Side{Load: load.Measurement{Result: load.Result{Conns: conns, Elapsed: time.Second, Lat: []int64{1000}}, ServerCPU: cpu * time.Duration(conns)},
			SysErr: load.ErrNoStrace}
	}
	c := side(1000, 50*time.Microsecond)
	thread := &Row{Model: "thread", IOModel: IOModel("thread"), Port: "Go", ParityEqual: 8, ParityTotal: 8,
		Sides: map[standalone.Impl]*Side{standalone.C: c, standalone.Go: side(1200, 40*time.Microsecond)}}
	ex := &Row{Model: "thread (" + ExampleName + ")", IOModel: ExampleIOModel, Port: ExampleName, Example: true,
		ParityEqual: 7, ParityTotal: 8, ParityDiffs: []string{"UTF-8: stdout differs"},
		Sides: map[standalone.Impl]*Side{standalone.C: c, standalone.Go: side(500, 100*time.Microsecond)}}
	r := &Report{Opt: Options{Conc: 16, Duration: time.Second}, Rows: []*Row{thread, ex}}

	cells := r.cells(ex)
	want := map[string]string{"parity": "7/8", "conn/s C": "1000", "conn/s Go": "500", "CPU µs/conn C": "50.0", "CPU µs/conn Go": "100.0"}
	for i, h := range Header {
		if w, ok := want[h]; ok && cells[i] != w {
			t.Errorf("column %q: %q, want %q (row %q)", h, cells[i], w, cells)
		}
	}
	if cells[5] != "0.50" || cells[12] != "2.00" {
		t.Errorf("ratios to C: conn/s %s, CPU %s; want 0.50 and 2.00", cells[5], cells[12])
	}
	targets := strings.Join(r.Targets(), "\n")
	line := targets[strings.Index(targets, "thread (net example)"):]
	if strings.Contains(line, "MISSED") || strings.Contains(line, " ok") || !strings.Contains(line, "no targets") || !strings.Contains(line, "PARITY: UTF-8") {
		t.Errorf("the example's targets line: %q", line)
	}
	if !strings.Contains(targets, "thread     conn/s 1.20x ok  CPU 0.80x ok") {
		t.Errorf("thread's own targets line is judged as before: %s", targets)
	}
	var b bytes.Buffer
	r.WriteTable(&b, false)
	if !strings.Contains(b.String(), "thread (net example)  "+ExampleIOModel) {
		t.Errorf("no example row in the table:\n%s", b.String())
	}
}

// TestTargetsSyscalls: the syscalls target judges the protocol's calls and names the
// housekeeping that differs (the thread model: C's pthread_create, Go's futex).
func TestTargetsSyscalls(t *testing.T) {
	side := func(sys map[string]float64) *Side {
		s := &Side{Load: load.Measurement{Result: load.Result{Conns: 1000, Elapsed: time.Second, Lat: []int64{1000}}, ServerCPU: 50 * time.Millisecond},
			Sys: load.Syscalls{ByName: sys}}
		for _, n := range sys {
			s.Sys.PerConn += n
		}
		return s
	}
	row := func(model string, c, g map[string]float64) *Row {
		return &Row{Model: model, IOModel: IOModel(model), Port: "Go", ParityEqual: 8, ParityTotal: 8,
			Sides: map[standalone.Impl]*Side{standalone.C: side(c), standalone.Go: side(g)}}
	}
	r := &Report{Rows: []*Row{
		row("thread", map[string]float64{"accept4": 1, "clone3": 1, "rt_sigprocmask": 4}, map[string]float64{"accept4": 1, "futex": 3.8}),
		row("poll", map[string]float64{"poll": 2, "accept4": 1}, map[string]float64{"poll": 3, "accept4": 1}),
	}}
	targets := strings.Join(r.Targets(), "\n") + "\n"
	for _, want := range []string{
		"thread     conn/s 1.00x ok  CPU 1.00x ok  syscalls -1.2: protocol +0.0 ok, housekeeping -1.2 (rt_sigprocmask -4.0, futex +3.8, clone3 -1.0)",
		"poll       conn/s 1.00x ok  CPU 1.00x ok  syscalls +1.0: protocol +1.0 MISSED, housekeeping +0.0\n",
	} {
		if !strings.Contains(targets, want) {
			t.Errorf("no line %q in\n%s", want, targets)
		}
	}
}
