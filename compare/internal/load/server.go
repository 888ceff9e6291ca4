//go:build linux

package load

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// startQuiet starts argv (a server, possibly behind strace) for a measurement: its stdout
// goes to /dev/null and its stderr is drained as it comes (standalone.Options.Quiet).
func startQuiet(timeout time.Duration, argv ...string) (*standalone.Process, error) {
	return standalone.Start(argv, standalone.Options{Quiet: true}, timeout)
}

// stop sends SIGTERM to pid (the server itself, which may be strace's child) and waits up
// to timeout for the started process to end; after that it is killed.
func stop(p *standalone.Process, pid int, timeout time.Duration) error {
	syscall.Kill(pid, syscall.SIGTERM)
	_, err := p.Wait(timeout)
	return err
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
