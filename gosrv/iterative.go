//go:build linux

package gosrv

// iterative.go - blocking I/O, iterative server (seed: 迭代模式 + 阻塞IO).
//
// One loop accepts a connection and serves it to the end before accepting the next, so a
// client that connects and says nothing holds every other client in the listen queue:
// connections are answered strictly in the order they were accepted. Both phases of a recv
// block this one thread. Go only: raw.* are the calls that cannot wait (rawcalls.go),
// slice.yield the scheduler's time slice (timeSlice in common.go). C twin:
// csrc/iterative.c.

import "golang.org/x/sys/unix"

func serveIterative(srv *Server) int {
	// step: set up
	var acc acceptor
	acc.open(unix.SOCK_CLOEXEC)

	var slice timeSlice
	var connFd int
	for {
		slice.yield() // Go only: see timeSlice

		// step: accept
		// accept blocks (in poll, so that a stop can wake it: acceptBlocking).
		if connFd = acceptBlocking(srv, &acc); connFd < 0 {
			break
		}

		// step: wait
		// Serve this client completely; nobody else is served meanwhile.
		ready, err := waitReadable(connFd, srv.StopFd)
		if ready <= 0 {
			raw.Close(connFd)
			if ready == 0 {
				break // a stop
			}
			logErrno(srv.ErrFd, "poll_connfd", err)
			continue
		}
		// step: serve
		echoOnce(srv, connFd)
	}

	// step: stop
	// Ended by a stop (acceptStopped, or while a client was waited for) or a failed poll.
	if connFd == acceptFailed {
		return -1
	}
	return 0
}
