//go:build linux

package compare

// sigproc_test.go - a standalone server started (standalone.Start) the way the signal and
// log-stream cases need (signals_test.go): in a process group of its own, with stdout and
// stderr each a pipe the test reads, a pipe nobody reads, a pipe whose reader is gone, or
// closed; and what the kernel says about it (/proc: pending signals, stopped threads, the listening
// port, the stop eventfd's counter).

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/procfs"
	"golang.org/x/sys/unix"
)

// streamMode is what one of the server's log streams (fd 1 or 2) is.
type streamMode = standalone.Stream

const (
	streamRead   = standalone.Read   // a pipe the test reads to its end
	streamStall  = standalone.Stall  // a pipe (shrunk to one page) nobody reads until drain()
	streamBroken = standalone.Broken // a pipe whose read end is closed before the start
	streamClosed = standalone.Closed // no descriptor at all (`>&-`)
)

// sigProc is one standalone server process, started by standalone.Start.
type sigProc struct {
	p      *standalone.Process
	pid    int
	port   int
	out    [2]*logStream // stdout, stderr
	status string        // set once exited, wait or kill saw it end
}

// logStream is one of the server's log streams, as the test sees it.
type logStream struct {
	p  *standalone.Process
	fd int
}

func (l *logStream) String() string {
	if l == nil {
		return ""
	}
	return l.p.Log(l.fd)
}

// drain starts reading a stalled stream.
func (l *logStream) drain() { l.p.Drain() }

// startOpts: how a server is started for a signal or log-stream case.
type startOpts struct {
	stdout, stderr streamMode
	// ignored: signals (as sh's trap names them) the server inherits ignored: it is
	// started through `sh -c 'trap "" SIGS; exec SERVER MODEL 0'`, the same process.
	ignored string
	// blocked: a signal the server inherits blocked (its signal mask), through sigblock.
	blocked syscall.Signal
	// wrapper runs the server under another program that execs or traces it in the same
	// process (valgrind).
	wrapper []string
}

// startSig starts server MODEL 0 as o says, in a process group of its own, and waits until
// it listens: its "listening on" line when stderr is read, else its listening socket in
// /proc.
func startSig(server, model string, o startOpts) (*sigProc, error) {
	args := []string{server, model, "0"}
	if o.ignored != "" {
		args = []string{"/bin/sh", "-c", `trap "" ` + o.ignored + `; exec "$0" "$@"`, server, model, "0"}
	}
	if o.blocked != 0 {
		sb, err := sigblockProgram()
		if err != nil {
			return nil, err
		}
		args = append([]string{sb, strconv.Itoa(int(o.blocked))}, args...)
	}
	if len(o.wrapper) > 0 {
		args = append(append([]string(nil), o.wrapper...), args...)
	}
	timeout := processTimeout
	if len(o.wrapper) > 0 {
		timeout = 4 * processTimeout // valgrind starts slowly
	}
	sp, err := standalone.Start(args, standalone.Options{Stdout: o.stdout, Stderr: o.stderr, Group: true}, timeout)
	if sp == nil {
		return nil, err
	}
	p := &sigProc{p: sp, pid: sp.Pid(), port: sp.Port}
	for i, mode := range []streamMode{o.stdout, o.stderr} {
		if mode == streamRead || mode == streamStall {
			p.out[i] = &logStream{p: sp, fd: i + 1}
		}
	}
	if errors.Is(err, standalone.ErrExited) {
		p.status = sp.WaitExit(0)
		return p, errExited
	}
	return p, err
}

// errExited: the server exited before it listened (a broken stderr kills it at its first line).
var errExited = errors.New("the server exited before it listened")

func (p *sigProc) exited() bool {
	if !p.p.Exited() {
		return false
	}
	p.status = p.p.WaitExit(0)
	return true
}

func (p *sigProc) statusNow() string {
	if p.exited() {
		return p.status
	}
	return "running"
}

// send sends sig to the server process (kill(2)).
func (p *sigProc) send(sig syscall.Signal) error {
	err := unix.Kill(p.pid, sig)
	if err == unix.ESRCH {
		return nil // it has exited (a zombie until reaped is still there: ESRCH means reaped)
	}
	return err
}

// wait waits up to d for the exit and returns the status, or "running".
func (p *sigProc) wait(d time.Duration) string {
	st := p.p.WaitExit(d)
	if st != "running" {
		p.status = st
	}
	return st
}

// kill ends the server and whatever is left in its process group (fork's children), and
// waits for the server.
func (p *sigProc) kill() {
	p.p.Kill()
	p.status = p.p.WaitExit(0)
}

// logs waits (bounded) until the server's log pipes reached their end (every writer gone,
// fork's children included) and returns stdout and stderr.
func (p *sigProc) logs(d time.Duration) (string, string, error) { return p.p.Logs(d) }

// groupMembers counts the live processes (zombies aside: a child that ended but was not
// reaped yet) in the server's process group other than the server.
func (p *sigProc) groupMembers() int { return len(procfs.GroupMembers(p.pid)) }

// ---- what /proc says (internal/procfs) ----

// sigPending: sig is pending for pid, process-wide or on one of its threads.
func sigPending(pid int, sig syscall.Signal) bool { return procfs.SigPending(pid, sig) }

