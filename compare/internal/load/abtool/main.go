//go:build linux

// Command abtool is an A/B measurement of standalone servers: the one-shot load
// (load.OneShot, measured by load.Measure as the benchmarks do) against several server
// binaries in interleaved rounds, the order rotating each round so that none always goes
// first, and, per model, each binary's conn/s and server CPU per connection over the first
// binary's (the reference, usually C): per round (a few seconds apart, so that the
// machine's other work weighs on both) and the median of those per-round ratios. Built
// binaries stay put while the tree changes, so "Go before" and "Go after" a change can run
// beside C in one go:
//
//	make && cp bin/go/server /tmp/go-before   # then change gosrv/, make again
//	go run ./compare/internal/load/abtool -bin c=bin/c/server -bin before=/tmp/go-before \
//	    -bin after=bin/go/server -models poll,select -rounds 5 -conns 20000
//
// Every binary after the first is held to the Go port's targets (-min-rate, -max-cpu,
// -max-p99: ≥ 0.95× the reference's conn/s, ≤ 1.10× its CPU per connection and ≤ 1.20× its
// 99th-percentile latency, medians of the per-round ratios): each model's line ends in "ok"
// or "MISSED", and a last line counts them.
// -o FILE also writes every measurement in the Go benchmark format, named as
// BenchmarkOneShot's (model=M/impl=NAME/conc=N), one line per round, for benchstat:
//
//	benchstat -col /impl ab.txt
//
// -port N only runs the load against a server started by hand (for perf record/stat on
// it). The load average is printed before and after: the machine is shared.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/gosrv"
)

type bins []string

func (b *bins) String() string     { return strings.Join(*b, ",") }
func (b *bins) Set(s string) error { *b = append(*b, s); return nil }

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// series is one binary's measurements of one model, a value per round.
type series struct{ rate, cpu, client, p99 []float64 }

// ratios is b over ref, round by round.
func ratios(b, ref []float64) []float64 {
	r := make([]float64, len(b))
	for i := range b {
		r[i] = b[i] / ref[i]
	}
	return r
}

func main() {
	var bs bins
	flag.Var(&bs, "bin", "name=path of a server binary (repeat; the first is the reference)")
	var all []string
	for _, m := range gosrv.Models() {
		all = append(all, m.Name)
	}
	models := flag.String("models", strings.Join(all, ","), "models, comma-separated")
	rounds := flag.Int("rounds", 4, "rounds")
	conns := flag.Int("conns", 10000, "connections per measurement")
	conc := flag.Int("conc", 16, "clients")
	minRate := flag.Float64("min-rate", 0.95, "target: the least conn/s over the reference's")
	maxCPU := flag.Float64("max-cpu", 1.10, "target: the most server CPU per connection over the reference's")
	maxP99 := flag.Float64("max-p99", 1.20, "target: the most 99th-percentile latency over the reference's")
	out := flag.String("o", "", "also write every measurement to this file in the Go benchmark format")
	port := flag.Int("port", 0, "only run the load against this port (a server started by hand)")
	flag.Parse()
	if *port != 0 {
		r, err := load.OneShot{Port: *port, Workers: *conc, Conns: *conns, Msg: []byte("hello, iomodels")}.Run()
		fmt.Println(r.PerSec(), r.Errors, err)
		return
	}
	type b struct{ name, path string }
	var list []b
	for _, s := range bs {
		n, p, ok := strings.Cut(s, "=")
		if !ok || n == "" || p == "" {
			fmt.Fprintf(os.Stderr, "abtool: -bin %q: want name=path\n", s)
			os.Exit(2)
		}
		list = append(list, b{n, p})
	}
	if len(list) == 0 {
		fmt.Fprintln(os.Stderr, "abtool: no -bin name=path given")
		os.Exit(2)
	}
	bench := io.Discard
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "abtool:", err)
			os.Exit(2)
		}
		defer f.Close()
		bench = f
		fmt.Fprintf(f, "goos: linux\ngoarch: %s\npkg: github.com/iomodels/iomodels/compare\n", runtime.GOARCH)
		fmt.Fprintf(f, "Unit conn/s Better=higher\n")
	}
	msg := []byte("hello, iomodels")
	fmt.Println("load average:", loadavg())
	missed := 0
	for _, model := range strings.Split(*models, ",") {
		ss := make([]series, len(list))
		for r := 0; r < *rounds; r++ {
			for k := range list {
				i := (k + r) % len(list)
				m, err := load.Measure(load.Server(list[i].name, []string{list[i].path, model, "0"}), func(port int) (load.Result, error) {
					return load.OneShot{Port: port, Workers: *conc, Conns: *conns, Msg: msg}.Run()
				})
				if err != nil || m.Errors > 0 {
					fmt.Fprintln(os.Stderr, model, list[i].name, err, m.Errors, m.FirstErr)
					os.Exit(1)
				}
				s := &ss[i]
				s.rate = append(s.rate, m.PerSec())
				s.cpu = append(s.cpu, float64(m.ServerCPUPerConn())/float64(time.Microsecond))
				s.client = append(s.client, float64(m.ClientCPUPerConn())/float64(time.Microsecond))
				s.p99 = append(s.p99, float64(m.Quantile(0.99))/float64(time.Microsecond))
				fmt.Fprintf(bench, "BenchmarkOneShot/model=%s/impl=%s/conc=%d %d %.0f ns/op %.1f conn/s %.0f p99-µs %.3f server-cpu-µs/op %.3f client-cpu-µs/op\n",
					model, list[i].name, *conc, m.Conns, float64(m.Elapsed.Nanoseconds())/float64(m.Conns),
					m.PerSec(), s.p99[len(s.p99)-1], s.cpu[len(s.cpu)-1], s.client[len(s.client)-1])
			}
		}
		ref := ss[0]
		line := fmt.Sprintf("%-10s %s %6.0f/s %5.1fµs p99 %.0fµs", model, list[0].name, median(ref.rate), median(ref.cpu), median(ref.p99))
		verdict := ""
		for i := 1; i < len(list); i++ {
			rc, rp := ratios(ss[i].rate, ref.rate), ratios(ss[i].cpu, ref.cpu)
			rate, cpu, p99 := median(rc), median(rp), median(ratios(ss[i].p99, ref.p99))
			line += fmt.Sprintf(" | %s conn/s %.2f CPU %.2f p99 %.2f clientCPU %.2f p99 %.0fµs (", list[i].name, rate, cpu, p99, median(ratios(ss[i].client, ref.client)), median(ss[i].p99))
			for r := range rc {
				line += fmt.Sprintf(" %.2f/%.2f", rc[r], rp[r])
			}
			line += " )"
			if rate >= *minRate && cpu <= *maxCPU && p99 <= *maxP99 {
				verdict += " " + list[i].name + " ok"
			} else {
				verdict += " " + list[i].name + " MISSED"
				missed++
			}
		}
		fmt.Println(line + verdict)
	}
	fmt.Println("load average:", loadavg())
	if len(list) > 1 {
		fmt.Printf("targets (conn/s >= %.2f, CPU/conn <= %.2f, p99 <= %.2f, medians of per-round ratios): %d missed\n", *minRate, *maxCPU, *maxP99, missed)
	}
}
