//go:build linux

// Package gosrv holds the pure-Go ports of the C reference servers in csrc/: one file per
// model with the C file's base name, the same steps in the same order, on raw system calls
// from golang.org/x/sys/unix (no net package). This file is the twin of csrc/common.c: the
// listening socket, waiting for readiness or a stop, the one-shot echo, and the log lines.
package gosrv

import (
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The wire protocol's constants, as in csrc/echo.h.
const (
	DefaultPort = 8080
	MaxConn     = 1024 // listen backlog, as in the seed
	MaxEvent    = 1024 // epoll_wait batch, as in the seed
	BufSize     = 512  // one-shot models answer with what one recv of this size returns
)

// Server is what a model serves with: csrc/echo.h's struct server, field for field.
// A model serves on ListenFd until StopFd turns readable, then closes every descriptor it
// opened and returns. It never exits the process, so it runs in the standalone server and
// inside a test alike.
type Server struct {
	ListenFd int // bound and listening (blocking); the model may change its flags
	StopFd   int // an eventfd: readable once the server must stop; never read it
	OutFd    int // log lines ("new conn", "recv_msg"): stdout in the standalone server
	ErrFd    int // error lines (perror format): stderr in the standalone server
}

// ignoringEINTR retries a system call that a signal interrupted: the one EINTR helper.
func ignoringEINTR(call func() error) error {
	for {
		if err := call(); err != unix.EINTR {
			return err
		}
	}
}

// IgnoringEINTR is ignoringEINTR for the commands (cmd/client): the same one idiom.
func IgnoringEINTR(call func() error) error { return ignoringEINTR(call) }

// OpenListener makes the listening socket: socket, SO_REUSEADDR, bind 0.0.0.0:port, listen,
// with the seed's error names. It returns -1 after logging a failure to errFd.
func OpenListener(port, errFd int) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		logErrno(errFd, "create_listenfd", err)
		return -1
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		logErrno(errFd, "setsockopt_listenfd", err)
		unix.Close(fd)
		return -1
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		logErrno(errFd, "bind_listenfd", err)
		unix.Close(fd)
		return -1
	}
	if err := unix.Listen(fd, MaxConn); err != nil {
		logErrno(errFd, "listen_listenfd", err)
		unix.Close(fd)
		return -1
	}
	return fd
}

// ListenerPort is the port the kernel chose when the server asked for port 0.
// It is getsockname(2) alone, as in C: x/sys's Getsockname adds a getsockopt(SO_PROTOCOL)
// for every AF_INET address (to tell L2TP sockets apart), a system call C does not make
// (TestSyscallSequence).
func ListenerPort(listenFd int) int {
	var rsa unix.RawSockaddrInet4
	rlen := uint32(unix.SizeofSockaddrInet4)
	_, _, errno := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(listenFd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&rlen)))
	if errno != 0 || rsa.Family != unix.AF_INET {
		return -1
	}
	p := (*[2]byte)(unsafe.Pointer(&rsa.Port)) // network byte order
	return int(p[0])<<8 | int(p[1])
}

// ParsePort reads a port from the command line: 1 to 5 decimal digits, 0 to 65535.
// It returns -1 otherwise.
func ParsePort(s string) int {
	if len(s) == 0 || len(s) > 5 {
		return -1
	}
	v := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	if v > 65535 {
		return -1
	}
	return v
}

// waitReadable blocks until fd is readable (data, end of stream or an error) or a stop is
// requested: 1 for fd, 0 for a stop, -1 on error. The blocking models' only addition to
// the seed, so that a blocked accept or recv can be stopped. A stop wins a tie.
func waitReadable(fd, stopFd int) (int, error) {
	pfd := []unix.PollFd{
		{Fd: int32(fd), Events: unix.POLLIN},
		{Fd: int32(stopFd), Events: unix.POLLIN},
	}
	if err := ignoringEINTR(func() error { _, err := poll(pfd, -1); return err }); err != nil {
		return -1, err
	}
	if pfd[1].Revents != 0 {
		return 0, nil
	}
	return 1, nil
}

// readableNow: fd is readable now (a zero-timeout poll: never blocks, a raw call).
func readableNow(fd int) bool {
	pfd := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	var n int
	ignoringEINTR(func() (err error) { n, err = raw.PollNow(pfd[:]); return err })
	return n > 0
}

// stopRequested looks at the stop eventfd without blocking, for loops that never block on
// it.
func stopRequested(stopFd int) bool {
	return readableNow(stopFd)
}

