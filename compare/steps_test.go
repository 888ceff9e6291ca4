//go:build linux

package compare

// steps_test.go - the steps a scenario is written in, one constructor each, and the
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

	"golang.org/x/sys/unix"
)

// ---- the steps ----

// connStep is a step on the connection called name: what it does is f, given the
// connection; the step fails if no connection has that name.
func connStep(what, name string, f func(r *run, c *conn) error) step {
	return step{what, func(r *run) error {
		c, err := r.conn(name)
		if err != nil {
			return err
		}
		return f(r, c)
	}}
}

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
	return connStep("start reading "+name, name, func(r *run, c *conn) error {
		c.startReading(r)
		return nil
	})
}

// send writes p in one write call and waits until it is written.
func send(name string, p []byte) step {
	return connStep(fmt.Sprintf("send %d bytes on %s", len(p), name), name, func(r *run, c *conn) error {
		c.c.SetWriteDeadline(r.deadline)
		_, err := c.c.Write(p)
		return err
	})
}

// sendAsync writes p from a goroutine, for a write that blocks until the peer reads
// (a slow reader); awaitSent waits for it.
func sendAsync(name string, p []byte) step {
	return connStep(fmt.Sprintf("send %d bytes on %s in the background", len(p), name), name, func(r *run, c *conn) error {
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

func awaitSent(name string) step {
	return connStep("await the background send on "+name, name, func(r *run, c *conn) error {
		if c.sendDone == nil {
			return fmt.Errorf("no background send on %s", name)
		}
		if err := r.await(c.sendDone, "the background send on "+name+" did not finish"); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendErr
	})
}

// sendCorked writes the parts as separate write calls under TCP_CORK, so that they leave
// in one segment and arrive together: a message split across writes whose parts the
// server's one recv is sure to see together.
func sendCorked(name string, parts ...[]byte) step {
	return connStep(fmt.Sprintf("send %d corked parts on %s", len(parts), name), name, func(r *run, c *conn) error {
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
	})
}

// halfClose is shutdown(SHUT_WR): the server sees end of stream, the client still reads.
func halfClose(name string) step {
	return connStep("half-close "+name, name, func(r *run, c *conn) error {
		// ENOTCONN: the server already reset the connection (a one-shot server that
		// closes with unread bytes sends RST); the half-close has nothing left to do, and
		// the connection's ending records what happened.
		if err := control(c.c, func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) }); err != nil && !errors.Is(err, syscall.ENOTCONN) {
			return err
		}
		return nil
	})
}

// reset sets SO_LINGER to 0 and closes: the kernel sends RST instead of FIN.
func reset(name string) step {
	return connStep("reset "+name, name, func(r *run, c *conn) error {
		linger := &unix.Linger{Onoff: 1, Linger: 0}
		if err := control(c.c, func(fd int) error { return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, linger) }); err != nil {
			return err
		}
		return r.closeLocal(c)
	})
}

// closeConn closes the connection plainly (FIN; RST only if unread data remains).
func closeConn(name string) step {
	return connStep("close "+name, name, func(r *run, c *conn) error {
		return r.closeLocal(c)
	})
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
		if err := r.await(c.readDone, "reader of "+c.name+" did not stop"); err != nil {
			return err
		}
	}
	return err
}

// awaitEnd waits until the connection ended (EOF or reset from the server).
func awaitEnd(name string) step {
	return connStep("await the end of "+name, name, func(r *run, c *conn) error {
		c.startReading(r)
		// The reader closes readDone once it has recorded the ending: no polling.
		return r.await(c.readDone, "the end of "+name+" did not happen before the scenario's deadline")
	})
}

// awaitBytes waits until the connection received at least n bytes in all.
func awaitBytes(name string, n int) step {
	return connStep(fmt.Sprintf("await %d bytes on %s", n, name), name, func(r *run, c *conn) error {
		c.startReading(r)
		return r.waitFor(fmt.Sprintf("%d bytes on %s", n, name), func() bool {
			got, end := c.snapshot()
			return got >= n || end != ""
		})
	})
}

// expectOpenFor watches the connection for d and notes whether it stayed open and silent
// (no byte beyond the first `had`, no end) - "still open after a wait" in CONTRACT.md § Parity - or was
// answered, possibly before the watch began. It returns as soon as an answer is seen, so it
// costs d only where the server is silent.
func expectOpenFor(name string, d time.Duration, had int) step {
	return connStep(fmt.Sprintf("watch %s for %v", name, d), name, func(r *run, c *conn) error {
		c.startReading(r)
		quiet := !waitFor(time.Now().Add(d), func() bool { n, end := c.snapshot(); return n > had || end != "" })
		if quiet {
			r.note("%s: open and silent for %v", name, d)
		} else {
			r.note("%s: answered within %v", name, d)
		}
		return nil
	})
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
	return connStep(fmt.Sprintf("await a full receive queue on %s", name), name, func(r *run, c *conn) error {
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
	})
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
		measureUntil(end)
		after, err := cpuTime(pi.ServerPid())
		if err != nil {
			return err
		}
		used := after - before
		r.note("server CPU over %v below half: %v", d, used < d/2)
		return nil
	}}
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
