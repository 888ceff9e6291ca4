//go:build linux

package gosrv

// epoll_et.go - I/O multiplexing with epoll, edge-triggered (seed: epoll多路复用IO, ET模式).
//
// Edge-triggered epoll reports a descriptor once per change of state (new bytes, new
// connections, freed send space), not for as long as it stays ready, so every descriptor is
// non-blocking and every wake-up drains it: accept until EAGAIN, recv until EAGAIN. The
// protocol is a stream: whatever arrives is echoed, chunk by chunk, for as long as the peer
// keeps the connection open, through a buffer as large as the listener's SO_RCVBUF. Where
// the seed closed without echoing the chunk read with end of stream, stopped reading at a
// full buffer and spun on a send that returned EAGAIN, this server echoes every chunk,
// reads until EAGAIN, and keeps the unsent bytes while the connection waits for EPOLLOUT
// instead of EPOLLIN: backpressure instead of a busy loop. Go only: raw.* are the calls
// that cannot wait (rawcalls.go), slice.yield the scheduler's time slice (timeSlice in
// common.go). C twin: csrc/epoll_et.c.

import "golang.org/x/sys/unix"

type conn struct {
	pending []byte // echo bytes that send could not take yet, or nil
}

// connTable is the connections indexed by descriptor (C: struct conns), grown as C's (64
// entries, doubled until fd fits).
type connTable struct {
	tab    []*conn
	closed int // connections closed since the loop last looked
}

func connNew(cs *connTable, fd int) *conn {
	if fd >= len(cs.tab) {
		n := max(len(cs.tab), 64)
		for n <= fd {
			n *= 2
		}
		cs.tab = append(cs.tab, make([]*conn, n-len(cs.tab))...)
	}
	cs.tab[fd] = &conn{}
	return cs.tab[fd]
}

func setEvents(epollFd, op, fd int, events uint32) error {
	return raw.EpollCtl(epollFd, op, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)})
}

// connClose closes fd, which also removes it from the epoll set.
func connClose(cs *connTable, fd int) {
	cs.tab[fd] = nil
	raw.Close(fd)
	cs.closed++
}

// step: keep what send cannot take
// sendOrKeep sends buf; what the socket cannot take now is kept in c.pending.
func sendOrKeep(c *conn, fd int, buf []byte) error {
	for len(buf) > 0 {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = raw.Send(fd, buf, unix.MSG_NOSIGNAL); return err })
		if err == unix.EAGAIN {
			c.pending = append([]byte(nil), buf...)
			return nil
		}
		if err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// flushPending sends what was kept back; c.pending tells whether some remains.
func flushPending(c *conn, fd int) error {
	for len(c.pending) > 0 {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = raw.Send(fd, c.pending, unix.MSG_NOSIGNAL); return err })
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil {
			return err
		}
		c.pending = c.pending[n:]
	}
	c.pending = nil
	return nil
}

// step: accept
// epollETAcceptAll accepts until the queue is empty (EAGAIN): one edge may stand for many
// queued connections. At the descriptor limit (acceptPaused) the rest stay queued: no edge
// will tell of them, so the loop calls this again when a connection closes or the pause
// ends.
func epollETAcceptAll(srv *Server, acc *acceptor, epollFd int, cs *connTable) {
	for {
		connFd := acceptQueued(srv, acc)
		if connFd < 0 {
			return // acceptEmpty: drained; acceptPaused, acceptFailed: logged
		}
		connNew(cs, connFd)
		if err := setEvents(epollFd, unix.EPOLL_CTL_ADD, connFd, unix.EPOLLIN|unix.EPOLLET); err != nil {
			logErrno(srv.ErrFd, "addevent_epollfd", err)
			connClose(cs, connFd)
		}
	}
}