// ---- the accept step ----

// Every model accepts through acceptConn (uring through acceptResult, with what its
// io_uring completion reports), so every model treats accept's errors alike:
//
//   - EINTR: accept4 is called again at once.
//   - EAGAIN (EWOULDBLOCK): the queue is empty; only a non-blocking listener says so.
//     acceptEmpty: a model that drains the queue (epoll-et, sigio, nonblock) stops there.
//   - The errors accept(2) says to treat like EAGAIN and retry, because Linux reports on
//     accept a network error of the connection being accepted (ENETDOWN, EPROTO,
//     ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH), and
//     ECONNABORTED (a connection reset while it waited in the queue): that connection is
//     gone, the next may be fine. Not logged, as Go's net package and nginx do. acceptRetry.
//   - EMFILE, ENFILE: no descriptor is left for the connection, and it stays in the queue.
//     Accepting again at once would fail again (a level-triggered model would spin), and
//     accepting and closing it would turn its client away. So the model pauses: it stops
//     watching the listener, and watches it again as soon as a connection of its own has
//     closed, or after acceptPauseMs without one (a descriptor freed by another process),
//     as nginx does. The queued connections wait in the kernel's backlog meanwhile. One
//     line per episode, "accept_listenfd error: Too many open files" when it starts; the
//     episode ends with the accept that leaves the queue empty. acceptPaused.
//   - Anything else is logged, "accept_listenfd error: ...": acceptFailed.

// acceptor is what a model holds from start to stop to accept with (C: struct acceptor).
type acceptor struct {
	flags     int  // accept4's: SOCK_CLOEXEC, plus SOCK_NONBLOCK for the non-blocking models
	paused    bool // true from EMFILE/ENFILE until the model watches its listener again
	exhausted bool // true once this episode of descriptor exhaustion is logged
}

// acceptPauseMs is how long a paused model waits before it accepts again when none of
// its own connections closed meanwhile (the descriptor may be freed by another process).
const acceptPauseMs = 100

// What acceptConn returns when it returns no connection.
const (
	acceptEmpty  = -1 // nothing is queued (EAGAIN: only a non-blocking listener says so)
	acceptRetry  = -2 // nothing accepted, but more may be queued: call again
	acceptFailed = -3 // an error, logged as "accept_listenfd error: ..."

	acceptStopped = -4 // acceptBlocking only: a stop was requested
	acceptPaused  = -5 // EMFILE/ENFILE: stop watching the listener for now (a.paused)
)

// open readies a model's acceptor.
func (a *acceptor) open(flags int) {
	a.flags = flags
	a.paused = false
	a.exhausted = false
}

// pauseAccepting: descriptor exhaustion, a pause (see above), with one line per episode.
// accept4 takes a descriptor before it looks at the queue, so a non-blocking listener or
// an io_uring accept reports EMFILE for an empty queue too: then no connection waits, and
// no episode begins (but the pause stands: nothing could be accepted).
func pauseAccepting(srv *Server, a *acceptor, err unix.Errno) int {
	if !a.exhausted && readableNow(srv.ListenFd) {
		logErrno(srv.ErrFd, "accept_listenfd", err)
		a.exhausted = true
	}
	a.paused = true
	return acceptPaused
}

// acceptConn is accept4 on the listener with the acceptor's flags. It returns the
// connection and its peer, or acceptEmpty, acceptRetry, acceptFailed (see above).
func acceptConn(srv *Server, a *acceptor) (int, unix.SockaddrInet4) {
	var connFd int
	var peer unix.SockaddrInet4
	err := ignoringEINTR(func() (err error) { connFd, peer, err = accept4(srv.ListenFd, a.flags); return err })
	res := connFd
	if err != nil {
		res = -int(err.(unix.Errno))
	}
	return acceptResult(srv, a, res), peer
}

// acceptResult takes what an accept returned, as io_uring reports it: the connection, or
// -errno.
func acceptResult(srv *Server, a *acceptor, res int) int {
	if res >= 0 {
		// The episode ends once every connection that waited is accepted.
		if a.exhausted && !readableNow(srv.ListenFd) {
			a.exhausted = false
		}
		return res
	}
	switch err := unix.Errno(-res); err {
	case unix.EAGAIN:
		return acceptEmpty
	case unix.EINTR, unix.ECONNABORTED, unix.ENETDOWN, unix.EPROTO, unix.ENOPROTOOPT,
		unix.EHOSTDOWN, unix.ENONET, unix.EHOSTUNREACH, unix.EOPNOTSUPP, unix.ENETUNREACH:
		return acceptRetry
	case unix.EMFILE, unix.ENFILE:
		return pauseAccepting(srv, a, err)
	default:
		logErrno(srv.ErrFd, "accept_listenfd", err)
		return acceptFailed
	}
}

