//go:build linux

package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/gosrv"
)

// Impls are the two sides, C first.
var Impls = []standalone.Impl{standalone.C, standalone.Go}

// Side is what was measured of one model in one language.
type Side struct {
	Load    load.Measurement
	LoadErr error
	Sys     load.Syscalls
	SysErr  error
	Sweep   map[int]load.Measurement // by concurrency
}

// Row is one model.
type Row struct {
	Model, IOModel string
	ParityEqual    int
	ParityTotal    int
	ParityDiffs    []string
	Sides          map[standalone.Impl]*Side
}

// SeedRun is one line of the seed's benchmark: 1000 client processes against a server.
type SeedRun struct {
	Model string
	Impl  standalone.Impl
	Total time.Duration // for Runs processes
	Err   error
}

// Seed is the seed's benchmark reproduced.
type Seed struct {
	Runs    int
	Startup time.Duration // Runs clients against a closed port: exec, dynamic linking, a refused connect
	True    time.Duration // Runs of /bin/true
	Servers []SeedRun
}

// Options say how much to measure.
type Options struct {
	Conc          int           // concurrency of the main load
	Duration      time.Duration // of the main load, per model and language
	Rounds        int           // the main load is split in this many runs, C and Go alternating
	Sweep         []int         // concurrencies for the conn/s-by-concurrency plot; nil: none
	SweepDuration time.Duration
	StraceConns   int // connections counted under strace
	SeedRuns      int // client processes per seed line; 0: no seed benchmark
	Msg           []byte
	TmpDir        string
	// Step is told what is measured next; Done that it finished. Both may be nil.
	Step func(what string)
	Done func()
}

// Report is everything measured.
type Report struct {
	Opt      Options
	Baseline *Side
	Rows     []*Row
	Seed     *Seed
	Started  time.Time
	Took     time.Duration
}

// Steps is the number of Step calls Collect makes for n models.
func (o Options) Steps(n int) int {
	per := 1 + 2*o.rounds() + 2 + 2*len(o.Sweep) // parity, load C/Go, strace C/Go, sweep
	steps := 1 + len(o.Sweep) + n*per
	if o.SeedRuns > 0 {
		steps += seedRounds * (2 + 4)
	}
	return steps
}

func (o Options) rounds() int { return max(o.Rounds, 1) }

func (o Options) step(what string) {
	if o.Step != nil {
		o.Step(what)
	}
}

func (o Options) done() {
	if o.Done != nil {
		o.Done()
	}
}

func (o Options) oneShot(argv []string, conc int, d time.Duration) (load.Measurement, error) {
	m, err := load.Measure(argv, func(port int) (load.Result, error) {
		return load.OneShot{Port: port, Workers: conc, Conns: 200_000, Duration: d, Msg: o.Msg}.Run()
	})
	if err == nil && m.Errors > 0 {
		err = fmt.Errorf("%d connections failed, first: %v", m.Errors, m.FirstErr)
	}
	return m, err
}

// IOModel is the seed's I/O model of a model, from the Go port's table.
func IOModel(model string) string {
	if model == load.Baseline {
		return "accept, recv, close (C, no echo, no log)"
	}
	if m, ok := gosrv.FindModel(model); ok {
		return m.IOModel
	}
	return "?"
}

// Collect measures the baseline and every model in both languages.
func Collect(bins load.Binaries, models []string, o Options) *Report {
	r := &Report{Opt: o, Started: time.Now()}
	o.step("baseline: load")
	base := &Side{Sweep: map[int]load.Measurement{}}
	base.Load, base.LoadErr = o.oneShot(bins.Argv(load.Baseline, standalone.C), o.Conc, o.Duration)
	o.done()
	for _, conc := range o.Sweep {
		o.step(fmt.Sprintf("baseline: %d clients", conc))
		if m, err := o.oneShot(bins.Argv(load.Baseline, standalone.C), conc, o.SweepDuration); err == nil {
			base.Sweep[conc] = m
		}
		o.done()
	}
	r.Baseline = base

	for _, model := range models {
		row := &Row{Model: model, IOModel: IOModel(model), Sides: map[standalone.Impl]*Side{}}
		r.Rows = append(r.Rows, row)
		o.step(model + ": parity probes")
		row.ParityEqual, row.ParityTotal, row.ParityDiffs = Parity(bins.Binaries, model)
		o.done()
		for _, impl := range Impls {
			row.Sides[impl] = &Side{Sweep: map[int]load.Measurement{}}
		}
		// The main load in rounds, C and Go taking turns (C Go, Go C, ...), so that other
		// work on the machine during the run weighs on both languages alike.
		for round := 0; round < o.rounds(); round++ {
			order := Impls
			if round%2 == 1 {
				order = []standalone.Impl{standalone.Go, standalone.C}
			}
			for _, impl := range order {
				s := row.Sides[impl]
				if s.LoadErr != nil {
					continue
				}
				o.step(fmt.Sprintf("%s/%s: load %d/%d, %d clients", model, impl, round+1, o.rounds(), o.Conc))
				m, err := o.oneShot(bins.Argv(model, impl), o.Conc, o.Duration/time.Duration(o.rounds()))
				s.Load, s.LoadErr = load.Merge(s.Load, m), err
				o.done()
			}
		}
		for _, impl := range Impls {
			s := row.Sides[impl]
			argv := bins.Argv(model, impl)
			o.step(fmt.Sprintf("%s/%s: strace", model, impl))
			s.Sys, s.SysErr = load.CountSyscalls(o.TmpDir, argv, o.StraceConns, o.Msg)
			o.done()
			for _, conc := range o.Sweep {
				o.step(fmt.Sprintf("%s/%s: %d clients", model, impl, conc))
				if m, err := o.oneShot(argv, conc, o.SweepDuration); err == nil {
					s.Sweep[conc] = m
				}
				o.done()
			}
		}
	}
	if o.SeedRuns > 0 {
		r.Seed = collectSeed(bins, models, o)
	}
	r.Took = time.Since(r.Started)
	return r
}

