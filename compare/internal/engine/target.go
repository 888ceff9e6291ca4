//go:build linux

package engine

// target.go - servers that run as processes: a command line started afresh for every run
// (Command), and a server that is already listening (Address).

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/logpipe"
	"github.com/iomodels/iomodels/internal/procfs"
)

// ProcessTimeout bounds a process's start (until it listens) and its stop (until it exits).
const ProcessTimeout = 10 * time.Second

// Process is a server running as a process of its own: a Target whose descriptors and CPU
// are its process's, and which a step may signal. Grace, when not 0, bounds its Stop
// (standalone.Process.Stop): SIGKILL to its process group grace after SIGTERM, and its
// children's hold on its logs bounded alike.
type Process struct {
	Proc  *standalone.Process
	Grace time.Duration
}

func (p Process) Port() int      { return p.Proc.Port }
func (p Process) Stdout() []byte { return []byte(p.Proc.Stdout()) }
func (p Process) Stderr() []byte { return []byte(p.Proc.Stderr()) }
func (p Process) ServerPid() int { return p.Proc.Pid() }

// Idle: every thread of the server, and of every other process of its process group (a
// tool's server leads one), is asleep in the kernel (procfs.AllAsleep).
func (p Process) Idle() bool {
	pid := p.Proc.Pid()
	if !procfs.AllAsleep(pid) {
		return false
	}
	if p.Grace == 0 {
		return true
	}
	for _, m := range procfs.GroupMembers(pid) {
		if !procfs.AllAsleep(m) {
			return false
		}
	}
	return true
}

// StdoutPipe is the pipe the server prints its stdout to, which a step may hold
// (logpipe.Pipe.Hold) so that the server blocks at its next line.
func (p Process) StdoutPipe() *logpipe.Pipe { return p.Proc.StdoutPipe() }

// Signal sends sig and waits for the process to exit; it returns how it ended.
func (p Process) Signal(sig syscall.Signal) (string, error) {
	return p.Proc.Signal(sig, ProcessTimeout)
}

// Send sends sig and does not wait.
func (p Process) Send(sig syscall.Signal) error { return p.Proc.Send(sig) }

// Stop is SIGTERM. A SIGCONT first, for a scenario that failed while the server was
// stopped; a running server ignores it.
func (p Process) Stop() (string, error) {
	p.Send(syscall.SIGCONT)
	if p.Grace > 0 {
		return p.Proc.Stop(syscall.SIGTERM, p.Grace)
	}
	return p.Proc.Signal(syscall.SIGTERM, ProcessTimeout)
}

// PortPlaceholder in a Command's argv is replaced by the port the server is to listen on.
const PortPlaceholder = "{port}"

// Command is an Impl that runs argv afresh for every run. Each "{port}" in argv becomes a
// port that was free on 127.0.0.1 a moment before, and the server is ready once it, or a
// process it started, holds a socket listening on that port (asked of the kernel: no probe
// connection for the server to see and log; another process's listener there does not
// count). Without "{port}", argv must print "listening on 0.0.0.0:PORT" as its first stderr
// line, as this repository's servers do. A server that exits, or does not listen within
// ProcessTimeout, fails the run with its stderr. Stop is SIGTERM; the status is how the
// process ended ("exited N", "killed by SIGX").
func Command(name string, argv []string) Impl {
	return CommandWithin(name, argv, ProcessTimeout)
}

// CommandWithin is Command with timeout, instead of ProcessTimeout, bounding the server's
// start: a tool's own timeout (paritydiff -timeout) covers a server that never listens.
// With "{port}", a server that exits before it listens is started again on another port,
// up to three times in all (the port may have been taken in between).
func CommandWithin(name string, argv []string, timeout time.Duration) Impl {
	return CommandWith(name, argv, CommandOptions{Timeout: timeout})
}