// fdTarget is where pid's descriptor fd points ("/dev/null", "pipe:[...]", "" if closed).
func fdTarget(pid, fd int) string { return procfs.FdTarget(pid, strconv.Itoa(fd)) }

// sigblockSource is `sigblock SIG PROGRAM ARGS...`: exec PROGRAM with SIG blocked, as a
// parent that blocks a signal leaves it to its children (no shell can do that).
const sigblockSource = `#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char *argv[])
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, atoi(argv[1]));
    sigprocmask(SIG_BLOCK, &set, NULL);
    execv(argv[2], argv + 2);
    return 127;
}
`

var (
	sigblockOnce sync.Once
	sigblockPath string
	sigblockErr  error
)

// sigblockProgram compiles sigblock into the build directory, once.
func sigblockProgram() (string, error) {
	sigblockOnce.Do(func() {
		b, err := standalone.Shared()
		if err != nil {
			sigblockErr = err
			return
		}
		src := filepath.Join(b.Dir, "sigblock.c")
		sigblockPath = filepath.Join(b.Dir, "sigblock")
		if sigblockErr = os.WriteFile(src, []byte(sigblockSource), 0o644); sigblockErr != nil {
			return
		}
		if out, err := exec.Command("cc", "-o", sigblockPath, src).CombinedOutput(); err != nil {
			sigblockErr = fmt.Errorf("cc sigblock.c: %v\n%s", err, out)
		}
	})
	return sigblockPath, sigblockErr
}

// ---- clients ----

// sigClient is one client connection with what it observed.
type sigClient struct {
	name string
	c    net.Conn
	port int
	err  string // a failed connect: "refused"
	data []byte
	end  string
}

func dialSig(name string, port int) *sigClient {
	cl := &sigClient{name: name}
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		cl.err, cl.end = connectError(err), "not connected"
		return cl
	}
	cl.c = c
	cl.port = c.LocalAddr().(*net.TCPAddr).Port
	return cl
}

// connectError: "refused", or "reset" (the server accepted the connection and aborted it
// before Dial looked at its socket's error), or "connect error".
func connectError(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return "connect error"
}

// sendHalfClose sends msg and half-closes. A reset that the send meets is the client's
// end: the kernel reports it once, to the first call after it, and a read that follows
// sees only the end of stream.
func (cl *sigClient) sendHalfClose(msg string) {
	if cl.c == nil {
		return
	}
	cl.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err := io.WriteString(cl.c, msg)
	if err == nil {
		cl.c.(*net.TCPConn).CloseWrite() // ENOTCONN once reset: the read tells
	} else if errors.Is(err, syscall.ECONNRESET) {
		cl.end = "reset"
	}
}

// readEnd reads until the server ends the connection, for at most d ("open" if it did not);
// nothing if the client's send met a reset already.
func (cl *sigClient) readEnd(d time.Duration) {
	if cl.c == nil || cl.end != "" {
		return
	}
	cl.c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		n, err := cl.c.Read(buf)
		cl.data = append(cl.data, buf[:n]...)
		if err == nil {
			continue
		}
		var ne net.Error
		switch {
		case errors.Is(err, io.EOF):
			cl.end = "EOF"
		case errors.Is(err, syscall.ECONNRESET):
			cl.end = "reset"
		case errors.As(err, &ne) && ne.Timeout():
			cl.end = "open"
		default:
			cl.end = "error " + err.Error()
		}
		return
	}
}

func (cl *sigClient) close() {
	if cl.c != nil {
		cl.c.Close()
	}
}

func (cl *sigClient) record() engine.ConnRecord {
	end := cl.end
	if cl.err != "" {
		end = cl.err
	}
	return engine.ConnRecord{Name: cl.name, Data: cl.data, End: end}
}

// sigClients are a run's clients, in the order they were added, and their ports' names.
type sigClients struct {
	list  []*sigClient
	ports map[int][]string // a client's local port -> its name, for namePorts
}

// add registers cl and returns it: it gets a record in the transcript, and its port is
// named in the server's log lines.
func (cs *sigClients) add(cl *sigClient) *sigClient {
	cs.list = append(cs.list, cl)
	if cl.port > 0 {
		if cs.ports == nil {
			cs.ports = map[int][]string{}
		}
		cs.ports[cl.port] = append(cs.ports[cl.port], cl.name)
	}
	return cl
}

// finish closes every client and fills tr in with what they saw, in order, and with the
// server's log streams (p has ended), each client's port named.
func (cs *sigClients) finish(p *sigProc, tr *engine.Transcript) error {
	for _, cl := range cs.list {
		cl.close()
		tr.Conns = append(tr.Conns, cl.record())
	}
	stdout, stderr, err := p.logs(signalTimeout)
	tr.Stdout, tr.Stderr = engine.NamePorts(stdout, cs.ports), engine.NamePorts(stderr, cs.ports)
	return err
}

// exchange is the seed's client: connect, send, half-close, read to the end.
func exchange(name string, port int, msg string) *sigClient {
	cl := dialSig(name, port)
	cl.sendHalfClose(msg)
	cl.readEnd(3 * time.Second)
	cl.close()
	return cl
}

// bounded runs jobs with at most n at a time.
func bounded(n int, jobs []func()) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			job()
		}()
	}
	wg.Wait()
}
