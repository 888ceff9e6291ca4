//go:build linux

package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// Server is the server of argv (a server, possibly behind a wrapper such as strace) as
// the differential engine's implementation under test (engine.Impl), started for a
// measurement: its stdout goes to /dev/null and its stderr is drained as it comes
// (standalone.Options.Quiet), so that a server logging two lines per connection costs
// the measuring process nothing. Its targets are engine.Process: stopped with the
// engine's Stop (SIGTERM, then wait for the exit), and their process's rusage is read
// from Proc once they have exited. It is the one way this package, the benchmarks and
// the report start and stop the servers they measure.
func Server(name string, argv []string) engine.Impl {
	return serverWithin(name, argv, engine.ProcessTimeout)
}

func serverWithin(name string, argv []string, timeout time.Duration) engine.Impl {
	return engine.Impl{Name: name, Start: func(string) (engine.Target, error) {
		p, err := standalone.Start(argv, standalone.Options{Quiet: true}, timeout)
		if err != nil {
			return nil, err
		}
		return engine.Process{Proc: p}, nil
	}}
}

// start starts a server of im that runs as a process of its own.
func start(im engine.Impl) (engine.Process, error) {
	tg, err := im.Start("")
	if err != nil {
		return engine.Process{}, err
	}
	p, ok := tg.(engine.Process)
	if !ok {
		tg.Stop()
		return engine.Process{}, errors.New(im.Name + ": not a server process of its own: its CPU cannot be measured")
	}
	return p, nil
}

// Binaries are the standalone binaries plus the baseline server, built into one directory.
type Binaries struct {
	standalone.Binaries
	Baseline string // accept, recv, close: the floor of this machine
}

// Build builds the standalone binaries (standalone.Build) and the baseline server.
func Build(ctx context.Context, dir string) (Binaries, error) {
	sb, err := standalone.Build(ctx, dir)
	b := Binaries{Binaries: sb, Baseline: filepath.Join(dir, "baseline")}
	if err != nil {
		return b, err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	src := filepath.Join(standalone.RepoRoot(), "compare", "internal", "load", "baseline", "baseline.c")
	cmd := exec.CommandContext(ctx, cc, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", b.Baseline, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("%v: %v\n%s", cmd.Args, err, out)
	}
	return b, nil
}
