//go:build linux

// prose.go - what the table says in words: the targets, the notes, the seed's benchmark.

package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// Targets says, per model, whether the Go port meets the project's targets (reported,
// never asserted): ≥ 0.95× C's conn/s, ≤ 1.10× C's CPU per connection, the same system
// protocol calls per connection (within 0.5; load.HousekeepingNames, the runtime's and libc's
// thread calls, are counted apart and named).
func (r *Report) Targets() []string {
	lines := []string{"targets for the Go port (>= 0.95x C conn/s, <= 1.10x C CPU/conn, the same protocol syscalls/conn):"}
	for _, row := range r.Rows {
		c, g := row.Sides[standalone.C], row.Sides[standalone.Go]
		judge := func(ok bool) string { return " " + mark(ok) }
		var parts []string
		if row.Example { // compared, not judged
			judge = func(bool) string { return "" }
		}
		if c.LoadErr == nil && g.LoadErr == nil && c.Load.Conns > 0 && g.Load.Conns > 0 {
			rate := g.Load.PerSec() / c.Load.PerSec()
			cpu := float64(g.Load.ServerCPUPerConn()) / float64(c.Load.ServerCPUPerConn())
			parts = append(parts, fmt.Sprintf("conn/s %.2fx%s", rate, judge(rate >= 0.95)),
				fmt.Sprintf("CPU %.2fx%s", cpu, judge(cpu <= 1.10)))
		} else {
			parts = append(parts, fmt.Sprintf("load failed: C %v, %s %v", c.LoadErr, row.Port, g.LoadErr))
		}
		if c.SysErr == nil && g.SysErr == nil {
			proto, house, by := g.Sys.Split(c.Sys)
			var named []string
			for _, nc := range by[:min(len(by), 4)] {
				named = append(named, fmt.Sprintf("%s %+.1f", nc.Name, nc.Count))
			}
			s := fmt.Sprintf("syscalls %+.1f: protocol %+.1f%s, housekeeping %+.1f",
				g.Sys.PerConn-c.Sys.PerConn, proto, judge(math.Abs(proto) < 0.5), house)
			if len(named) > 0 {
				s += " (" + strings.Join(named, ", ") + ")"
			}
			parts = append(parts, s)
		}
		if row.Example {
			parts = append(parts, "(the idiomatic example: no targets)")
		}
		if row.ParityEqual != row.ParityTotal {
			parts = append(parts, "PARITY: "+strings.Join(row.ParityDiffs, "; "))
		}
		lines = append(lines, fmt.Sprintf("  %-10s %s", row.Model, strings.Join(parts, "  ")))
	}
	rounds := max(r.Opt.Rounds, 1)
	return append(lines, fmt.Sprintf("  (one report is %d rounds of %v per model and language: a ratio moves by about ±0.1 from run to run;",
		rounds, r.Opt.Duration/time.Duration(rounds)),
		"   the targets are judged by abtool over 15 rounds, compare/cmd/benchreport/README.md)")
}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// Notes explain the columns and carry the errors.
func (r *Report) Notes() []string {
	notes := []string{
		"parity: probes (plain, empty, 512, 513, NUL, UTF-8, binary, 10 concurrent) equal between C and the port, compared by the",
		"        differential engine (compare/parity; C run twice, so that its own noise is not blamed on the port); the full suite is `go test ./compare`.",
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
			if row.Example && impl == standalone.C {
				continue // its model's row, already listed
			}
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
