//go:build linux

package load

import (
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/procfs"
)

// Baseline is the model name of the baseline server in tables and benchmark names.
const Baseline = "baseline"

// Argv is the command line that serves model in impl on a free port.
func (b Binaries) Argv(model string, impl standalone.Impl) []string {
	if model == Baseline {
		return []string{b.Baseline, "0"}
	}
	return []string{b.Server(impl), model, "0"}
}

// Measurement is a load run with the server's CPU for it.
type Measurement struct {
	Result
	// ServerCPU is the server's CPU from the moment the load started to its exit, its
	// reaped children included (the fork model's connection processes).
	ServerCPU time.Duration
}

// ServerCPUPerConn is the server's CPU per completed connection (or chunk).
func (m Measurement) ServerCPUPerConn() time.Duration {
	if m.Conns == 0 {
		return 0
	}
	return m.ServerCPU / time.Duration(m.Conns)
}

// Measure starts a server of im (Server), runs load against its port, stops it, and
// charges it the CPU it used from just before the load to its exit.
//
// The reading before the load is /proc/PID/stat and the process CPU clock (procfs.ProcessCPU),
// which leaves out start-up. The reading at the end is the rusage that wait4 returns for
// the exited server: exact to the microsecond and, unlike a /proc reading taken while it
// runs, it includes every child the server reaped, even the last ones (a fork child may
// still be exiting when the load ends). The stop itself (a signal, closing descriptors)
// is in it too, a few tens of microseconds.
func Measure(im engine.Impl, load func(port int) (Result, error)) (Measurement, error) {
	srv, err := start(im)
	if err != nil {
		return Measurement{}, err
	}
	before, err := procfs.ProcessCPU(srv.ServerPid())
	if err != nil {
		srv.Stop()
		return Measurement{}, err
	}
	r, err := load(srv.Port())
	if err != nil {
		srv.Stop()
		return Measurement{Result: r}, err
	}
	if _, err := srv.Stop(); err != nil {
		return Measurement{Result: r}, err
	}
	ru, ok := srv.Proc.State().SysUsage().(*syscall.Rusage)
	if !ok {
		return Measurement{Result: r}, fmt.Errorf("no rusage for %s", im.Name)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return Measurement{Result: r, ServerCPU: total - before.Total()}, nil
}

// Merge adds up two measurements of the same server made one after the other (the report
// interleaves C and Go runs so that a change in the machine's other load hits both).
func Merge(a, b Measurement) Measurement {
	if a.Conns == 0 && a.Errors == 0 {
		return b
	}
	m := a
	m.Conns += b.Conns
	m.Errors += b.Errors
	if m.FirstErr == nil {
		m.FirstErr = b.FirstErr
	}
	m.Elapsed += b.Elapsed
	m.ClientCPU += b.ClientCPU
	m.ServerCPU += b.ServerCPU
	m.Bytes += b.Bytes
	m.Lat = append(append(make([]int64, 0, len(a.Lat)+len(b.Lat)), a.Lat...), b.Lat...)
	slices.Sort(m.Lat)
	return m
}
