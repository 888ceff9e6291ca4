//go:build linux

package compare

// engine_test.go - the scenario language and its interpreter.
//
// A scenario is a list of steps over named client connections on loopback: connect, send,
// half-close (shutdown SHUT_WR), reset (SO_LINGER 0, then close), and controlled waits for
// something the server does (its stdout reaching N lines, a connection receiving N bytes or
// ending). Nothing waits with a bare sleep: every wait polls a condition until it holds or
// the scenario's deadline passes. The interpreter records a transcript: the bytes and the
// ending of every connection, notes from the steps, and the server's stdout and stderr with
// each client's port replaced by its connection name (the client knows its local port), so
// that two runs can be compared.
//
// The order in which connections were answered is recorded where it is a fact rather than
// a race: a watch step notes whether a connection was answered while another one stalled
// ("l: open and silent for 1s"), and the server's log lines keep their order. Reader
// goroutines' wake-up order is not used: two answers microseconds apart would make it noise.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// scenarioDeadline bounds one run of one scenario: a hang fails with a message.
const scenarioDeadline = 20 * time.Second

// target is a running server under test: in-process (native, gosrv) or a process.
type target interface {
	Port() int
	Stop() (status int, err error)
	Stdout() []byte
	Stderr() []byte
}

// procInfo tells where the server's descriptors and CPU time can be seen: the test's own
// process for in-process servers, the child for standalone ones.
type procInfo interface {
	ServerPid() int
}

// step is one action of a scenario. desc names it in failure messages.
type step struct {
	desc string
	do   func(r *run) error
}

// scenario is one row of the scenario table.
type scenario struct {
	name string
	// models says which models the scenario applies to; nil means every model.
	models func(model string) bool
	// steps builds the steps for a model (most scenarios ignore the model).
	steps func(model string) []step
	// unorderedLog: the scenario runs clients concurrently, so the interleaving of
	// stdout lines is a race between clients; stdout is compared as a sorted set of lines.
	unorderedLog bool
	// expect checks the C reference's transcript against CONTRACT.md (parity alone would
	// pass two servers that are wrong the same way). May be nil.
	expect func(model string, tr *transcript) error
	// process: the scenario is about process-level behaviour; it always runs standalone.
	process bool
}

func (s scenario) appliesTo(model string) bool {
	return s.models == nil || s.models(model)
}

// connRecord is what one connection observed.
type connRecord struct {
	Name string
	Data []byte
	End  string // "EOF", "reset", "open" (nothing ended it), "closed" (the client closed it)
}

// transcript is everything a run observed, with ports replaced by connection names.
type transcript struct {
	Conns  []connRecord
	Notes  []string // observations made by steps ("l: open and silent for 1s")
	Stdout string
	Stderr string
	Status int
}

// ---- the run: state of one scenario against one server ----

// sock is a client socket: a *net.TCPConn from connect, or an *os.File around a socket
// that connectHigh made by hand. Both read, write and close through the runtime's poller.
type sock interface {
	io.ReadWriteCloser
	SetWriteDeadline(t time.Time) error
	SyscallConn() (syscall.RawConn, error)
}

