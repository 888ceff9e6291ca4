//go:build linux

package compare

// sigproc_test.go - a standalone server started the way the signal and log-stream cases
// need (signals_test.go): in a process group of its own, with stdout and stderr each a
// pipe the test reads, a pipe nobody reads, a pipe whose reader is gone, or closed; and
// what the kernel says about it (/proc: pending signals, stopped threads, the listening
// port, the stop eventfd's counter).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/internal/procfs"
	"golang.org/x/sys/unix"
)

// streamMode is what one of the server's log streams (fd 1 or 2) is.
type streamMode int

const (
	streamRead   streamMode = iota // a pipe the test reads to its end
	streamStall                    // a pipe (shrunk to one page) nobody reads until drain()
	streamBroken                   // a pipe whose read end is closed before the start
	streamClosed                   // no descriptor at all (`>&-`)
)

// sigProc is one standalone server process.
type sigProc struct {
	pid    int
	proc   *os.Process
	port   int
	out    [2]*logStream // stdout, stderr
	done   chan struct{}
	status string // set when done is closed
}

// logStream is the test's end of one of the server's log streams.
type logStream struct {
	mode  streamMode
	r     *os.File // read end (streamRead, streamStall)
	mu    sync.Mutex
	buf   bytes.Buffer
	eof   chan struct{}
	start chan struct{} // closed to start reading a stalled stream
	once  sync.Once
}

func (l *logStream) String() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logStream) read(onLine func(string)) {
	defer close(l.eof)
	<-l.start
	br := bufio.NewReader(l.r)
	for {
		line, err := br.ReadString('\n')
		l.mu.Lock()
		l.buf.WriteString(line)
		l.mu.Unlock()
		if line != "" && onLine != nil {
			onLine(line)
		}
		if err != nil {
			l.r.Close()
			return
		}
	}
}

// drain starts reading a stalled stream.
func (l *logStream) drain() { l.once.Do(func() { close(l.start) }) }

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

// startSig starts server MODEL 0 as o says and waits until it listens: its "listening on"
// line when stderr is read, else its listening socket in /proc.
func startSig(server, model string, o startOpts) (*sigProc, error) {
	stdout, stderr := o.stdout, o.stderr
	p := &sigProc{done: make(chan struct{})}
	files := []*os.File{nil, nil, nil}
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	toClose = append(toClose, devnull)
	files[0] = devnull
	for i, mode := range []streamMode{stdout, stderr} {
		if mode == streamClosed {
			continue
		}
		r, w, err := brokenOrNot(mode)
		if err != nil {
			return nil, err
		}
		toClose = append(toClose, w)
		files[1+i] = w
		if mode == streamBroken {
			continue
		}
		l := &logStream{mode: mode, r: r, eof: make(chan struct{}), start: make(chan struct{})}
		switch mode {
		case streamStall:
			// The smallest pipe (one page), so that a few lines fill it.
			if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, os.Getpagesize()); err != nil {
				return nil, err
			}
		default:
			l.drain()
		}
		p.out[i] = l
	}
	ready := make(chan int, 1)
	onErrLine := func(string) {}
	if l := p.out[1]; l != nil && l.mode == streamRead {
		first := true
		onErrLine = func(line string) {
			if first {
				first = false
				port := -1
				if m := listeningRE.FindStringSubmatch(strings.TrimSuffix(line, "\n")); m != nil {
					port, _ = strconv.Atoi(m[1])
				}
				ready <- port
			}
		}
	}
	path, args := server, []string{server, model, "0"}
	if o.ignored != "" {
		path, args = "/bin/sh", []string{"sh", "-c", `trap "" ` + o.ignored + `; exec "$0" "$@"`, server, model, "0"}
	}
	if o.blocked != 0 {
		sb, err := sigblockProgram()
		if err != nil {
			return nil, err
		}
		path, args = sb, append([]string{sb, strconv.Itoa(int(o.blocked))}, args...)
	}
	if len(o.wrapper) > 0 {
		path, args = o.wrapper[0], append(append([]string(nil), o.wrapper...), args...)
	}
	proc, err := os.StartProcess(path, args, &os.ProcAttr{Files: files, Sys: &syscall.SysProcAttr{Setpgid: true}})
	if err != nil {
		return nil, err
	}
	p.proc, p.pid = proc, proc.Pid
	for i, l := range p.out {
		if l != nil {
			if i == 1 {
				go l.read(onErrLine)
			} else {
				go l.read(nil)
			}
		}
	}
	go func() {
		ps, _ := proc.Wait()
		p.status = standalone.Status(ps)
		close(p.done)
	}()
	deadline := time.Now().Add(processTimeout)
	if len(o.wrapper) > 0 {
		deadline = time.Now().Add(4 * processTimeout) // valgrind starts slowly
	}
	if l := p.out[1]; l != nil && l.mode == streamRead {
		select {
		case p.port = <-ready:
		case <-p.done:
		case <-time.After(time.Until(deadline)):
		}
	} else {
		parity.WaitFor(deadline, func() bool {
			p.port = listeningPortOf(p.pid)
			return p.port > 0 || p.exited()
		})
	}
	if p.port <= 0 && p.exited() {
		return p, errExited
	}
	if p.port <= 0 {
		err := fmt.Errorf("%s %s did not start: %s, stderr %q", server, model, p.statusNow(), p.out[1].String())
		p.kill()
		return p, err
	}
	return p, nil
}

