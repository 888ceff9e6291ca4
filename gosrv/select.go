//go:build linux

package gosrv

// select.go - I/O multiplexing with select(2) (seed: IO多路复用, select named without code).
//
// One thread hands the kernel a bitmap of descriptors (fd_set) and sleeps until one of them
// is readable; select overwrites the bitmap with the ready ones, so it is rebuilt from the
// set of open connections before every call, and the kernel scans every bit below maxfd+1
// each time. The bitmap has FD_SETSIZE (1024) bits: a descriptor number at or above it
// cannot be watched at all (FdSet.Set would index past the array), so such a connection is
// refused with a log line and closed. Ready descriptors are served in this order: stop,
// listener, then connections by ascending descriptor number. Go only: raw.* are the calls
// that cannot wait (rawcalls.go), slice.yield the scheduler's time slice (timeSlice in
// common.go). C twin: csrc/select.c.

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// logBeyond writes "fd N beyond FD_SETSIZE: WHAT", the same line as in C.
func logBeyond(errFd, fd int, what string) {
	LogLine(errFd, "fd "+strconv.Itoa(fd)+" beyond FD_SETSIZE: "+what)
}

func serveSelect(srv *Server) int {
	// step: check the limit
	if srv.ListenFd >= unix.FD_SETSIZE || srv.StopFd >= unix.FD_SETSIZE {
		fd := srv.StopFd
		if srv.ListenFd >= unix.FD_SETSIZE {
			fd = srv.ListenFd
		}
		logBeyond(srv.ErrFd, fd, "cannot select")
		return -1
	}

	// step: set up
	var conns [unix.FD_SETSIZE]bool // the open connections, by descriptor number
	// Go only: conns[top:] is all false, so the loops stop there. C's fdset grows to the
	// highest descriptor it has held and its loops stop at its size; without a bound Go
	// would scan all 1024 entries twice per turn (compare/cmd/benchreport/README.md,
	// "select's scan", has what that cost).
	top := 0
	var rset unix.FdSet
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	status := 0

	// step: fill the bitmap
	var slice timeSlice
	for {
		slice.yield() // Go only: see timeSlice

		// select left only the ready bits last time: start again from every descriptor.
		rset.Zero()
		if !acc.paused { // paused at the descriptor limit: the listener is not watched
			rset.Set(srv.ListenFd)
		}
		rset.Set(srv.StopFd)
		maxFd := max(srv.ListenFd, srv.StopFd)
		for fd, open := range conns[:top] {
			if open {
				rset.Set(fd)
				maxFd = max(maxFd, fd)
			}
		}

		// step: wait
		// A failed select leaves rset as it was: retrying after EINTR is safe. The call is
		// pselect6 with no signal mask, the system call glibc's select makes on x86-64, so
		// that both servers make the same calls; without a mask it is select.
		var pause *unix.Timespec
		if acc.paused {
			pause = &unix.Timespec{Nsec: acceptPauseMs * 1000000}
		}
		var nready int
		err := ignoringEINTR(func() (err error) { nready, err = unix.Pselect(maxFd+1, &rset, nil, nil, pause, nil); return err })
		if err != nil {
			logErrno(srv.ErrFd, "select", err)
			status = -1
			break
		}

		// step: the stop
		if rset.IsSet(srv.StopFd) {
			break
		}

		// step: accept
		if rset.IsSet(srv.ListenFd) {
			connFd, peer := acceptConn(srv, &acc)
			if connFd >= 0 {
				logNewConn(srv.OutFd, peer, false)
				if connFd >= unix.FD_SETSIZE {
					// select cannot watch it; waiting for it in a blocking recv would stall
					// everyone else. Refuse it: the client sees end of stream.
					logBeyond(srv.ErrFd, connFd, "close conn")
					raw.Close(connFd)
				} else {
					conns[connFd] = true
					top = max(top, connFd+1)
				}
			}
		}

		// step: serve
		// Readable includes end of stream and a reset: recv reports it, echoOnce closes.
		closed := 0
		for fd := 0; fd < top && fd <= maxFd; fd++ {
			if conns[fd] && rset.IsSet(fd) {
				conns[fd] = false
				echoOnce(srv, fd)
				closed++
			}
		}
		// A connection closed, or the pause is over: watch the listener again.
		if nready == 0 {
			slice.rested() // Go only: see timeSlice
		}
		if nready == 0 || closed > 0 {
			acc.paused = false
		}
	}

	// step: clean up
	for fd, open := range conns[:top] {
		if open {
			unix.Close(fd)
		}
	}
	return status
}
