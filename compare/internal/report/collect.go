//go:build linux

// collect.go - measuring: the baseline and every model in both languages, and the seed's
// benchmark.

package report

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/gosrv"
)

// Steps is the number of Step calls Collect makes for n models, with the example's row
// or without it.
func (o Options) Steps(n int, example bool) int {
	perSide := o.rounds() + 1 + len(o.Sweep)    // load, strace, sweep
	steps := 1 + len(o.Sweep) + n*(1+2*perSide) // baseline; parity, C and Go
	if example {
		steps += 1 + perSide
	}
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
	m, err := load.Measure(load.Server(argv[0], argv), func(port int) (load.Result, error) {
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

// measured is one side of a row: what the progress line calls it, where its measurements
// go, and its server's command line.
type measured struct {
	what string
	side *Side
	argv []string
}

// Collect measures the baseline and every model in both languages, and the idiomatic
// example beside its model.
func Collect(bins Binaries, models []string, o Options) *Report {
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
		row := &Row{Model: model, IOModel: IOModel(model), Port: implName(standalone.Go), Sides: map[standalone.Impl]*Side{}}
		r.Rows = append(r.Rows, row)
		o.step(model + ": parity probes")
		row.ParityEqual, row.ParityTotal, row.ParityDiffs = Parity(Probed(bins.Binaries, model, standalone.C), Probed(bins.Binaries, model, standalone.Go))
		o.done()
		var sides []measured
		for _, impl := range Impls {
			row.Sides[impl] = &Side{Sweep: map[int]load.Measurement{}}
			sides = append(sides, measured{model + "/" + string(impl), row.Sides[impl], bins.Argv(model, impl)})
		}
		if model == ExampleModel && bins.NetThread != "" {
			ex := &Row{Model: model + " (" + ExampleName + ")", IOModel: ExampleIOModel, Port: ExampleName, Example: true,
				Sides: map[standalone.Impl]*Side{standalone.C: row.Sides[standalone.C], standalone.Go: {Sweep: map[int]load.Measurement{}}}}
			r.Rows = append(r.Rows, ex)
			o.step(ex.Model + ": parity probes")
			ex.ParityEqual, ex.ParityTotal, ex.ParityDiffs = Parity(Probed(bins.Binaries, model, standalone.C), parity.Command(bins.ExampleArgv()...))
			o.done()
			sides = append(sides, measured{model + "/" + ExampleName, ex.Sides[standalone.Go], bins.ExampleArgv()})
		}
		// The main load in rounds, the sides taking turns (C Go example, example Go C, ...), so that other
		// work on the machine during the run weighs on every side alike.
		for round := 0; round < o.rounds(); round++ {
			order := slices.Clone(sides)
			if round%2 == 1 {
				slices.Reverse(order)
			}
			for _, m := range order {
				s := m.side
				if s.LoadErr != nil {
					continue
				}
				o.step(fmt.Sprintf("%s: load %d/%d, %d clients", m.what, round+1, o.rounds(), o.Conc))
				l, err := o.oneShot(m.argv, o.Conc, o.Duration/time.Duration(o.rounds()))
				s.Load, s.LoadErr = load.Merge(s.Load, l), err
				o.done()
			}
		}
		for _, m := range sides {
			s := m.side
			o.step(fmt.Sprintf("%s: strace", m.what))
			s.Sys, s.SysErr = load.CountSyscalls(o.TmpDir, m.argv, o.StraceConns, o.Msg)
			o.done()
			for _, conc := range o.Sweep {
				o.step(fmt.Sprintf("%s: %d clients", m.what, conc))
				if l, err := o.oneShot(m.argv, conc, o.SweepDuration); err == nil {
					s.Sweep[conc] = l
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

func collectSeed(bins Binaries, models []string, o Options) *Seed {
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
		srv   engine.Target
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
		srv, err := load.Server(l.what, bins.Argv(run.Model, run.Impl)).Start(run.Model)
		if err != nil {
			run.Err = err
		} else {
			l.srv = srv
			l.argv = []string{client, "www.zfl9.com", strconv.Itoa(srv.Port())}
			defer srv.Stop()
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