// control runs f on the socket's descriptor and returns f's error.
func control(s sock, f func(fd int) error) error {
	raw, err := s.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

type conn struct {
	name string
	c    sock
	port int

	mu        sync.Mutex
	data      []byte
	end       string
	reading   bool
	readDone  chan struct{}
	sendErr   error
	sendDone  chan struct{}
	closedByU bool
}

type run struct {
	target   target
	deadline time.Time
	conns    map[string]*conn
	names    []string // declaration order
	notes    []string

	stopped bool // a stopServer step stopped the server
	status  int

	// orderedLines: with unorderedLog, the first orderedLines lines of stdout are still
	// compared in order (logOrderedSoFar).
	orderedLines int
}

func newRun(t target, deadline time.Time) *run {
	return &run{target: t, deadline: deadline, conns: map[string]*conn{}}
}

func (r *run) conn(name string) (*conn, error) {
	c, ok := r.conns[name]
	if !ok {
		return nil, fmt.Errorf("no connection %q (connect it first)", name)
	}
	return c, nil
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// waitFor polls cond every millisecond until it holds or the deadline (at most until)
// passes. It is the only way a step waits.
func waitFor(until time.Time, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(until) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *run) waitFor(what string, cond func() bool) error {
	if !waitFor(r.deadline, cond) {
		return fmt.Errorf("watchdog: %s did not happen before the scenario's deadline", what)
	}
	return nil
}

// startReading starts the connection's reader: it appends whatever arrives and records
// how the connection ended.
func (c *conn) startReading(r *run) {
	c.mu.Lock()
	if c.reading {
		c.mu.Unlock()
		return
	}
	c.reading = true
	c.mu.Unlock()
	go func() {
		defer close(c.readDone)
		buf := make([]byte, 64<<10)
		for {
			n, err := c.c.Read(buf)
			c.mu.Lock()
			if n > 0 {
				c.data = append(c.data, buf[:n]...)
			}
			if err != nil {
				switch {
				case errors.Is(err, io.EOF):
					c.end = "EOF"
				case errors.Is(err, syscall.ECONNRESET):
					c.end = "reset"
				case (errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed)) && c.closedByU:
					c.end = "closed"
				default:
					c.end = "error: " + err.Error()
				}
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		}
	}()
}

func (c *conn) snapshot() (n int, end string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.data), c.end
}

// ---- the steps ----

// connect opens a connection and starts reading it at once.
func connect(name string) step { return connectOpt(name, true) }

// connectQuiet opens a connection that reads nothing until startReading: a slow reader.
func connectQuiet(name string) step { return connectOpt(name, false) }

func connectOpt(name string, read bool) step {
	return step{"connect " + name, func(r *run) error {
		if _, dup := r.conns[name]; dup {
			return fmt.Errorf("connection %q declared twice", name)
		}
		d := net.Dialer{Deadline: r.deadline}
		nc, err := d.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.target.Port())))
		if err != nil {
			return err
		}
		tc := nc.(*net.TCPConn)
		c := &conn{name: name, c: tc, port: tc.LocalAddr().(*net.TCPAddr).Port,
			readDone: make(chan struct{})}
		r.conns[name] = c
		r.names = append(r.names, name)
		if read {
			c.startReading(r)
		}
		return nil
	}}
}

// highFd is where connectHigh numbers its client sockets from: above every descriptor a
// server under test is given (FD_SETSIZE and a margin).
const highFd = 2048

// connectHigh opens the connections, quiet, with their client sockets numbered from highFd
// up: every socket is made (socket(2), then moved up with F_DUPFD_CLOEXEC) before the first
// one connects. In process the clients share the server's descriptor table, and a client
// socket that takes the lowest free number races the server's accept4 for it; placed high,
// the clients leave the server's numbering to the order of connection alone, as in a
// standalone server.
func connectHigh(names ...string) step {
	return step{fmt.Sprintf("connect %d connections numbered from descriptor %d", len(names), highFd), func(r *run) error {
		fds := make([]int, 0, len(names))
		defer func() {
			for _, fd := range fds {
				if fd >= 0 { // not handed over to a connection
					unix.Close(fd)
				}
			}
		}()
		for range names {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return os.NewSyscallError("socket", err)
			}
			high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, highFd)
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("fcntl F_DUPFD_CLOEXEC from %d (is RLIMIT_NOFILE above %d?): %w", highFd, highFd+len(names), err)
			}
			fds = append(fds, high)
		}
		server := &unix.SockaddrInet4{Port: r.target.Port(), Addr: [4]byte{127, 0, 0, 1}}
		for i, name := range names {
			if _, dup := r.conns[name]; dup {
				return fmt.Errorf("connection %q declared twice", name)
			}
			port, err := connectFd(fds[i], server, r.deadline)
			if err != nil {
				return fmt.Errorf("connect %s: %w", name, err)
			}
			// Non-blocking, so os.NewFile gives it to the runtime's poller: reads and
			// writes wait there, with deadlines, as a net.TCPConn's do.
			c := &conn{name: name, c: os.NewFile(uintptr(fds[i]), name), port: port, readDone: make(chan struct{})}
			fds[i] = -1
			r.conns[name] = c
			r.names = append(r.names, name)
		}
		return nil
	}}
}