// CommandOptions say how CommandWith starts and stops a server.
type CommandOptions struct {
	// Timeout bounds the start (ProcessTimeout when 0).
	Timeout time.Duration
	// Grace, when not 0, makes the server a tool's (standalone.Options.Tool: a process
	// group of its own, a parent-death signal, reached by standalone.StopAll) and bounds
	// its stop: SIGKILL to its group grace after SIGTERM (standalone.Process.Stop).
	Grace time.Duration
	// Restarted, when not nil, is told of each start that exited before it listened and
	// was tried again on another port.
	Restarted func(err error)
	// Prefix is put before argv (a wrapper such as stdbuf -oL); the server's readiness
	// is still its port's listener, whichever process of its group holds it.
	Prefix []string
}

// CommandWith is CommandWithin with every option.
func CommandWith(name string, argv []string, co CommandOptions) Impl {
	timeout := co.Timeout
	if timeout <= 0 {
		timeout = ProcessTimeout
	}
	so := standalone.Options{Tool: co.Grace > 0}
	return Impl{Name: name, Start: func(string) (Target, error) {
		if len(argv) == 0 {
			return nil, errors.New("empty command line")
		}
		if !hasPlaceholder(argv) {
			p, err := standalone.Start(append(append([]string(nil), co.Prefix...), argv...), so, timeout)
			if err != nil {
				return nil, err
			}
			return Process{p, co.Grace}, nil
		}
		// The port was free a moment before the server binds it; on a busy machine
		// another process may take it in between (any connection's local port comes from
		// the same range), and the server then exits at once. A server that exits before
		// it listens is started again on another port, up to startAttempts times in all;
		// one that does not listen within timeout is not.
		var err error
		for attempt := range startAttempts {
			var port int
			if port, err = FreePort(); err != nil {
				return nil, err
			}
			args := append([]string(nil), co.Prefix...)
			for _, a := range argv {
				args = append(args, strings.ReplaceAll(a, PortPlaceholder, strconv.Itoa(port)))
			}
			began := time.Now()
			var p *standalone.Process
			o := so
			o.ReadyPort = port
			if p, err = standalone.Start(args, o, timeout); err == nil {
				return Process{p, co.Grace}, nil
			}
			if time.Since(began) >= timeout {
				break
			}
			if co.Restarted != nil && attempt < startAttempts-1 && errors.Is(err, standalone.ErrExited) {
				co.Restarted(err)
			}
		}
		return nil, err
	}}
}

// startAttempts bounds how often CommandWithin starts a server that exits before it
// listens on the port picked for it.
const startAttempts = 3

func hasPlaceholder(argv []string) bool {
	for _, a := range argv {
		if strings.Contains(a, PortPlaceholder) {
			return true
		}
	}
	return false
}

// FreePort is a TCP port that was free on 127.0.0.1 when asked: the kernel picks it for a
// listener that is closed at once. Another process may take it in between; the server
// then fails to start, with its own message.
func FreePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Address is an Impl for a server at addr ("127.0.0.1:PORT") that is already listening and
// that this engine neither starts nor stops: every run talks to the same server, so its
// state carries from run to run; its logs are not seen (empty), and its status is
// "running". Start fails unless addr accepts a connection within ProcessTimeout; that
// probe connection is closed at once, before the scenario's first step.
func Address(name, addr string) Impl {
	return Impl{Name: name, Start: func(string) (Target, error) {
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		port, err := strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("address %q: bad port", addr)
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("address %q: an IPv4 loopback address is needed (127.0.0.0/8)", addr)
		}
		c, err := net.DialTimeout("tcp4", addr, ProcessTimeout)
		if err != nil {
			return nil, fmt.Errorf("address %q does not accept connections: %w", addr, err)
		}
		c.Close()
		return listening{host, port}, nil
	}}
}

// listening is a server that someone else runs.
type listening struct {
	host string
	port int
}

func (l listening) Port() int             { return l.port }
func (l listening) Host() string          { return l.host }
func (l listening) Stdout() []byte        { return nil }
func (l listening) Stderr() []byte        { return nil }
func (l listening) Stop() (string, error) { return "running", nil }
