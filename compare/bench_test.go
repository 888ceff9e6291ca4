//go:build linux

package compare

// Benchmarks of the standalone servers, named so benchstat can pivot on any key:
//
//	go test -run '^$' -bench . ./compare
//	go test -run '^$' -bench 'OneShot/model=epoll-lt' -count 10 ./compare | benchstat -col /impl -
//
// BenchmarkOneShot: one op is one connection of the one-shot protocol (connect, send,
// half-close, read to end of stream), made by conc clients at once; ns/op is wall time per
// connection across the clients, so conn/s = 1e9 / ns/op. BenchmarkStream: one op is one
// 64 KiB chunk echoed on one of conns open connections (epoll-et's stream protocol).
// Extra metrics: conn/s, p50-µs, p99-µs, server-cpu-µs/op (the server process and its
// reaped children, from its own accounting), client-cpu-µs/op (the load generator's
// threads, to show it is not the bottleneck). Nothing here asserts a speed; the servers
// are built once per test binary and run as processes, like in production, started and
// stopped as the engine's implementations under test (load.Server: an engine.Impl).

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/gosrv"
)

var (
	benchOnce   sync.Once
	benchBins   load.Binaries
	benchModels []string
	benchErr    error
)

// benchBuild builds the binaries once per test binary. Under `go test` they go into the
// go command's work directory beside the test binary, which it removes afterwards; a test
// binary run by hand builds into a fresh temporary directory and says where.
func benchBuild(b *testing.B) (load.Binaries, []string) {
	benchOnce.Do(func() {
		dir := filepath.Join(filepath.Dir(os.Args[0]), "iomodels-bench")
		if !strings.Contains(dir, "go-build") || os.MkdirAll(dir, 0o755) != nil {
			if dir, benchErr = os.MkdirTemp("", "iomodels-bench-"); benchErr != nil {
				return
			}
			b.Logf("binaries built into %s (remove it when done)", dir)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if benchBins, benchErr = load.Build(ctx, dir); benchErr != nil {
			return
		}
		for _, m := range gosrv.Models() {
			benchModels = append(benchModels, m.Name)
		}
	})
	if benchErr != nil {
		b.Fatalf("building the servers: %v", benchErr)
	}
	return benchBins, benchModels
}

func reportLoad(b *testing.B, m load.Measurement) {
	b.ReportMetric(m.PerSec(), "conn/s")
	b.ReportMetric(float64(m.Quantile(0.50).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(m.Quantile(0.99).Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(m.ServerCPUPerConn().Nanoseconds())/1e3, "server-cpu-µs/op")
	b.ReportMetric(float64(m.ClientCPUPerConn().Nanoseconds())/1e3, "client-cpu-µs/op")
}

// benchMeasure starts a server of im, runs the load that cfg makes for its port against
// it, and stops it, timing only the load itself.
func benchMeasure(b *testing.B, name string, im engine.Impl, cfg func(port int) load.Runner) load.Measurement {
	m, err := load.Measure(im, func(port int) (load.Result, error) {
		run := cfg(port)
		b.ResetTimer()
		res, err := run.Run()
		b.StopTimer()
		return res, err
	})
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return m
}

func BenchmarkOneShot(b *testing.B) {
	bins, models := benchBuild(b)
	type row struct {
		model string
		impls []standalone.Impl
	}
	rows := []row{{load.Baseline, []standalone.Impl{standalone.C}}}
	for _, m := range models {
		rows = append(rows, row{m, []standalone.Impl{standalone.C, standalone.Go}})
	}
	msg := []byte("hello, iomodels")
	for _, r := range rows {
		for _, impl := range r.impls {
			for _, conc := range []int{1, 16} {
				name := "model=" + r.model + "/impl=" + string(impl) + "/conc=" + strconv.Itoa(conc)
				b.Run(name, func(b *testing.B) {
					m := benchMeasure(b, name, load.Server(name, bins.Argv(r.model, impl)), func(port int) load.Runner {
						return load.OneShot{Port: port, Workers: conc, Conns: b.N, Msg: msg}
					})
					if m.Errors > 0 {
						b.Fatalf("%s: %d of %d connections failed, first: %v", name, m.Errors, b.N, m.FirstErr)
					}
					reportLoad(b, m)
				})
			}
		}
	}
}

func BenchmarkStream(b *testing.B) {
	bins, models := benchBuild(b)
	const chunk = 64 << 10
	for _, model := range models {
		if gosrv.Traits(model).Protocol != gosrv.Stream {
			continue
		}
		for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
			for _, conns := range []int{1, 64} {
				name := "model=" + model + "/impl=" + string(impl) + "/conns=" + strconv.Itoa(conns)
				b.Run(name, func(b *testing.B) {
					b.SetBytes(chunk)
					m := benchMeasure(b, name, load.Server(name, bins.Argv(model, impl)), func(port int) load.Runner {
						return load.Stream{Port: port, Conns: conns, Chunk: chunk, Chunks: b.N}
					})
					b.ReportMetric(float64(m.Quantile(0.99).Nanoseconds())/1e3, "p99-µs")
					b.ReportMetric(float64(m.ServerCPUPerConn().Nanoseconds())/1e3, "server-cpu-µs/op")
					b.ReportMetric(float64(m.ClientCPUPerConn().Nanoseconds())/1e3, "client-cpu-µs/op")
				})
			}
		}
	}
}
