//go:build linux

package engine

// steps.go - the steps a scenario is written in, one constructor each, and the
// composite steps built from them. Every wait polls a condition until it holds or the
// run's deadline passes.

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/iomodels/iomodels/internal/procfs"
	"golang.org/x/sys/unix"
)

// ---- the steps ----

// ConnStep is a step on the connection called name: what it does is f, given the
// connection; the step fails if no connection has that name.
func ConnStep(what, name string, f func(r *Run, c *Conn) error) Step {
	return Step{Desc: what, Do: func(r *Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		return f(r, c)
	}}
}

// Connect opens a connection and starts reading it at once.
func Connect(name string) Step { return connectOpt(name, true) }

// ConnectQuiet opens a connection that reads nothing until startReading: a slow reader.
func ConnectQuiet(name string) Step { return connectOpt(name, false) }

func connectOpt(name string, read bool) Step {
	return Step{Desc: "connect " + name, Do: func(r *Run) error {
		if _, dup := r.conns[name]; dup {
			return fmt.Errorf("connection %q declared twice", name)
		}
		d := net.Dialer{Deadline: r.deadline}
		nc, err := d.Dial("tcp4", net.JoinHostPort(r.Host(), strconv.Itoa(r.target.Port())))
		if err != nil {
			return err
		}
		tc := nc.(*net.TCPConn)
		c := &Conn{name: name, c: tc, port: tc.LocalAddr().(*net.TCPAddr).Port,
			readDone: make(chan struct{})}
		r.conns[name] = c
		r.names = append(r.names, name)
		if read {
			c.StartReading(r)
		}
		return nil
	}}
}

// HighFd is where connectHigh numbers its client sockets from: above every descriptor a
// server under test is given (FD_SETSIZE and a margin).
const HighFd = 2048

// ConnectHigh opens the connections, quiet, with their client sockets numbered from highFd
// up: every socket is made (socket(2), then moved up with F_DUPFD_CLOEXEC) before the first
// one connects. In process the clients share the server's descriptor table, and a client
// socket that takes the lowest free number races the server's accept4 for it; placed high,
// the clients leave the server's numbering to the order of connection alone, as in a
// standalone server.
func ConnectHigh(names ...string) Step {
	return Step{Desc: fmt.Sprintf("connect %d connections numbered from descriptor %d", len(names), HighFd), Do: func(r *Run) error {
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
			high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, HighFd)
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("fcntl F_DUPFD_CLOEXEC from %d (is RLIMIT_NOFILE above %d?): %w", HighFd, HighFd+len(names), err)
			}
			fds = append(fds, high)
		}
		server := &unix.SockaddrInet4{Port: r.target.Port()}
		copy(server.Addr[:], net.ParseIP(r.Host()).To4())
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
			c := &Conn{name: name, c: os.NewFile(uintptr(fds[i]), name), port: port, readDone: make(chan struct{})}
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

// ConnectRcvbuf opens a quiet connection whose SO_RCVBUF is set to size before the
// connect (the window it advertises is fixed at the handshake): a small one makes the
// server's sends meet a full window soon.
func ConnectRcvbuf(name string, size int) Step {
	return Step{Desc: fmt.Sprintf("connect %s with SO_RCVBUF %d", name, size), Do: func(r *Run) error {
		d := net.Dialer{Deadline: r.Deadline(), Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
			}); err != nil {
				return err
			}
			return os.NewSyscallError("setsockopt SO_RCVBUF", serr)
		}}
		nc, err := d.Dial("tcp4", net.JoinHostPort(r.Host(), strconv.Itoa(r.Target().Port())))
		if err != nil {
			return err
		}
		tc := nc.(*net.TCPConn)
		_, err = r.AddConn(name, tc, tc.LocalAddr().(*net.TCPAddr).Port, false)
		if err != nil {
			tc.Close()
		}
		return err
	}}
}

