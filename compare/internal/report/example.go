//go:build linux

// example.go - the idiomatic example's row: compare/examples/netthread, the thread model
// written with the net package, built beside the servers and measured beside C and the
// raw-syscall port.

package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/iomodels/iomodels/compare/internal/load"
	"github.com/iomodels/iomodels/compare/internal/standalone"
)

// The idiomatic example: which model it ports, its name in the table, its I/O model.
const (
	ExampleModel   = "thread"
	ExampleName    = "net example"
	ExampleIOModel = "blocking (goroutine per connection, net package)"
)

// Binaries are what the report runs: the servers, the clients and the baseline
// (load.Build), and the idiomatic example.
type Binaries struct {
	load.Binaries
	// NetThread is compare/examples/netthread's binary ("" when not built: no row).
	NetThread string
}

// Build builds the load package's binaries and the example into dir, the example
// CGO_ENABLED=0 as its README builds it.
func Build(ctx context.Context, dir string) (Binaries, error) {
	lb, err := load.Build(ctx, dir)
	b := Binaries{Binaries: lb}
	if err != nil {
		return b, err
	}
	bin := filepath.Join(dir, "netthread")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./compare/examples/netthread")
	cmd.Dir = standalone.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("%v: %v\n%s", cmd.Args, err, out)
	}
	b.NetThread = bin
	return b, nil
}

// ExampleArgv is the example's command line on a free port: `netthread 0` (its command
// line is the servers' without the model's name).
func (b Binaries) ExampleArgv() []string { return []string{b.NetThread, "0"} }