// seedRounds splits the seed benchmark's loops in turns: every line runs a quarter of its
// processes, then the next line, and so on four times, so that other work on the machine
// during the minute or so this takes weighs on every line alike.
const seedRounds = 4

func collectSeed(bins load.Binaries, models []string, o Options) *Seed {
	s := &Seed{Runs: o.SeedRuns}
	client := bins.Client(standalone.C)
	port, release, err := standalone.ClosedPort()
	if err != nil {
		port = 1 // nothing listens on port 1 of the loopback on a sane machine
		release = func() {}
	}
	defer release()
	type line struct {
		what  string
		argv  []string
		total *time.Duration
		err   *error
		srv   *standalone.Process
	}
	lines := []*line{
		{what: "/bin/true", argv: []string{"/bin/true"}, total: &s.True},
		{what: "client, closed port", argv: []string{client, "www.zfl9.com", strconv.Itoa(port)}, total: &s.Startup},
	}
	s.Servers = make([]SeedRun, 0, 4)
	for _, model := range []string{"epoll-lt", "epoll-et"} {
		for _, impl := range Impls {
			s.Servers = append(s.Servers, SeedRun{Model: model, Impl: impl})
		}
	}
	for i := range s.Servers {
		run := &s.Servers[i]
		l := &line{what: run.Model + "/" + string(run.Impl), total: &run.Total, err: &run.Err}
		srv, err := standalone.Start(bins.Argv(run.Model, run.Impl), standalone.Options{Quiet: true}, 10*time.Second)
		if err != nil {
			run.Err = err
		} else {
			l.srv = srv
			l.argv = []string{client, "www.zfl9.com", strconv.Itoa(srv.Port)}
			defer srv.Signal(syscall.SIGTERM, 10*time.Second)
		}
		lines = append(lines, l)
	}
	for round := 0; round < seedRounds; round++ {
		n := o.SeedRuns / seedRounds
		if round == seedRounds-1 {
			n = o.SeedRuns - n*(seedRounds-1)
		}
		for _, l := range lines {
			if l.argv == nil || (l.err != nil && *l.err != nil) {
				continue
			}
			o.step(fmt.Sprintf("seed %d/%d: %d processes, %s", round+1, seedRounds, n, l.what))
			d, err := load.ProcessLoop(n, l.srv == nil, l.argv...)
			*l.total += d
			if err != nil && l.err != nil {
				*l.err = err
			}
			o.done()
		}
	}
	return s
}