// StartReading makes a quiet connection read from now on.
func StartReading(name string) Step {
	return ConnStep("start reading "+name, name, func(r *Run, c *Conn) error {
		c.StartReading(r)
		return nil
	})
}

// Send writes p in one write call and waits until it is written.
func Send(name string, p []byte) Step {
	return ConnStep(fmt.Sprintf("send %d bytes on %s", len(p), name), name, func(r *Run, c *Conn) error {
		c.c.SetWriteDeadline(r.deadline)
		_, err := c.c.Write(p)
		return err
	})
}

// SendAsync writes p from a goroutine, for a write that blocks until the peer reads
// (a slow reader); awaitSent waits for it.
func SendAsync(name string, p []byte) Step {
	return ConnStep(fmt.Sprintf("send %d bytes on %s in the background", len(p), name), name, func(r *Run, c *Conn) error {
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
	})
}

func AwaitSent(name string) Step {
	return ConnStep("await the background send on "+name, name, func(r *Run, c *Conn) error {
		if c.sendDone == nil {
			return fmt.Errorf("no background send on %s", name)
		}
		if err := r.Await(c.sendDone, "the background send on "+name+" did not finish"); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendErr
	})
}

// SendCorked writes the parts as separate write calls under TCP_CORK, so that they leave
// in one segment and arrive together: a message split across writes whose parts the
// server's one recv is sure to see together.
func SendCorked(name string, parts ...[]byte) Step {
	return ConnStep(fmt.Sprintf("send %d corked parts on %s", len(parts), name), name, func(r *Run, c *Conn) error {
		setCork := func(on int) error {
			return Control(c.c, func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, on) })
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
	})
}

// SendHalfClose writes p and half-closes under TCP_CORK: the bytes and the FIN leave in
// one segment, so the server cannot read (and answer, and close) between the write and
// the half-close, whose outcome is then certain.
func SendHalfClose(name string, p []byte) Step {
	return ConnStep(fmt.Sprintf("send %d bytes on %s and half-close, in one segment", len(p), name), name, func(r *Run, c *Conn) error {
		if err := Control(c.c, func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, 1) }); err != nil {
			return err
		}
		c.c.SetWriteDeadline(r.deadline)
		if _, err := c.c.Write(p); err != nil {
			return err
		}
		// The FIN joins the corked bytes in the last segment, which the kernel then sends.
		return Control(c.c, func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) })
	})
}

// HalfClose is shutdown(SHUT_WR): the server sees end of stream, the client still reads.
func HalfClose(name string) Step {
	return ConnStep("half-close "+name, name, func(r *Run, c *Conn) error {
		// ENOTCONN: the server reset the connection first (a one-shot server that closes
		// with unread bytes sends RST). Not an error of the run, but an outcome: noted, so
		// that the runs compare it.
		err := Control(c.c, func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) })
		if errors.Is(err, syscall.ENOTCONN) {
			r.Note("%s: half-close: the connection was already reset (ENOTCONN)", name)
			return nil
		}
		return err
	})
}

// Reset sets SO_LINGER to 0 and closes: the kernel sends RST instead of FIN.
func Reset(name string) Step {
	return ConnStep("reset "+name, name, func(r *Run, c *Conn) error {
		linger := &unix.Linger{Onoff: 1, Linger: 0}
		if err := Control(c.c, func(fd int) error { return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, linger) }); err != nil {
			return err
		}
		return r.CloseLocal(c)
	})
}

// Close closes the connection plainly (FIN; RST only if unread data remains).
func Close(name string) Step {
	return ConnStep("close "+name, name, func(r *Run, c *Conn) error {
		return r.CloseLocal(c)
	})
}

// CloseLocal closes c from the client side and waits for its reader to stop, so that its
// ending is recorded as "closed" before the next step.
func (r *Run) CloseLocal(c *Conn) error {
	c.mu.Lock()
	c.closedByU = true
	reading := c.reading
	c.mu.Unlock()
	err := c.c.Close()
	if reading {
		if err := r.Await(c.readDone, "reader of "+c.name+" did not stop"); err != nil {
			return err
		}
	}
	return err
}