// acceptQueued is the draining models' accept (epoll-et, sigio, nonblock): the next queued
// connection, accepted past acceptRetry, with its "new conn IP:PORT" line written. It
// returns it, or acceptEmpty once the queue is drained, acceptPaused at the descriptor
// limit, or acceptFailed (logged).
func acceptQueued(srv *Server, a *acceptor) int {
	for {
		connFd, peer := acceptConn(srv, a)
		if connFd == acceptRetry {
			continue
		}
		if connFd >= 0 {
			logNewConn(srv.OutFd, peer, false)
		}
		return connFd
	}
}

// acceptBlocking is the blocking models' accept (iterative, thread): it blocks until a
// connection is accepted and returns it, with its "new conn(IP:PORT)" line written. accept
// itself would block where no stop could wake it; waiting in poll on the listener and the
// stop eventfd instead (waitReadable) lets a stop end the wait: acceptStopped.
// acceptFailed: poll failed ("poll_listenfd error: ..."). An accept that yields no
// connection (an error, logged or retried) is followed by another wait; at the descriptor
// limit (acceptPaused) that wait is on the stop eventfd alone, for acceptPauseMs: a
// blocking model's connections close on other threads (thread) or before the next accept
// (iterative), so only the pause's end can tell it to look again.
func acceptBlocking(srv *Server, a *acceptor) int {
	for {
		ready, err := waitReadable(srv.ListenFd, srv.StopFd)
		if ready == 0 {
			return acceptStopped
		}
		if ready < 0 {
			logErrno(srv.ErrFd, "poll_listenfd", err)
			return acceptFailed
		}
		connFd, peer := acceptConn(srv, a)
		if connFd == acceptPaused {
			pfd := []unix.PollFd{{Fd: int32(srv.StopFd), Events: unix.POLLIN}}
			if err := ignoringEINTR(func() error { _, err := poll(pfd, acceptPauseMs); return err }); err != nil {
				logErrno(srv.ErrFd, "poll_listenfd", err)
				return acceptFailed
			}
			a.paused = false // a stop is seen by the next wait
			continue
		}
		if connFd < 0 {
			continue // nothing accepted: wait again
		}
		logNewConn(srv.OutFd, peer, true)
		return connFd
	}
}

// echoOnce is the one-shot protocol: one recv of at most BufSize bytes, log it, send it
// back, half-close, close. As in C: a failed recv is reported, and MSG_NOSIGNAL turns a
// send to a reset peer into EPIPE instead of SIGPIPE. Every caller has just been told
// connFd is readable, so the recv does not wait (Go only: a raw call, rawcalls.go).
func echoOnce(srv *Server, connFd int) {
	var buf [BufSize]byte
	var n int
	err := ignoringEINTR(func() (err error) { n, err = raw.Recv(connFd, buf[:], 0); return err })
	echoReply(srv, connFd, buf[:], n, err, blocking)
}

// echoReply is the one-shot protocol's second half, after echoOnce's recv or one a model
// made itself (nonblock must see EAGAIN before anything is logged): n and err are what that
// recv returned. Then: log, send, half-close, close. The send cannot meet EAGAIN on
// a non-blocking socket: a connection that has sent nothing yet has an empty send buffer,
// larger than BufSize. C: echo_reply. Go only: mode says whether connFd is O_NONBLOCK,
// which makes its send a raw call (rawcalls.go).
func echoReply(srv *Server, connFd int, buf []byte, n int, err error, mode connMode) {
	if err != nil {
		logErrno(srv.ErrFd, "recv_connfd", err)
		raw.Close(connFd)
		return
	}
	LogMsg(srv.OutFd, "recv_msg: ", buf[:n])
	if err := ignoringEINTR(func() (err error) { _, err = mode.send(connFd, buf[:n], unix.MSG_NOSIGNAL); return err }); err != nil {
		logErrno(srv.ErrFd, "send_connfd", err)
		raw.Close(connFd)
		return
	}
	// Its error is not logged: the peer may reset between send and shutdown, and the
	// close that follows ends the connection either way.
	raw.Shutdown(connFd, unix.SHUT_WR)
	raw.Close(connFd)
}