// step: serve
// echoStream reads until EAGAIN, echoing each chunk; it stops reading while an echo waits
// for space.
func echoStream(srv *Server, epollFd int, cs *connTable, fd int, buf []byte) {
	c := cs.tab[fd]
	if c.pending != nil {
		if err := flushPending(c, fd); err != nil {
			logErrno(srv.ErrFd, "send_connfd", err)
			connClose(cs, fd)
			return
		}
		if c.pending != nil {
			return // still full: wait for the next EPOLLOUT edge
		}
		// MOD re-checks readiness: bytes that came meanwhile raise a new EPOLLIN event.
		if err := setEvents(epollFd, unix.EPOLL_CTL_MOD, fd, unix.EPOLLIN|unix.EPOLLET); err != nil {
			logErrno(srv.ErrFd, "modevent_epollfd", err)
			connClose(cs, fd)
		}
		return
	}

	for {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = raw.Recv(fd, buf, 0); return err })
		if err == unix.EAGAIN {
			return // drained: the next edge will tell when more arrives
		}
		if err != nil {
			logErrno(srv.ErrFd, "recv_connfd", err)
			connClose(cs, fd)
			return
		}
		if n == 0 {
			LogLine(srv.ErrFd, "peer close conn...")
			raw.Shutdown(fd, unix.SHUT_WR)
			connClose(cs, fd)
			return
		}
		if err := sendOrKeep(c, fd, buf[:n]); err != nil {
			logErrno(srv.ErrFd, "send_connfd", err)
			connClose(cs, fd)
			return
		}
		if c.pending != nil {
			// The peer reads slower than it writes: hold off reading until it catches up.
			if err := setEvents(epollFd, unix.EPOLL_CTL_MOD, fd, unix.EPOLLOUT|unix.EPOLLET); err != nil {
				logErrno(srv.ErrFd, "modevent_epollfd", err)
				connClose(cs, fd)
			}
			return
		}
	}
}

func serveEpollET(srv *Server) int {
	// step: prepare the listener
	if err := unix.SetNonblock(srv.ListenFd, true); err != nil {
		logErrno(srv.ErrFd, "setnonblock_listenfd", err)
		return -1
	}
	bufSize, err := unix.GetsockoptInt(srv.ListenFd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		logErrno(srv.ErrFd, "getsockopt_listenfd", err)
		return -1
	}
	buf := make([]byte, bufSize)
	// step: create the epoll instance
	epollFd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		logErrno(srv.ErrFd, "create_epollfd", err)
		return -1
	}
	// step: watch the listener and the stop
	// The stop eventfd is level-triggered: it stays readable once written.
	if err = setEvents(epollFd, unix.EPOLL_CTL_ADD, srv.ListenFd, unix.EPOLLIN|unix.EPOLLET); err == nil {
		err = setEvents(epollFd, unix.EPOLL_CTL_ADD, srv.StopFd, unix.EPOLLIN)
	}
	if err != nil {
		logErrno(srv.ErrFd, "addevent_epollfd", err)
		unix.Close(epollFd)
		return -1
	}

	// step: set up
	var acc acceptor
	acc.open(unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	var cs connTable
	events := make([]unix.EpollEvent, MaxEvent)
	// step: clean up (deferred)
	defer func() {
		for fd := range cs.tab {
			if cs.tab[fd] != nil {
				connClose(&cs, fd)
			}
		}
		unix.Close(epollFd)
	}()

	// step: wait
	var slice timeSlice
	for {
		slice.yield() // Go only: see timeSlice
		var nfds int
		// Paused at the descriptor limit: accepting again after a while at most.
		timeout := -1
		if acc.paused {
			timeout = acceptPauseMs
		}
		err := ignoringEINTR(func() (err error) { nfds, err = epollWait(epollFd, events, timeout); return err })
		if err != nil {
			logErrno(srv.ErrFd, "wait_epollfd", err)
			return -1
		}
		for _, ev := range events[:nfds] {
			fd := int(ev.Fd)
			switch {
			// step: the stop
			case fd == srv.StopFd:
				return 0
			// step: dispatch
			case fd == srv.ListenFd:
				epollETAcceptAll(srv, &acc, epollFd, &cs)
			case fd < len(cs.tab) && cs.tab[fd] != nil:
				echoStream(srv, epollFd, &cs, fd, buf)
			}
		}
		// A connection closed, or the pause is over: accept what waits in the queue.
		if nfds == 0 {
			slice.rested() // Go only: see timeSlice
		}
		if acc.paused && (nfds == 0 || cs.closed > 0) {
			acc.paused = false
			epollETAcceptAll(srv, &acc, epollFd, &cs)
		}
		cs.closed = 0
	}
}