// ---- the text table ----

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
		fmt.Fprintln(w, "\ntop system calls per connection (C | Go):")
		for _, row := range r.Rows {
			c, g := row.Sides[standalone.C], row.Sides[standalone.Go]
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
			sweepLine := func(model string, impl standalone.Impl, s *Side) {
				line := model + "\t" + string(impl) + "\t"
				for _, conc := range o.Sweep {
					if m, ok := s.Sweep[conc]; ok {
						line += fmt.Sprintf("%.0f\t", m.PerSec())
					} else {
						line += "-\t"
					}
				}
				fmt.Fprintln(tw, line)
			}
			sweepLine(load.Baseline, standalone.C, r.Baseline)
			for _, row := range r.Rows {
				for _, impl := range Impls {
					sweepLine(row.Model, impl, row.Sides[impl])
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

// Targets says, per model, whether the Go port meets the project's targets (reported,
// never asserted): ≥ 0.95× C's conn/s, ≤ 1.10× C's CPU per connection, the same system
// calls per connection (within 0.5).
func (r *Report) Targets() []string {
	lines := []string{"targets for the Go port (>= 0.95x C conn/s, <= 1.10x C CPU/conn, same syscalls/conn):"}
	for _, row := range r.Rows {
		c, g := row.Sides[standalone.C], row.Sides[standalone.Go]
		var parts []string
		if c.LoadErr == nil && g.LoadErr == nil && c.Load.Conns > 0 && g.Load.Conns > 0 {
			rate := g.Load.PerSec() / c.Load.PerSec()
			cpu := float64(g.Load.ServerCPUPerConn()) / float64(c.Load.ServerCPUPerConn())
			parts = append(parts, fmt.Sprintf("conn/s %.2fx %s", rate, mark(rate >= 0.95)),
				fmt.Sprintf("CPU %.2fx %s", cpu, mark(cpu <= 1.10)))
		} else {
			parts = append(parts, fmt.Sprintf("load failed: C %v, Go %v", c.LoadErr, g.LoadErr))
		}
		if c.SysErr == nil && g.SysErr == nil {
			d := g.Sys.PerConn - c.Sys.PerConn
			rt := 0.0
			for _, name := range runtimeCalls {
				rt += g.Sys.ByName[name] - c.Sys.ByName[name]
			}
			parts = append(parts, fmt.Sprintf("syscalls %+.1f %s (Go runtime's futex/nanosleep/signal/memory calls %+.1f)", d, mark(math.Abs(d) < 0.5), rt))
		}
		if row.ParityEqual != row.ParityTotal {
			parts = append(parts, "PARITY: "+strings.Join(row.ParityDiffs, "; "))
		}
		lines = append(lines, fmt.Sprintf("  %-10s %s", row.Model, strings.Join(parts, "  ")))
	}
	return lines
}

// runtimeCalls are the system calls the Go runtime makes for itself: sysmon's polling
// (nanosleep), waking and parking threads (futex), signal set-up and memory management,
// mostly at a process start (the fork model's exec'd children). nanosleep and futex
// follow time, not connections, and strace's slowdown inflates their count per connection.
var runtimeCalls = []string{"futex", "nanosleep", "sched_yield", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "sigaltstack", "mmap", "munmap", "madvise", "clone", "clone3", "gettid", "tgkill", "getpid"}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// Notes explain the columns and carry the errors.
func (r *Report) Notes() []string {
	notes := []string{
		"parity: built-in probes (plain, empty, 512, 513, NUL, UTF-8, binary, 20 concurrent) equal between C and Go;",
		"        the full differential suite is `go test ./compare`.",
		"CPU µs/conn: the server process and its reaped children (fork), from its own accounting, per connection.",
	}
	if b := r.Baseline; b != nil && b.LoadErr == nil {
		notes = append(notes, fmt.Sprintf("load generator: %.1f µs CPU per connection against the baseline (loopback charges much of the kernel's TCP work to the sending side).",
			us(b.Load.ClientCPUPerConn())))
	}
	var errs []string
	add := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", what, err))
		}
	}
	if r.Baseline != nil {
		add("baseline load", r.Baseline.LoadErr)
	}
	straceMissing := false
	for _, row := range r.Rows {
		for _, impl := range Impls {
			s := row.Sides[impl]
			add(row.Model+"/"+string(impl)+" load", s.LoadErr)
			if s.SysErr == load.ErrNoStrace {
				straceMissing = true
				continue
			}
			add(row.Model+"/"+string(impl)+" strace", s.SysErr)
		}
	}
	if straceMissing {
		errs = append(errs, load.ErrNoStrace.Error())
	}
	return append(notes, errs...)
}

// SeedLines are the seed benchmark's result in words.
func (r *Report) SeedLines() []string {
	s := r.Seed
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(s.Runs) }
	lines := []string{
		fmt.Sprintf("seed benchmark: %d client processes in a loop (C client, in %d interleaved rounds), seconds per 1000", s.Runs, seedRounds),
		"(the seed measured LT 1.105 s, ET 1.25 s, and concluded that ET is slower):",
		fmt.Sprintf("  /bin/true                     %.2f s", per(s.True)),
		fmt.Sprintf("  client against a closed port  %.2f s   (process start-up, a refused connect, exit)", per(s.Startup)),
	}
	totals := map[string]time.Duration{}
	var sum float64
	for _, run := range s.Servers {
		if run.Err != nil {
			lines = append(lines, fmt.Sprintf("  %-8s %-2s server  error: %v", run.Model, run.Impl, run.Err))
			continue
		}
		totals[run.Model+"/"+string(run.Impl)] = run.Total
		sum += per(run.Total)
		lines = append(lines, fmt.Sprintf("  %-8s %-2s server  %.2f s", run.Model, run.Impl, per(run.Total)))
	}
	for _, impl := range Impls {
		lt, et := totals["epoll-lt/"+string(impl)], totals["epoll-et/"+string(impl)]
		if lt > 0 && et > 0 {
			lines = append(lines, fmt.Sprintf("  ET/LT with the %s server: %.2f", implName(impl), per(et)/per(lt)))
		}
	}
	if len(totals) > 0 {
		mean := sum / float64(len(totals))
		lines = append(lines, fmt.Sprintf("  a client that only starts and is refused costs %.0f%% of a served one: the loop measures process", 100*per(s.Startup)/mean),
			fmt.Sprintf("  creation (%.1f ms each), not the server, whose CPU per connection is in the table (tens of µs).", mean))
	}
	return lines
}
