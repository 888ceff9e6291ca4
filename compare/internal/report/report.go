//go:build linux

// Package report measures every model in both languages and writes the benchmark
// table (text) and page (HTML with inline SVG plots) of compare/cmd/benchreport. By job:
// report.go (the data a report holds), collect.go (measuring: load, system calls, the
// seed's benchmark), parity.go (the parity column: probes run by compare/parity),
// example.go (the idiomatic example's row), table.go (the text table), prose.go
// (targets, notes and the seed's benchmark in words), html.go (the page).
package report

import (
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
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

// Row is one model: its C server and a port of it, the Sides C and Go. The raw-syscall
// port (gosrv) has a row for every model; the idiomatic example (compare/examples) has a
// row of its own below its model's, whose C side is that model's (the same measurement)
// and whose Go side is the example.
type Row struct {
	Model, IOModel string
	// Port names the row's Go side: "Go" (gosrv), or the example's name.
	Port string
	// Example: the Go side is the idiomatic example, shown for comparison and not held
	// to the Go port's targets.
	Example     bool
	ParityEqual int
	ParityTotal int
	ParityDiffs []string
	Sides       map[standalone.Impl]*Side
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