// AwaitEnd waits until the connection ended (EOF or reset from the server).
func AwaitEnd(name string) Step {
	return ConnStep("await the end of "+name, name, func(r *Run, c *Conn) error {
		c.StartReading(r)
		// The reader closes readDone once it has recorded the ending: no polling.
		return r.Await(c.readDone, "the end of "+name+" did not happen before the scenario's deadline")
	})
}

// AwaitBytes waits until the connection received at least n bytes in all.
func AwaitBytes(name string, n int) Step {
	return ConnStep(fmt.Sprintf("await %d bytes on %s", n, name), name, func(r *Run, c *Conn) error {
		c.StartReading(r)
		return r.WaitFor(fmt.Sprintf("%d bytes on %s", n, name), func() bool {
			got, end := c.Snapshot()
			return got >= n || end != ""
		})
	})
}

// ExpectOpenFor watches the connection for d and notes whether it stayed open and silent
// (no byte beyond the first `had`, no end) - "still open after a wait" in CONTRACT.md § Parity - or was
// answered, possibly before the watch began. It returns as soon as an answer is seen, so it
// costs d only where the server is silent.
func ExpectOpenFor(name string, d time.Duration, had int) Step {
	return ConnStep(fmt.Sprintf("watch %s for %v", name, d), name, func(r *Run, c *Conn) error {
		c.StartReading(r)
		quiet := !WaitFor(time.Now().Add(d), func() bool { n, end := c.Snapshot(); return n > had || end != "" })
		if quiet {
			r.Note("%s: open and silent for %v", name, d)
		} else {
			r.Note("%s: answered within %v", name, d)
		}
		return nil
	})
}

func CountLines(b []byte) int { return bytes.Count(b, []byte("\n")) }

// AwaitStdoutLines waits until the server's stdout holds at least n lines.
func AwaitStdoutLines(n int) Step {
	return Step{Desc: fmt.Sprintf("await %d stdout lines", n), Do: func(r *Run) error {
		return r.awaitLines("stdout", n, r.target.Stdout)
	}}
}

// AwaitStderrLines waits until the server's stderr holds at least n lines, counting the
// "listening on" line (after the normalisers, as AwaitStdoutLines).
func AwaitStderrLines(n int) Step {
	return Step{Desc: fmt.Sprintf("await %d stderr lines", n), Do: func(r *Run) error {
		return r.awaitLines("stderr", n, r.target.Stderr)
	}}
}

// ErrNoLogLine: a wait for log lines gave up because the server's logs stayed as they
// were for Options.LogWait: the server does not write the line the scenario waits for.
var ErrNoLogLine = errors.New("the server's log did not reach the line awaited")

// awaitLines waits until the server's log holds n lines as they are compared: after the
// normalisers, which may drop lines (a normaliser does not add any, so the raw count is
// looked at first).
func (r *Run) awaitLines(which string, n int, log func() []byte) error {
	what := fmt.Sprintf("%d lines on the server's %s", n, which)
	enough := func() bool {
		b := log()
		if CountLines(b) < n {
			return false
		}
		text := string(b)
		for _, nz := range r.normalize {
			text = nz(text, r)
		}
		return CountLines([]byte(text)) >= n
	}
	if r.logWait <= 0 {
		return r.WaitFor(what, enough)
	}
	last, since, gaveUp := r.logSize(), time.Now(), false
	err := r.WaitFor(what, func() bool {
		if enough() {
			return true
		}
		if size := r.logSize(); size != last {
			last, since = size, time.Now()
		}
		gaveUp = time.Since(since) >= r.logWait
		return gaveUp
	})
	if err == nil && gaveUp {
		return fmt.Errorf("%w: %s holds %d lines, unchanged (stdout and stderr) for %v", ErrNoLogLine, which, CountLines(log()), r.logWait)
	}
	return err
}