// connectFd connects the non-blocking socket fd to sa before deadline and returns its
// local port.
func connectFd(fd int, sa *unix.SockaddrInet4, deadline time.Time) (int, error) {
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		return 0, os.NewSyscallError("connect", err)
	}
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return 0, errors.New("watchdog: connect did not complete before the scenario's deadline")
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, ms)
		if err == unix.EINTR || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("poll", err)
		}
		break
	}
	if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		if err == nil {
			err = syscall.Errno(soerr)
		}
		return 0, os.NewSyscallError("connect", err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return 0, os.NewSyscallError("getsockname", err)
	}
	return local.(*unix.SockaddrInet4).Port, nil
}

// startReading makes a quiet connection read from now on.
func startReading(name string) step {
	return step{"start reading " + name, func(r *run) error {
		c, err := r.conn(name)
		if err == nil {
			c.startReading(r)
		}
		return err
	}}
}

// send writes p in one write call and waits until it is written.
func send(name string, p []byte) step {
	return step{fmt.Sprintf("send %d bytes on %s", len(p), name), func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		c.c.SetWriteDeadline(r.deadline)
		_, err = c.c.Write(p)
		return err
	}}
}

// sendAsync writes p from a goroutine, for a write that blocks until the peer reads
// (a slow reader); awaitSent waits for it.
func sendAsync(name string, p []byte) step {
	return step{fmt.Sprintf("send %d bytes on %s in the background", len(p), name), func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		c.sendDone = make(chan struct{})
		c.c.SetWriteDeadline(r.deadline)
		go func() {
			defer close(c.sendDone)
			_, err := c.c.Write(p)
			c.mu.Lock()
			c.sendErr = err
			c.mu.Unlock()
		}()
		return nil
	}}
}

func awaitSent(name string) step {
	return step{"await the background send on " + name, func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		if c.sendDone == nil {
			return fmt.Errorf("no background send on %s", name)
		}
		select {
		case <-c.sendDone:
		case <-time.After(time.Until(r.deadline)):
			return fmt.Errorf("watchdog: the background send on %s did not finish", name)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendErr
	}}
}

// sendCorked writes the parts as separate write calls under TCP_CORK, so that they leave
// in one segment and arrive together: a message split across writes whose parts the
// server's one recv is sure to see together.
func sendCorked(name string, parts ...[]byte) step {
	return step{fmt.Sprintf("send %d corked parts on %s", len(parts), name), func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		setCork := func(on int) error {
			return control(c.c, func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, on) })
		}
		if err := setCork(1); err != nil {
			return err
		}
		c.c.SetWriteDeadline(r.deadline)
		for _, p := range parts {
			if _, err := c.c.Write(p); err != nil {
				return err
			}
		}
		return setCork(0)
	}}
}

// halfClose is shutdown(SHUT_WR): the server sees end of stream, the client still reads.
func halfClose(name string) step {
	return step{"half-close " + name, func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		// ENOTCONN: the server already reset the connection (a one-shot server that
		// closes with unread bytes sends RST); the half-close has nothing left to do, and
		// the connection's ending records what happened.
		if err := control(c.c, func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) }); err != nil && !errors.Is(err, syscall.ENOTCONN) {
			return err
		}
		return nil
	}}
}

// reset sets SO_LINGER to 0 and closes: the kernel sends RST instead of FIN.
func reset(name string) step {
	return step{"reset " + name, func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		linger := &unix.Linger{Onoff: 1, Linger: 0}
		if err := control(c.c, func(fd int) error { return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, linger) }); err != nil {
			return err
		}
		return r.closeLocal(c)
	}}
}

// closeConn closes the connection plainly (FIN; RST only if unread data remains).
func closeConn(name string) step {
	return step{"close " + name, func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		return r.closeLocal(c)
	}}
}

// closeLocal closes c from the client side and waits for its reader to stop, so that its
// ending is recorded as "closed" before the next step.
func (r *run) closeLocal(c *conn) error {
	c.mu.Lock()
	c.closedByU = true
	reading := c.reading
	c.mu.Unlock()
	err := c.c.Close()
	if reading {
		select {
		case <-c.readDone:
		case <-time.After(time.Until(r.deadline)):
			return fmt.Errorf("watchdog: reader of %s did not stop", c.name)
		}
	}
	return err
}

