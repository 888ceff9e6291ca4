//go:build linux

package parity

// target.go - the servers a scenario runs against: a command line started afresh for each
// run, an address already listening, or a server in this process behind Server.

import (
	"errors"
	"fmt"
	"os"

	"github.com/iomodels/iomodels/compare/internal/engine"
)

// PortPlaceholder in a [Command]'s argv is replaced by the TCP port the server is to
// listen on.
const PortPlaceholder = "{port}"

// A Target is a server to compare: each run of a scenario starts a fresh one (but an
// [Address], which is always the same). Make one with [Command], [Address] or
// [InProcess]; the zero Target fails every run.
type Target struct {
	command bool
	argv    []string
	addr    string
	start   func() (Server, error)
}

// Command is a server run as a process, from argv, afresh for every run. Each "{port}"
// in argv becomes a TCP port that was free on 127.0.0.1 a moment before, and the server is
// ready once it, or a process it started, listens on that port (asked of the kernel: no
// probe connection for it to log). Without "{port}", the server's first stderr line must
// be "listening on 0.0.0.0:PORT". A server that exits before it listens is started again
// on another port, up to three times in all. Its stdout and stderr are compared; it is
// stopped with SIGTERM, and its status is how it ended ("exited 0", "killed by SIGTERM").
// It starts with descriptors 0-2 alone, leads a process group of its own, and dies with
// the thread that started it; [Grace] bounds its stop.
func Command(argv ...string) Target {
	return Target{command: true, argv: append([]string(nil), argv...)}
}

// Address is a server that is already listening at addr ("127.0.0.1:PORT", any IPv4
// loopback address), which nothing here starts or stops: its state carries from run to
// run, its logs are not seen (empty), and its status is "running". A run fails unless
// addr accepts a connection (closed at once, before the first step).
func Address(addr string) Target { return Target{addr: addr} }

// InProcess is a server in this process: start starts a fresh one, listening and ready to
// accept, for every run.
func InProcess(start func() (Server, error)) Target { return Target{start: start} }

// A Server is a server running in this process, as [InProcess] starts it.
type Server interface {
	// Port is the TCP port it listens on, on 127.0.0.1.
	Port() int
	// Stop stops it and returns its status: 0 for a clean stop (shown as "exited 0").
	Stop() (status int, err error)
	// Stdout and Stderr are what it logged so far.
	Stdout() []byte
	Stderr() []byte
}

// engine is the target as the engine's implementation called name.
func (t Target) engine(name string, o options) engine.Impl {
	var im engine.Impl
	switch {
	case t.command:
		im = engine.CommandWith(name, t.argv, engine.CommandOptions{Timeout: o.startTimeout(), Grace: o.stopGrace(), Prefix: o.prefix})
	case t.addr != "":
		im = engine.Address(name, t.addr)
	case t.start != nil:
		im = engine.Impl{Name: name, Start: func(string) (engine.Target, error) {
			s, err := t.start()
			if err != nil {
				return nil, err
			}
			if s == nil {
				return nil, errors.New("InProcess: start returned no server and no error")
			}
			return inProcess{s}, nil
		}}
	default:
		im = engine.Impl{Name: name, Start: func(string) (engine.Target, error) {
			return nil, errors.New("the zero Target: make one with Command, Address or InProcess")
		}}
	}
	im.Deadline = o.runTimeout()
	im.Normalize = o.normalizers()
	im.Quiet, im.LogWait = o.quiet, o.logWait
	return im
}

// inProcess is a Server as the engine sees it: its descriptors and CPU are this process's.
type inProcess struct{ Server }

func (inProcess) ServerPid() int { return os.Getpid() }

func (s inProcess) Stop() (string, error) {
	status, err := s.Server.Stop()
	return fmt.Sprintf("exited %d", status), err
}
