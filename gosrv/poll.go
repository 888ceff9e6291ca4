//go:build linux

package gosrv

// poll.go - I/O multiplexing with poll(2) (seed: IO多路复用, poll named without code).
//
// select's loop with an array of struct pollfd instead of a bitmap: no FD_SETSIZE limit,
// and the kernel writes results into revents, leaving events alone, so the array is built
// once and kept, not rebuilt before every call. Like select, every call still copies the
// whole array into the kernel and scans it: the cost grows with the number of connections,
// not with the number that are ready, which is what epoll removes. The array is [0]
// listener, [1] stop eventfd, then one slot per connection; a served connection's slot
// takes the last one's place. Go only: slice.yield is the scheduler's time slice (timeSlice
// in common.go). C twin: csrc/poll.c.

import "golang.org/x/sys/unix"

func servePoll(srv *Server) int {
	// step: build the array
	pfds := make([]unix.PollFd, 0, 64)
	pfds = append(pfds,
		unix.PollFd{Fd: int32(srv.ListenFd), Events: unix.POLLIN}, // [0]
		unix.PollFd{Fd: int32(srv.StopFd), Events: unix.POLLIN},   // [1]
	)
	// step: set up
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)
	status := 0

	// step: wait
	var slice timeSlice
	for {
		slice.yield() // Go only: see timeSlice
		// Paused at the descriptor limit: the listener's slot is ignored (a negative fd).
		pfds[0].Fd = int32(srv.ListenFd)
		timeout := -1
		if acc.paused {
			pfds[0].Fd, timeout = -1, acceptPauseMs
		}
		var nready int
		err := ignoringEINTR(func() (err error) { nready, err = poll(pfds, timeout); return err })
		if err != nil {
			logErrno(srv.ErrFd, "poll", err)
			status = -1
			break
		}

		// step: the stop
		if pfds[1].Revents != 0 {
			break
		}

		// step: accept
		if pfds[0].Revents != 0 {
			connFd, peer := acceptConn(srv, &acc)
			if connFd >= 0 {
				logNewConn(srv.OutFd, peer, false)
				// Its Revents start at 0: it is first polled in the next round.
				pfds = append(pfds, unix.PollFd{Fd: int32(connFd), Events: unix.POLLIN})
			}
		}

		// step: serve
		// Any Revents counts, POLLIN or POLLERR/POLLHUP (a reset peer): recv reports it and
		// echoOnce closes. The slot that moves into i was polled too, so i is looked at
		// again before moving on.
		closed := 0
		for i := 2; i < len(pfds); {
			if pfds[i].Revents != 0 {
				connFd := int(pfds[i].Fd)
				last := len(pfds) - 1
				pfds[i] = pfds[last]
				pfds = pfds[:last]
				echoOnce(srv, connFd)
				closed++
			} else {
				i++
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
	for _, pfd := range pfds[2:] {
		unix.Close(int(pfd.Fd))
	}
	return status
}