// awaitEnd waits until the connection ended (EOF or reset from the server).
func awaitEnd(name string) step {
	return step{"await the end of " + name, func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		c.startReading(r)
		// The reader closes readDone once it has recorded the ending: no polling.
		select {
		case <-c.readDone:
			return nil
		case <-time.After(time.Until(r.deadline)):
			return fmt.Errorf("watchdog: the end of %s did not happen before the scenario's deadline", name)
		}
	}}
}

// awaitBytes waits until the connection received at least n bytes in all.
func awaitBytes(name string, n int) step {
	return step{fmt.Sprintf("await %d bytes on %s", n, name), func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		c.startReading(r)
		return r.waitFor(fmt.Sprintf("%d bytes on %s", n, name), func() bool {
			got, end := c.snapshot()
			return got >= n || end != ""
		})
	}}
}

// expectOpenFor watches the connection for d and notes whether it stayed open and silent
// (no byte beyond the first `had`, no end) - "still open after a wait" in CONTRACT.md § Parity - or was
// answered, possibly before the watch began. It returns as soon as an answer is seen, so it
// costs d only where the server is silent.
func expectOpenFor(name string, d time.Duration, had int) step {
	return step{fmt.Sprintf("watch %s for %v", name, d), func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		c.startReading(r)
		quiet := !waitFor(time.Now().Add(d), func() bool { n, end := c.snapshot(); return n > had || end != "" })
		if quiet {
			r.note("%s: open and silent for %v", name, d)
		} else {
			r.note("%s: answered within %v", name, d)
		}
		return nil
	}}
}

func countLines(b []byte) int { return bytes.Count(b, []byte("\n")) }

// awaitStdoutLines waits until the server's stdout holds at least n lines.
func awaitStdoutLines(n int) step {
	return step{fmt.Sprintf("await %d stdout lines", n), func(r *run) error {
		return r.waitFor(fmt.Sprintf("%d lines on the server's stdout", n), func() bool {
			return countLines(r.target.Stdout()) >= n
		})
	}}
}

// awaitStderrLines waits until the server's stderr holds at least n lines, counting the
// "listening on" line.
func awaitStderrLines(n int) step {
	return step{fmt.Sprintf("await %d stderr lines", n), func(r *run) error {
		return r.waitFor(fmt.Sprintf("%d lines on the server's stderr", n), func() bool {
			return countLines(r.target.Stderr()) >= n
		})
	}}
}

// logOrderedSoFar marks the server's stdout so far as ordered: with unorderedLog, only the
// lines after this point are compared as a sorted set (the accept order of a thread model
// is defined, the order in which its threads answer is not).
func logOrderedSoFar() step {
	return step{"mark the stdout so far as ordered", func(r *run) error {
		r.orderedLines = countLines(r.target.Stdout())
		return nil
	}}
}

// serverPid is the process that runs the server: this one for an in-process server.
func (r *run) serverPid() (int, error) {
	pi, ok := r.target.(procInfo)
	if !ok {
		return 0, errors.New("target has no process to look at")
	}
	return pi.ServerPid(), nil
}

// requireNofile fails unless the server's process may open n descriptors (its soft
// RLIMIT_NOFILE): a scenario that must run into FD_SETSIZE must not run into EMFILE first.
// Go's runtime raises its soft limit to the hard one, and so does the C server.
func requireNofile(n uint64) step {
	return step{fmt.Sprintf("require RLIMIT_NOFILE of at least %d", n), func(r *run) error {
		pid, err := r.serverPid()
		if err != nil {
			return err
		}
		var lim unix.Rlimit
		if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim); err != nil {
			return os.NewSyscallError("prlimit", err)
		}
		if lim.Cur < n {
			return fmt.Errorf("the server's RLIMIT_NOFILE is %d (hard %d), want at least %d", lim.Cur, lim.Max, n)
		}
		return nil
	}}
}

// freeFdsBelow counts the descriptor numbers below limit that pid has free: the numbers its
// next accepts get, lowest first. Listing /proc/self/fd opens a descriptor for the listing,
// which is not counted as taken.
func freeFdsBelow(pid, limit int) (int, error) {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	listing := -1
	if pid == os.Getpid() {
		listing = int(d.Fd())
	}
	taken := 0
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd < limit && fd != listing {
			taken++
		}
	}
	return limit - taken, nil
}