// connMode is whether a connection is O_NONBLOCK (Go only: for rawcalls.go's rule).
type connMode bool

const (
	blocking    connMode = false // accepted without SOCK_NONBLOCK: its send may wait
	nonblocking connMode = true  // SOCK_NONBLOCK: EAGAIN instead of a wait, a raw call
)

// send is send(2) through unix.Syscall on a blocking connection, raw on a non-blocking one.
func (mode connMode) send(fd int, p []byte, flags int) (int, error) {
	if mode == nonblocking {
		return raw.Send(fd, p, flags)
	}
	return send(fd, p, flags)
}

// ---- the descriptors a model must close when it stops ----

// fdSet is the set of open descriptors a model must close when it stops (C: struct fdset):
// a table indexed by descriptor, grown as C's (64 entries, doubled until fd fits). Walked
// from 0 up, it gives the descriptors by ascending number, as C's.
type fdSet struct{ open []bool }

func (s *fdSet) add(fd int) {
	if fd >= len(s.open) {
		n := max(len(s.open), 64)
		for n <= fd {
			n *= 2
		}
		s.open = append(s.open, make([]bool, n-len(s.open))...)
	}
	s.open[fd] = true
}

func (s *fdSet) del(fd int) {
	if fd < len(s.open) {
		s.open[fd] = false
	}
}

// has: fd is in the set.
func (s *fdSet) has(fd int) bool { return fd >= 0 && fd < len(s.open) && s.open[fd] }

func (s *fdSet) closeAll() {
	for fd, open := range s.open {
		if open {
			unix.Close(fd)
		}
	}
	s.open = nil
}

// OpenRuntimeFds makes the Go runtime create, now, the two descriptors its network poller
// holds (runtime/netpoll_epoll.go: an epoll instance, then an eventfd), which it would
// otherwise create the first time a timer is set: its memory scavenger sets one sooner or
// later in any program, at a moment nobody chooses, and with no descriptor free then the
// process dies ("fatal error: runtime: netpollinit failed"). Setting a timer (a func
// timer, which the runtime puts in its heap at once) is what makes it create them. The C
// server opens the same two kinds at the same point (open_runtime_fds in csrc/common.c,
// which says why), so both number their descriptors alike: 3 epoll, 4 eventfd, 5 the stop
// eventfd, 6 the listener, then the model's own, the connections. After this the
// runtime opens no descriptor (the cgroup CPU-quota files it reads at start are closed
// at start too: //go:debug containermaxprocs=0 in cmd/server).
func OpenRuntimeFds() {
	time.AfterFunc(time.Hour, func() {}).Stop()
}

// ---- log lines: one write(2) each, as in C ----

// A log stream nobody reads must not keep the server from stopping. The standalone server
// gives its stdout and stderr, when they are pipes or terminals, an open file description
// of their own with O_NONBLOCK (LogNonblocking: reopened through /proc/self/fd, never
// O_NONBLOCK set on the description it shares with other processes), and names its stop
// eventfd (LogStopOn): a write that meets EAGAIN waits in poll for room or a stop, and a
// line a stop cut short is counted, not written (LogLost). A regular file or a socket is
// left as it is. C: log_nonblocking, log_stop_on, log_lost_lines.
var (
	logStopFd = -1 // set once, before any model runs
	logLost   atomic.Uint64
	// logNoWait[fd]: fd (1 or 2) has the description LogNonblocking gave it, where a write
	// never waits (EAGAIN instead), so emit writes it with a raw call (rawcalls.go). Set
	// once, before any model runs.
	logNoWait [3]bool
)

// LogNonblocking gives fd (1 or 2) a non-blocking description of its own, if it is a pipe
// or a terminal.
func LogNonblocking(fd int) {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH); err != nil || (st.Mode&unix.S_IFMT != unix.S_IFIFO && st.Mode&unix.S_IFMT != unix.S_IFCHR) {
		return
	}
	// A pipe with no reader left refuses it (ENXIO): fd stays, and its first line dies of
	// SIGPIPE.
	nfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	if unix.Dup3(nfd, fd, 0) == nil && fd < len(logNoWait) {
		logNoWait[fd] = true
	}
	unix.Close(nfd)
}