// errExited: the server exited before it listened (a broken stderr kills it at its first line).
var errExited = errors.New("the server exited before it listened")

// brokenOrNot makes a log pipe; for streamBroken its read end is closed at once (r is nil).
// While the read end exists, a process that another test goroutine forks gets a copy of it
// until it execs (close-on-exec): on a loaded machine long enough for a server started
// meanwhile to write its first line into the pipe and live on (seen once in ~20 runs:
// a Go fork server idle with a "broken" stderr). Holding syscall.ForkLock for reading
// keeps forks out (os.StartProcess takes it for writing, and its vfork'ed child has exec'd
// when it returns).
func brokenOrNot(mode streamMode) (r, w *os.File, err error) {
	if mode != streamBroken {
		return os.Pipe()
	}
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	r, w, err = os.Pipe()
	if err == nil {
		r.Close()
	}
	return nil, w, err
}

var listeningRE = regexp.MustCompile(`^listening on 0\.0\.0\.0:(\d+)$`)

func (p *sigProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
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
	select {
	case <-p.done:
		return p.status
	case <-time.After(d):
		return "running"
	}
}

// kill ends the server and whatever is left in its process group (fork's children), and
// waits for the server.
func (p *sigProc) kill() {
	unix.Kill(-p.pid, unix.SIGKILL)
	unix.Kill(p.pid, unix.SIGKILL)
	<-p.done
	for _, l := range p.out {
		if l != nil {
			l.drain()
		}
	}
}

// logs waits (bounded) until the server's log pipes reached their end (every writer gone,
// fork's children included) and returns stdout and stderr.
func (p *sigProc) logs(d time.Duration) (string, string, error) {
	deadline := time.After(d)
	for _, l := range p.out {
		if l == nil || l.mode == streamBroken {
			continue
		}
		l.drain()
		select {
		case <-l.eof:
		case <-deadline:
			return p.out[0].String(), p.out[1].String(), errors.New("a log pipe did not reach its end")
		}
	}
	return p.out[0].String(), p.out[1].String(), nil
}

// groupMembers counts the live processes (zombies aside: a child that ended but was not
// reaped yet) in the server's process group other than the server.
func (p *sigProc) groupMembers() int { return len(procfs.GroupMembers(p.pid)) }

// ---- what /proc says (internal/procfs) ----

// sigPending: sig is pending for pid, process-wide or on one of its threads.
func sigPending(pid int, sig syscall.Signal) bool { return procfs.SigPending(pid, sig) }

// listeningPortOf finds the port of pid's listening TCP socket, for a server whose stderr
// is closed.
func listeningPortOf(pid int) int { return procfs.ListeningPort(pid) }

// stopRequestedIn: one of pid's eventfds has a count above zero. Only the stop eventfd is
// ever written while a server runs (sigio's private one is written as it returns), so this
// says the stop handler has run: the C handler, or Go's signal goroutine.
func stopRequestedIn(pid int) bool { return procfs.EventfdWritten(pid) }

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

func connectError(err error) string {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "refused"
	}
	return "connect error"
}

// sendHalfClose sends msg and half-closes.
func (cl *sigClient) sendHalfClose(msg string) {
	if cl.c == nil {
		return
	}
	cl.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(cl.c, msg); err == nil {
		cl.c.(*net.TCPConn).CloseWrite()
	}
}

// readEnd reads until the server ends the connection, for at most d ("open" if it did not).
func (cl *sigClient) readEnd(d time.Duration) {
	if cl.c == nil {
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

func (cl *sigClient) record() parity.ConnRecord {
	end := cl.end
	if cl.err != "" {
		end = cl.err
	}
	return parity.ConnRecord{Name: cl.name, Data: cl.data, End: end}
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
func (cs *sigClients) finish(p *sigProc, tr *parity.Transcript) error {
	for _, cl := range cs.list {
		cl.close()
		tr.Conns = append(tr.Conns, cl.record())
	}
	stdout, stderr, err := p.logs(signalTimeout)
	tr.Stdout, tr.Stderr = parity.NamePorts(stdout, cs.ports), parity.NamePorts(stderr, cs.ports)
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