// threadCount is the number of threads of pid (Threads: in /proc/PID/status).
func threadCount(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// awaitThreads waits until the server's process has more than n threads: a model with a
// thread per connection holds one for each of n open connections, beside its own.
func awaitThreads(n int) step {
	return step{fmt.Sprintf("await more than %d threads", n), func(r *run) error {
		pid, err := r.serverPid()
		if err != nil {
			return err
		}
		return r.waitFor(fmt.Sprintf("more than %d threads in the server's process", n), func() bool {
			return threadCount(pid) > n
		})
	}}
}

// awaitUnreadStable waits until a quiet connection's receive queue holds at least min
// bytes and has stopped growing for a while: every buffer between the server and this
// client is then full, so the server's send has met EAGAIN (or blocked).
func awaitUnreadStable(name string, min int) step {
	return step{fmt.Sprintf("await a full receive queue on %s", name), func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		unread := func() int {
			var n int
			control(c.c, func(fd int) error { n, _ = unix.IoctlGetInt(fd, unix.SIOCINQ); return nil })
			return n
		}
		last, since := -1, time.Now()
		return r.waitFor("a full, stable receive queue on "+name, func() bool {
			n := unread()
			if n != last {
				last, since = n, time.Now()
				return false
			}
			return n >= min && time.Since(since) >= 50*time.Millisecond
		})
	}}
}

// cpuQuiet measures the server's CPU time over d and notes whether it stayed under half
// of d: a server spinning on a descriptor (the seed's level-triggered EPOLLERR loop) uses
// all of it.
func cpuQuiet(d time.Duration) step {
	return step{fmt.Sprintf("measure the server's CPU for %v", d), func(r *run) error {
		pi, ok := r.target.(procInfo)
		if !ok {
			return errors.New("target has no process to measure")
		}
		before, err := cpuTime(pi.ServerPid())
		if err != nil {
			return err
		}
		end := time.Now().Add(d)
		waitFor(end, func() bool { return false }) // a measurement window, not a wait for the server
		after, err := cpuTime(pi.ServerPid())
		if err != nil {
			return err
		}
		used := after - before
		r.note("server CPU over %v below half: %v", d, used < d/2)
		return nil
	}}
}

// cpuTime is utime+stime of pid from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Field 2, the command name, is in parentheses and may hold spaces: count the fields
	// after the last ')', where the state (field 3) is the first.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, s)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(fields))
	}
	// utime and stime are fields 14 and 15.
	ut, err := strconv.ParseInt(fields[14-3], 10, 64)
	if err != nil {
		return 0, err
	}
	st, err := strconv.ParseInt(fields[15-3], 10, 64)
	if err != nil {
		return 0, err
	}
	// Clock ticks of sysconf(_SC_CLK_TCK): USER_HZ, which Linux fixes at 100 whatever the
	// kernel's own tick rate (CONFIG_HZ).
	const ticksPerSecond = 100
	return time.Duration(ut+st) * time.Second / ticksPerSecond, nil
}

// connFdCount counts pid's sockets and pidfds: what a server holds per client (a
// connection, or a fork model's pidfd for the child serving it). Other descriptors (epoll,
// eventfds, pipes) belong to the server's life, and may be opened just after Start.
func connFdCount(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err == nil && (strings.HasPrefix(link, "socket:") || link == "anon_inode:[pidfd]") {
			n++
		}
	}
	return n
}

// fdCount is how many descriptors pid has open.
func fdCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// stopServer stops the server in the middle of a scenario (connections may still be open):
// what SIGTERM does to the standalone server.
func stopServer() step {
	return step{"stop the server", func(r *run) error {
		status, err := r.target.Stop()
		r.stopped, r.status = true, status
		return err
	}}
}

// ---- composite steps ----

// client is the seed's client: connect, send msg, half-close, read to the end.
func client(name string, msg []byte) []step {
	return []step{connect(name), send(name, msg), halfClose(name), awaitEnd(name)}
}

func seq(parts ...any) []step {
	var out []step
	for _, p := range parts {
		switch v := p.(type) {
		case step:
			out = append(out, v)
		case []step:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return out
}

// payload is n seeded pseudo-random bytes: the same for every run and implementation.
func payload(seed uint64, n int) []byte {
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 'i', 'o'}))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.UintN(256))
	}
	return p
}