// LogStopOn names the stop eventfd a stalled log write waits on besides its stream.
func LogStopOn(stopFd int) { logStopFd = stopFd }

// LogLost is how many lines a stop cut short.
func LogLost() uint64 { return logLost.Load() }

// waitLogRoom: fd has room for a line again (true), or a stop came first (false). A reader
// gone (POLLERR) counts as room: the write that follows meets EPIPE.
func waitLogRoom(fd int) bool {
	pfd := []unix.PollFd{
		{Fd: int32(fd), Events: unix.POLLOUT},
		{Fd: int32(logStopFd), Events: unix.POLLIN}, // -1 (none): poll skips it
	}
	if err := ignoringEINTR(func() error { _, err := poll(pfd, -1); return err }); err != nil || pfd[1].Revents != 0 {
		return false
	}
	return true
}

// emit writes the whole line; a log write that fails has nowhere to be reported. A stream
// nobody reads: see LogNonblocking. EPIPE on fd 1 or 2 is death by SIGPIPE, the Unix
// convention, as the os package does for os.Stdout and os.Stderr, with the connections
// aborted first (DieOfSigpipe; the standalone server's runtime hands the kernel's SIGPIPE
// to a goroutine that does the same). A line is under PIPE_BUF: a pipe takes it whole or
// answers EAGAIN. C: emit, die_of_sigpipe.
func emit(fd int, line []byte) {
	line = append(line, '\n')
	for len(line) > 0 {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = logWrite(fd, line); return err })
		if err == unix.EAGAIN {
			if waitLogRoom(fd) {
				continue
			}
			logLost.Add(1)
			return
		}
		if err == unix.EPIPE && (fd == 1 || fd == 2) {
			DieOfSigpipe()
		}
		if err != nil || n <= 0 {
			return
		}
		line = line[n:]
	}
}

// logWrite is write(2) of a log line: raw where fd cannot wait (logNoWait), through the
// runtime where it can (a regular file, a socket, a descriptor an in-process host gave).
func logWrite(fd int, line []byte) (int, error) {
	if fd >= 0 && fd < len(logNoWait) && logNoWait[fd] {
		return raw.Write(fd, line)
	}
	return unix.Write(fd, line)
}

func appendIPv4(b []byte, addr [4]byte) []byte {
	for i, octet := range addr {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(octet), 10)
	}
	return b
}

func logListening(errFd, port int) {
	emit(errFd, strconv.AppendInt([]byte("listening on 0.0.0.0:"), int64(port), 10))
}

// logNewConn writes "new conn(IP:PORT)" for the blocking models, "new conn IP:PORT" for
// the others.
func logNewConn(outFd int, peer unix.SockaddrInet4, parens bool) {
	var ipPort [len("255.255.255.255:65535")]byte
	p := appendIPv4(ipPort[:0], peer.Addr)
	p = append(p, ':')
	p = strconv.AppendInt(p, int64(peer.Port), 10)
	emit(outFd, appendNewConn(make([]byte, 0, 48), parens, p))
}

// appendNewConn appends the line of a new connection from peer (IP:PORT), without its
// newline: "new conn(IP:PORT)" when parens (the table's ConnParens), else
// "new conn IP:PORT". It is the one formatter of that line in Go but the fork child's
// allocation-free writer.
func appendNewConn(b []byte, parens bool, peer []byte) []byte {
	if parens {
		b = append(b, "new conn("...)
		b = append(b, peer...)
		return append(b, ')')
	}
	b = append(b, "new conn "...)
	return append(b, peer...)
}

// LogMsg writes "PREFIXMSG" ("recv_msg: ", "echo_msg: "), MSG cut at its first NUL byte
// as C's printf("%s") would.
func LogMsg(fd int, prefix string, msg []byte) {
	for i, c := range msg {
		if c == 0 {
			msg = msg[:i]
			break
		}
	}
	line := make([]byte, 0, len(prefix)+len(msg)+1)
	line = append(line, prefix...)
	emit(fd, append(line, msg...))
}

// LogLine writes one line of text.
func LogLine(fd int, text string) {
	emit(fd, append(make([]byte, 0, len(text)+1), text...))
}

// logErrno writes perror's format, "WHAT error: MESSAGE", with glibc's message text.
func logErrno(errFd int, what string, err error) {
	LogLine(errFd, what+" error: "+Strerror(err))
}

