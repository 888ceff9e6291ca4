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
// -port N only runs the load against a server started by hand (for perf record/stat on
// it). The load average is printed before and after: the machine is shared.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/iomodels/iomodels/compare/internal/load"
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

func main() {
	var bs bins
	flag.Var(&bs, "bin", "name=path of a server binary (repeat; the first is the reference)")
	models := flag.String("models", "iterative,epoll-lt,epoll-et,nonblock,select,poll,sigio,uring", "models")
	rounds := flag.Int("rounds", 4, "rounds")
	conns := flag.Int("conns", 10000, "connections per measurement")
	conc := flag.Int("conc", 16, "clients")
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
		n, p, _ := strings.Cut(s, "=")
		list = append(list, b{n, p})
	}
	if len(list) == 0 {
		fmt.Fprintln(os.Stderr, "abtool: no -bin name=path given")
		os.Exit(2)
	}
	msg := []byte("hello, iomodels")
	fmt.Println("load average:", loadavg())
	defer func() { fmt.Println("load average:", loadavg()) }()
	for _, model := range strings.Split(*models, ",") {
		cps := make([][]float64, len(list))
		cpu := make([][]float64, len(list))
		cli := make([][]float64, len(list))
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
				cps[i] = append(cps[i], m.PerSec())
				cpu[i] = append(cpu[i], float64(m.ServerCPUPerConn())/float64(time.Microsecond))
				cli[i] = append(cli[i], float64(m.ClientCPUPerConn())/float64(time.Microsecond))
			}
		}
		line := fmt.Sprintf("%-10s %s %6.0f/s %5.1fµs", model, list[0].name, median(cps[0]), median(cpu[0]))
		for i := 1; i < len(list); i++ {
			var rc, rp, rl []float64
			for r := range cps[i] {
				rc = append(rc, cps[i][r]/cps[0][r])
				rp = append(rp, cpu[i][r]/cpu[0][r])
				rl = append(rl, cli[i][r]/cli[0][r])
			}
			line += fmt.Sprintf(" | %s conn/s %.2f CPU %.2f clientCPU %.2f (", list[i].name, median(rc), median(rp), median(rl))
			for r := range rc {
				line += fmt.Sprintf(" %.2f/%.2f", rc[r], rp[r])
			}
			line += " )"
		}
		fmt.Println(line)
	}
}
