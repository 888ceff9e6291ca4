//go:build linux

package gosrv

// fork.go - blocking I/O, one process per connection (seed: 多进程 + 阻塞IO).
//
// The parent accepts and starts a process for each connection; the process serves that one
// connection with blocking calls and exits, so a stalled client holds only its own process.
//
// How it maps to csrc/fork.c: the same loop (a pidfd per child in the poll set, each child
// reaped by its pid as it exits: no SIGCHLD handler, no zombie; at stop the shared eventfd
// ends every child) and the same fork, one clone3(2) call with CLONE_CLEAR_SIGHAND (every
// handled signal back to its default in the child, so a signal to one child ends that
// child only) and CLONE_PIDFD. Where C's child is ordinary C code, Go's runs in a copy of a
// multithreaded runtime and so is written apart, on raw system calls: fork_child.go.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// children is the parent's poll set: [0] listener, [1] stop, then one pidfd per live child.
type children struct {
	pfds []unix.PollFd
	pids []int // pids[i] belongs to pfds[i]; the first two are unused
}

// reap waits for child i (it has exited, or is told to by the stop eventfd) and drops it.
func (ch *children) reap(i int) {
	var ws unix.WaitStatus
	ignoringEINTR(func() (err error) { _, err = unix.Wait4(ch.pids[i], &ws, 0, nil); return err })
	if ch.pfds[i].Fd >= 0 {
		unix.Close(int(ch.pfds[i].Fd))
	}
	last := len(ch.pfds) - 1
	ch.pfds[i], ch.pids[i] = ch.pfds[last], ch.pids[last]
	ch.pfds, ch.pids = ch.pfds[:last], ch.pids[:last]
}

// startChild is C's fork_child(&pidfd) and serve_child: it fills c for the child and
// clones; the child serves connFd and exits. It returns the child's pid and pidfd.
func startChild(c *forkChild, srv *Server, connFd int) (pid, pidFd int, err error) {
	c.connFd, c.stopFd, c.outFd, c.errFd = connFd, srv.StopFd, srv.OutFd, srv.ErrFd
	c.pidFd = -1
	c.args = cloneArgs{
		flags:      unix.CLONE_PIDFD | unix.CLONE_CLEAR_SIGHAND,
		pidfd:      uint64(uintptr(unsafe.Pointer(&c.pidFd))),
		exitSignal: uint64(unix.SIGCHLD),
	}
	pid, errno := cloneChild(c)
	if errno != 0 {
		return -1, -1, errno
	}
	return pid, int(c.pidFd), nil
}

func serveFork(srv *Server) int {
	ch := &children{
		pfds: []unix.PollFd{
			{Fd: int32(srv.ListenFd), Events: unix.POLLIN},
			{Fd: int32(srv.StopFd), Events: unix.POLLIN},
		},
		pids: []int{0, 0},
	}
	child := new(forkChild)
	var slice timeSlice
	status := 0

	for {
		slice.yield() // Go only: see timeSlice

		if _, err := poll(ch.pfds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			logErrno(srv.ErrFd, "poll_listenfd", err)
			status = -1
			break
		}
		if ch.pfds[1].Revents != 0 {
			break
		}
		// A pidfd turns readable when its process exits: reap it now, no zombie stays.
		for i := len(ch.pfds) - 1; i >= 2; i-- {
			if ch.pfds[i].Revents != 0 {
				ch.reap(i)
			}
		}
		if ch.pfds[0].Revents == 0 {
			continue
		}

		connFd, peer, err := accept4(srv.ListenFd, unix.SOCK_CLOEXEC)
		if err != nil {
			logErrno(srv.ErrFd, "accept_listenfd", err)
			continue
		}
		logNewConn(srv.OutFd, peer, true)

		pid, pidFd, err := startChild(child, srv, connFd)
		if err != nil {
			logErrno(srv.ErrFd, "fork", err)
			unix.Close(connFd)
			continue
		}

		unix.Close(connFd) // the child has its own copy
		ch.pfds = append(ch.pfds, unix.PollFd{Fd: int32(pidFd), Events: unix.POLLIN})
		ch.pids = append(ch.pids, pid)
	}

	// The stop eventfd is shared with the children: each leaves its wait and exits.
	for len(ch.pfds) > 2 {
		ch.reap(len(ch.pfds) - 1)
	}
	return status
}