// LogOrderedSoFar marks the server's stdout so far as ordered: with unorderedLog, only the
// lines after this point are compared as a sorted set (the accept order of a thread model
// is defined, the order in which its threads answer is not).
func LogOrderedSoFar() Step {
	return Step{Desc: "mark the stdout so far as ordered", Do: func(r *Run) error {
		r.orderedLines = CountLines(r.target.Stdout())
		return nil
	}}
}

// ServerPid is the process that runs the server: this one for an in-process server.
func (r *Run) ServerPid() (int, error) {
	pi, ok := r.target.(ServerProcess)
	if !ok {
		return 0, errors.New("target has no process to look at")
	}
	return pi.ServerPid(), nil
}

// RequireNofile fails unless the server's process may open n descriptors (its soft
// RLIMIT_NOFILE): a scenario that must run into FD_SETSIZE must not run into EMFILE first.
// Go's runtime raises its soft limit to the hard one, and so does the C server.
func RequireNofile(n uint64) Step {
	return Step{Desc: fmt.Sprintf("require RLIMIT_NOFILE of at least %d", n), Do: func(r *Run) error {
		pid, err := r.ServerPid()
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

// AwaitThreads waits until the server's process has more than n threads: a model with a
// thread per connection holds one for each of n open connections, beside its own.
func AwaitThreads(n int) Step {
	return Step{Desc: fmt.Sprintf("await more than %d threads", n), Do: func(r *Run) error {
		pid, err := r.ServerPid()
		if err != nil {
			return err
		}
		return r.WaitFor(fmt.Sprintf("more than %d threads in the server's process", n), func() bool {
			return procfs.Threads(pid) > n
		})
	}}
}

// AwaitUnreadStable waits until a quiet connection's receive queue holds at least min
// bytes and has stopped growing for a while: every buffer between the server and this
// client is then full, so the server's send has met EAGAIN (or blocked).
func AwaitUnreadStable(name string, min int) Step {
	return ConnStep(fmt.Sprintf("await a full receive queue on %s", name), name, func(r *Run, c *Conn) error {
		var ioctlErr error
		last, since := -1, time.Now()
		if err := r.WaitFor("a full, stable receive queue on "+name, func() bool {
			var n int
			if ioctlErr = Control(c.c, func(fd int) (err error) { n, err = unix.IoctlGetInt(fd, unix.SIOCINQ); return err }); ioctlErr != nil {
				return true
			}
			if n != last {
				last, since = n, time.Now()
				return false
			}
			return n >= min && time.Since(since) >= 50*time.Millisecond
		}); err != nil {
			return err
		}
		return os.NewSyscallError("ioctl SIOCINQ", ioctlErr)
	})
}

// StopServer stops the server in the middle of a scenario (connections may still be open):
// what SIGTERM does to the standalone server.
func StopServer() Step {
	return Step{Desc: "stop the server", Do: func(r *Run) error {
		r.awaitQuiet()
		status, err := r.target.Stop()
		r.stopped, r.status = true, status
		return err
	}}
}

// ---- composite steps ----

// Client is the seed's Client: connect, send msg, half-close, read to the end.
func Client(name string, msg []byte) []Step {
	return []Step{Connect(name), Send(name, msg), HalfClose(name), AwaitEnd(name)}
}

func Seq(parts ...any) []Step {
	var out []Step
	for _, p := range parts {
		switch v := p.(type) {
		case Step:
			out = append(out, v)
		case []Step:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return out
}

// Payload is n seeded pseudo-random bytes: the same for every run and implementation.
func Payload(seed uint64, n int) []byte {
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 'i', 'o'}))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.UintN(256))
	}
	return p
}

// Text is n printable bytes without NUL, for messages whose log line must show them whole.
func Text(seed uint64, n int) []byte {
	p := Payload(seed, n)
	for i := range p {
		p[i] = 'a' + p[i]%26
	}
	return p
}