// Strerror is glibc's text for err (strerror in the C locale), not Go's lower-case one.
func Strerror(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	if msg, ok := glibcErrors[int(errno)]; ok {
		return msg
	}
	return "Unknown error " + strconv.Itoa(int(errno))
}

// ---- Go only ----

// send is send(2) with its byte count: x/sys/unix's Sendto drops the count, which a
// partial send on a non-blocking socket needs, and SendmsgN would be a different system
// call from C's send (sendto).
func send(fd int, p []byte, flags int) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(first(p)), uintptr(len(p)), uintptr(flags), 0, 0)
	return result(n, errno)
}

// first is the address of s's first element, nil for an empty s: the buffer argument of
// poll, epoll_wait and sendto above. The conversion to uintptr stays in the call
// expression, as unsafe.Pointer's rules for system calls require.
func first[T any](s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}

// result is a raw system call's return as Go's (count, error).
func result(n uintptr, errno unix.Errno) (int, error) {
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// accept4 is accept4(2) for the IPv4 listener, with the peer's address. x/sys/unix's
// Accept4 converts the address with anyToSockaddr, which for AF_INET asks the kernel for
// the socket's protocol (getsockopt SO_PROTOCOL, to tell L2TP apart): one more system
// call per connection than C's accept4, and a heap-allocated Sockaddr. This one returns
// the address by value (no allocation) and is a raw call: the listener is non-blocking,
// or its model has just been told it is readable (rawcalls.go).
func accept4(listenFd, flags int) (int, unix.SockaddrInet4, error) {
	var rsa unix.RawSockaddrInet4
	rlen := uint32(unix.SizeofSockaddrInet4)
	fd, errno := rawSyscall6(unix.SYS_ACCEPT4, uintptr(listenFd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&rlen)), uintptr(flags), 0, 0)
	if errno != 0 {
		return -1, unix.SockaddrInet4{}, errno
	}
	p := (*[2]byte)(unsafe.Pointer(&rsa.Port)) // network byte order
	port := int(p[0])<<8 | int(p[1])
	return int(fd), unix.SockaddrInet4{Port: port, Addr: rsa.Addr}, nil
}

// timeSlice ends the serving goroutine's time slice in the Go scheduler every few
// milliseconds; a model's loop calls yield once per turn. C has no scheduler between its
// loop and the kernel, so the C twins have no counterpart.
//
// Why (runtime/proc.go, Go 1.26): a model's loop never blocks in the scheduler. Its
// system calls go through entersyscall/exitsyscall, which keep the P, so the P's
// schedtick never moves, and sysmon's retake treats a P whose schedtick has not moved for
// forcePreemptNS (10 ms) as running one goroutine too long. In Go code it preempts it
// (preemptone: a SIGURG, then gosched); in a system call, where this loop spends most of
// its time, it takes the P away (takeP, handoffp), and handoffp, seeing the last running
// P and nobody in netpoll, starts another M for it (a futex wake) that finds nothing and
// sleeps again, while the loop comes back from epoll_wait without a P and goes on from
// another thread. Each such retake also resets sysmon's sleep to its shortest, so it wakes
// many more times before backing off to its longest again (what that cost, before and
// after this type: compare/cmd/benchreport/README.md, "The time slice"). runtime.Gosched every 5 ms moves
// schedtick before the 10 ms are up: no retake, sysmon stays at its 10 ms sleep. It costs
// a monotonic clock read per turn (time.Since: one vDSO call, where time.Now makes two,
// the wall clock too; no system call) and, every 5 ms, one wakep (a futex wake of an idle
// M, which finds no work or takes the goroutine to its own thread; with one P, as nonblock
// runs standalone, there is no idle P and nobody is woken). A goroutine locked to its
// thread (sigio, uring) pays two wake-ups instead: its M hands the P on (stoplockedm) and
// is handed it back (startlockedm); it stays on its thread throughout.
type timeSlice struct{ start time.Time }

const timeSliceLen = 5 * time.Millisecond // half of sysmon's forcePreemptNS

// rested: the loop's wait timed out (a pause at the descriptor limit), so it ran nothing
// meanwhile: its slice starts over, rather than ending in a Gosched with nothing to give
// way to, which wakes another thread for nothing (compare/cmd/benchreport/README.md, "At the descriptor limit").
func (ts *timeSlice) rested() { ts.start = time.Now() }

func (ts *timeSlice) yield() {
	if time.Since(ts.start) >= timeSliceLen {
		ts.start = time.Now()
		runtime.Gosched()
	}
}
