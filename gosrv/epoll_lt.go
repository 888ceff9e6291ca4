//go:build linux

package gosrv

// epoll_lt.go - I/O multiplexing with epoll, level-triggered (seed: epoll多路复用IO, LT模式).
//
// One thread waits in epoll_wait for any of its descriptors to become ready, then makes the
// call that will not block: accept on the listener, the one-shot echo on a connection.
// Level-triggered means epoll reports a descriptor for as long as it stays ready, so an
// event that is not handled now comes back on the next epoll_wait. Go only: raw.* are the
// calls that cannot wait (rawcalls.go), slice.yield the scheduler's time slice (timeSlice
// in common.go). C twin: csrc/epoll_lt.c.

import "golang.org/x/sys/unix"

func addEvent(epollFd, fd int) error {
	return raw.EpollCtl(epollFd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

func serveEpollLT(srv *Server) int {
	// step: create the epoll instance
	epollFd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		logErrno(srv.ErrFd, "create_epollfd", err)
		return -1
	}
	// step: watch the listener and the stop
	if err := addEvent(epollFd, srv.ListenFd); err == nil {
		err = addEvent(epollFd, srv.StopFd)
	}
	if err != nil {
		logErrno(srv.ErrFd, "addevent_epollfd", err)
		unix.Close(epollFd)
		return -1
	}

	// step: set up
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	var conns fdSet
	events := make([]unix.EpollEvent, MaxEvent)
	status := 0
	// step: clean up (deferred)
	defer func() {
		conns.closeAll()
		unix.Close(epollFd)
	}()

	// step: wait
	var slice timeSlice
	for {
		slice.yield() // Go only: see timeSlice
		var nfds int
		// Paused at the descriptor limit: not watching the listener, for a while at most.
		timeout := -1
		if acc.paused {
			timeout = acceptPauseMs
		}
		err := ignoringEINTR(func() (err error) { nfds, err = epollWait(epollFd, events, timeout); return err })
		if err != nil {
			logErrno(srv.ErrFd, "wait_epollfd", err)
			status = -1
			return status
		}

		closed := 0
		for _, ev := range events[:nfds] {
			fd := int(ev.Fd)

			// step: the stop
			if fd == srv.StopFd {
				return status
			}

			// step: accept
			if fd == srv.ListenFd {
				connFd, peer := acceptConn(srv, &acc)
				if connFd == acceptPaused {
					if err := raw.EpollCtl(epollFd, unix.EPOLL_CTL_DEL, srv.ListenFd, nil); err != nil {
						logErrno(srv.ErrFd, "delevent_epollfd", err)
						return -1
					}
				}
				if connFd < 0 {
					continue
				}
				logNewConn(srv.OutFd, peer, false)
				if err := addEvent(epollFd, connFd); err != nil {
					logErrno(srv.ErrFd, "addevent_epollfd", err)
					raw.Close(connFd)
					continue
				}
				conns.add(connFd)
				continue
			}

			// step: serve
			// A connection is ready. EPOLLERR or EPOLLHUP without EPOLLIN (a reset peer)
			// counts too: the seed skipped such events, and level-triggered epoll reported
			// them again on every call, a busy loop on a descriptor never closed. recv
			// returns the error, echoOnce logs it and closes.
			conns.del(fd)
			echoOnce(srv, fd)
			closed++
		}

		// A connection closed, or the pause is over: watch the listener again.
		if nfds == 0 {
			slice.rested() // Go only: see timeSlice
		}
		if acc.paused && (nfds == 0 || closed > 0) {
			acc.paused = false
			if err := addEvent(epollFd, srv.ListenFd); err != nil {
				logErrno(srv.ErrFd, "addevent_epollfd", err)
				return -1
			}
		}
	}
}