// text is n printable bytes without NUL, for messages whose log line must show them whole.
func text(seed uint64, n int) []byte {
	p := payload(seed, n)
	for i := range p {
		p[i] = 'a' + p[i]%26
	}
	return p
}

// ---- running a scenario ----

// execute runs the steps against t and returns the transcript. The target is stopped
// before it returns, whatever happens.
func execute(sc scenario, model string, t target, deadline time.Duration) (tr *transcript, err error) {
	if deadline == 0 {
		deadline = scenarioDeadline
	}
	r := newRun(t, time.Now().Add(deadline))
	startFds := -1
	pi, hasProc := t.(procInfo)
	if hasProc {
		startFds = connFdCount(pi.ServerPid())
	}
	stopped := false
	defer func() {
		for _, c := range r.conns {
			c.c.Close()
		}
		if !stopped && !r.stopped {
			t.Stop()
		}
	}()

	for i, st := range sc.steps(model) {
		if err := st.do(r); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i+1, st.desc, err)
		}
	}

	// Snapshot every connection, then close them all so that the server sees every end.
	tr = &transcript{}
	for _, name := range r.names {
		c := r.conns[name]
		c.mu.Lock()
		rec := connRecord{Name: name, Data: append([]byte(nil), c.data...), End: c.end}
		c.mu.Unlock()
		if rec.End == "" {
			rec.End = "open"
		}
		tr.Conns = append(tr.Conns, rec)
	}
	for _, c := range r.conns {
		c.mu.Lock()
		c.closedByU = true
		c.mu.Unlock()
		c.c.Close()
	}
	for _, c := range r.conns {
		if c.reading {
			select {
			case <-c.readDone:
			case <-time.After(time.Until(r.deadline)):
				return nil, fmt.Errorf("watchdog: reader of %s did not stop", c.name)
			}
		}
	}
	// The server has seen every end once its descriptor count is back where it started
	// (it logs before it closes): only then are its logs complete.
	if hasProc {
		settled := waitFor(time.Now().Add(3*time.Second), func() bool { return connFdCount(pi.ServerPid()) <= startFds })
		if !settled {
			r.note("server connections not back to %d after the clients closed: %d", startFds, connFdCount(pi.ServerPid()))
		}
	}
	tr.Notes = r.notes

	status := r.status
	if !r.stopped {
		var err error
		status, err = t.Stop()
		stopped = true
		if err != nil {
			return nil, fmt.Errorf("stop: %w", err)
		}
	}
	tr.Status = status
	// A port may serve two connections one after the other (loopback reuses a port whose
	// connection is in TIME_WAIT): its names are used in connection order.
	ports := map[int][]string{}
	for _, name := range r.names {
		c := r.conns[name]
		ports[c.port] = append(ports[c.port], name)
	}
	tr.Stdout = namePorts(string(t.Stdout()), ports)
	tr.Stderr = namePorts(string(t.Stderr()), ports)
	if sc.unorderedLog {
		tr.Stdout = sortLinesAfter(tr.Stdout, r.orderedLines)
	}
	return tr, nil
}

var (
	peerRE   = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	listenRE = regexp.MustCompile(`0\.0\.0\.0:\d+`)
)

// namePorts replaces each client's port by its connection name, and the listening port
// by PORT. A port that several connections used in turn names them in order, one per
// occurrence (each connection appears in one "new conn" line); the last name is kept for
// any further occurrence.
func namePorts(s string, ports map[int][]string) string {
	used := map[int]int{}
	s = peerRE.ReplaceAllStringFunc(s, func(m string) string {
		p, _ := strconv.Atoi(m[len("127.0.0.1:"):])
		names, ok := ports[p]
		if !ok {
			return "127.0.0.1:<unknown port>"
		}
		i := min(used[p], len(names)-1)
		used[p]++
		return "127.0.0.1:<" + names[i] + ">"
	})
	return listenRE.ReplaceAllString(s, "0.0.0.0:PORT")
}

// sortLinesAfter sorts the lines of s after the first n.
func sortLinesAfter(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	n = min(n, len(lines))
	sort.Strings(lines[n:])
	return strings.Join(lines, "")
}

