//go:build linux

// Command benchreport (`make report`) measures every I/O model in C and in Go and prints
// one table: parity probes, connections per second, latency, server CPU and system calls
// per connection, and the Go/C ratios; the thread model has a second row for the
// idiomatic net-package example (compare/examples/netthread) beside C. -html writes the same as one self-contained page
// with plots; -seed reproduces the seed tutorial's own benchmark (client processes in a
// loop); -full runs longer loads, a concurrency sweep and the seed benchmark.
//
// The servers are the standalone programs, built into a temporary directory, so their CPU
// can be read from their own process accounting. The models are whatever the C server
// lists in its usage message.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/iomodels/iomodels/compare/internal/report"
	"github.com/iomodels/iomodels/gosrv"
)

func main() {
	os.Exit(run())
}

func run() int {
	full := flag.Bool("full", false, "longer loads, a concurrency sweep, top system calls and the seed benchmark")
	seed := flag.Bool("seed", false, "reproduce the seed's benchmark: client processes in a loop against epoll-lt and epoll-et")
	seedRuns := flag.Int("seed-runs", 1000, "client processes per line of the seed benchmark")
	htmlOut := flag.String("html", "", "also write a self-contained HTML page with plots to this `file`")
	conc := flag.Int("conc", 16, "concurrent clients of the main load")
	dur := flag.Duration("duration", 0, "load per model and language (default 2s, 6s with -full)")
	straceConns := flag.Int("strace-conns", 200, "connections counted under strace")
	flag.Parse()

	opt := report.Options{
		Conc:          *conc,
		Duration:      2 * time.Second,
		Rounds:        2,
		SweepDuration: 800 * time.Millisecond,
		StraceConns:   *straceConns,
		Msg:           []byte("www.zfl9.com"),
	}
	if *full {
		opt.Duration, opt.SweepDuration, opt.Rounds = 6*time.Second, 2*time.Second, 4
	}
	if *dur > 0 {
		opt.Duration = *dur
	}
	if *full || *htmlOut != "" {
		opt.Sweep = []int{1, 4, 16, 64}
	}
	if *full || *seed {
		opt.SeedRuns = *seedRuns
	}

	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	opt.TmpDir = tmp

	fmt.Fprintln(os.Stderr, "building the servers ...")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bins, err := report.Build(ctx, tmp)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		return 1
	}
	var models []string // the table of models (native's TestTableMatchesGo holds C's equal to it)
	for _, m := range gosrv.Models() {
		models = append(models, m.Name)
	}

	bar := progressbar.NewOptions(opt.Steps(len(models), bins.NetThread != ""),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	opt.Step = func(what string) { bar.Describe(fmt.Sprintf("%-36s", what)) }
	opt.Done = func() { bar.Add(1) }
	r := report.Collect(bins, models, opt)
	bar.Finish()
	fmt.Fprintf(os.Stderr, "measured %d models in %.0f s\n", len(models), r.Took.Seconds())

	r.WriteTable(os.Stdout, *full)
	if *htmlOut != "" {
		f, err := os.Create(*htmlOut)
		if err == nil {
			err = r.WriteHTML(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport: html:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "wrote", *htmlOut)
	}
	return 0
}