// ---- comparing transcripts ----

// summarize describes bytes by length, digest and their first few bytes.
func summarize(b []byte) string {
	sum := sha256.Sum256(b)
	head := b
	if len(head) > 24 {
		head = head[:24]
	}
	return fmt.Sprintf("%d bytes sha256:%s head %q", len(b), hex.EncodeToString(sum[:6]), head)
}

// firstDiff is the first offset where a and b differ (or the shorter length).
func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func describeBytesDiff(what string, a, b []byte, an, bn string) string {
	off := firstDiff(a, b)
	ctx := func(x []byte) []byte {
		lo, hi := max(0, off-16), min(len(x), off+16)
		if lo > hi {
			return nil
		}
		return x[lo:hi]
	}
	return fmt.Sprintf("%s differs at byte %d:\n  %s: %s, around it %q\n  %s: %s, around it %q",
		what, off, an, summarize(a), ctx(a), bn, summarize(b), ctx(b))
}

// diffTranscripts is "" when a and b agree, else a short account of the first differences.
func diffTranscripts(a, b *transcript, an, bn string) string {
	var out []string
	if len(a.Conns) != len(b.Conns) {
		out = append(out, fmt.Sprintf("connections: %s has %d, %s has %d", an, len(a.Conns), bn, len(b.Conns)))
	} else {
		for i := range a.Conns {
			ca, cb := a.Conns[i], b.Conns[i]
			if !bytes.Equal(ca.Data, cb.Data) {
				out = append(out, describeBytesDiff("bytes received on "+ca.Name, ca.Data, cb.Data, an, bn))
			}
			if ca.End != cb.End {
				out = append(out, fmt.Sprintf("ending of %s: %s %s, %s %s", ca.Name, an, ca.End, bn, cb.End))
			}
			if len(out) >= 4 {
				out = append(out, "(more connections not compared)")
				break
			}
		}
	}
	if strings.Join(a.Notes, "\n") != strings.Join(b.Notes, "\n") {
		out = append(out, fmt.Sprintf("observations:\n  %s: %q\n  %s: %q", an, a.Notes, bn, b.Notes))
	}
	for _, s := range []struct{ what, x, y string }{{"stdout", a.Stdout, b.Stdout}, {"stderr", a.Stderr, b.Stderr}} {
		if s.x != s.y {
			out = append(out, describeLogDiff(s.what, s.x, s.y, an, bn))
		}
	}
	if a.Status != b.Status {
		out = append(out, fmt.Sprintf("status: %s %d, %s %d", an, a.Status, bn, b.Status))
	}
	return strings.Join(out, "\n")
}

// describeLogDiff shows the line counts and the first differing line.
func describeLogDiff(what, x, y, an, bn string) string {
	lx, ly := strings.Split(x, "\n"), strings.Split(y, "\n")
	i := 0
	for i < len(lx) && i < len(ly) && lx[i] == ly[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			s := l[i]
			if len(s) > 120 {
				s = s[:120] + "..."
			}
			return strconv.Quote(s)
		}
		return "(no line)"
	}
	return fmt.Sprintf("%s differs at line %d: %s has %d lines, %s has %d\n  %s: %s\n  %s: %s",
		what, i+1, an, len(lx)-1, bn, len(ly)-1, an, line(lx), bn, line(ly))
}

// brief is a compact rendering of a transcript for failure messages.
func (tr *transcript) brief() string {
	var b strings.Builder
	for i, c := range tr.Conns {
		if i == 8 {
			fmt.Fprintf(&b, "  ... %d more connections\n", len(tr.Conns)-8)
			break
		}
		fmt.Fprintf(&b, "  %s: %s, %s\n", c.Name, summarize(c.Data), c.End)
	}
	for _, n := range tr.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	clip := func(s string) string {
		if len(s) > 600 {
			return s[:600] + fmt.Sprintf("...(%d bytes)", len(s))
		}
		return s
	}
	fmt.Fprintf(&b, "  stdout (%d lines): %q\n  stderr: %q\n  status: %d", strings.Count(tr.Stdout, "\n"), clip(tr.Stdout), clip(tr.Stderr), tr.Status)
	return b.String()
}
